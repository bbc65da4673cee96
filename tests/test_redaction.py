"""Tests for skills_sdk.transcripts.redaction: what is replaced, what is left alone, custom kinds."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skills_sdk.transcripts.redaction import DEFAULT_REDACTOR, KINDS, Redaction, Redactor

WORDS = ["please", "my", "number", "is", "thanks", "call", "the", "pizza", "ok", "and", "then"]
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def redacted(text: str) -> Redaction:
    return DEFAULT_REDACTOR.redact(text)


def luhn_complete(prefix: str) -> str:
    """Append the check digit that makes ``prefix`` Luhn-valid."""
    for check in "0123456789":
        candidate = prefix + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one check digit always fits")


# --- Tables of positives and negatives ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card is 4111 1111 1111 1111 thanks", "my card is [CARD] thanks"),
        ("card 4111-1111-1111-1111", "card [CARD]"),
        ("4111111111111111", "[CARD]"),
        ("amex 3782 822463 10005", "amex [CARD]"),
        ("4111 1111 1111 1111 12 25", "[CARD] 12 25"),
        ("4111 1111 1111 1111 5500 0000 0000 0004", "[CARD] [CARD]"),
        ("four one one one one one one one one one one one one one one one", "[CARD]"),
        ("Four, one, one, one, one one one one one one one one one one one one ok", "[CARD] ok"),
    ],
)
def test_cards_are_replaced(text: str, expected: str) -> None:
    assert redacted(text) == Redaction(expected, frozenset({"CARD"}))


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "order 1234567890123456789012",  # too long, one group
        "four one one one one one one one one one one one one one one two",
        "I want one two three pizzas",
    ],
)
def test_non_cards_are_kept(text: str) -> None:
    assert redacted(text) == Redaction(text, frozenset())


@pytest.mark.parametrize(
    "text",
    [
        "+1 415 555 0100",
        "(415) 555-0100",
        "415-555-0100",
        "415.555.0100",
        "1-415-555-0100",
        "+44 20 7946 0958",
        "+14155550100",
        "020 7946 0958",
        "four one five five five five zero one zero zero",
    ],
)
def test_phones_are_replaced(text: str) -> None:
    assert redacted(f"call me on {text} tonight") == Redaction(
        "call me on [PHONE] tonight", frozenset({"PHONE"})
    )


@pytest.mark.parametrize(
    "text",
    [
        "it costs $12.50",
        "at 7:30 tonight",
        "back in 2024 and 2025",
        "2 large pizzas",
        "order 12345",
        "ip 192.168.100.100",
        "on 2024-01-15",
        "4111 1111 1111 1112",
        "1234 5678 9012",  # twelve digits without a "+" or trunk "0": not a phone
    ],
)
def test_non_phones_are_kept(text: str) -> None:
    assert redacted(text) == Redaction(text, frozenset())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail john.smith@example.com now", "mail [EMAIL] now"),
        ("JANE+pizza@Mail.Example.co.uk", "[EMAIL]"),
        ("it's john dot smith at example dot com", "it's [EMAIL]"),
        ("jane at gmail.com please", "[EMAIL] please"),
        ("j underscore doe at mail dot example dot org", "[EMAIL]"),
    ],
)
def test_emails_are_replaced(text: str, expected: str) -> None:
    assert redacted(text) == Redaction(expected, frozenset({"EMAIL"}))


@pytest.mark.parametrize(
    "text",
    ["I'm at home. See you", "meet me at the park dot", "look at that", "email me later @ home"],
)
def test_non_emails_are_kept(text: str) -> None:
    assert redacted(text) == Redaction(text, frozenset())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I live at 1600 Pennsylvania Avenue now", "I live at [ADDRESS] now"),
        ("42 Wallaby Way, Sydney", "[ADDRESS], Sydney"),
        ("221b Baker Street", "[ADDRESS]"),
        ("350 5th Ave.", "[ADDRESS]."),
        ("deliver to 12 north main st please", "deliver to [ADDRESS] please"),
        ("5 minutes to 42 wallaby way", "5 minutes to [ADDRESS]"),
    ],
)
def test_addresses_are_replaced(text: str, expected: str) -> None:
    assert redacted(text) == Redaction(expected, frozenset({"ADDRESS"}))


@pytest.mark.parametrize(
    "text",
    ["I'm 5 minutes on my way", "a 4 lane road", "a 10 minute drive", "2 large pizzas", "a 4 way stop"],
)
def test_non_addresses_are_kept(text: str) -> None:
    assert redacted(text) == Redaction(text, frozenset())


@pytest.mark.parametrize(
    "text",
    ["37.7749, -122.4194", "37.7749 N 122.4194 W", "37.7749° N, 122.4194° W", "-33.8688,151.2093"],
)
def test_coordinates_are_replaced(text: str) -> None:
    assert redacted(f"I'm at {text} now") == Redaction("I'm at [COORDINATES] now", frozenset({"COORDINATES"}))


@pytest.mark.parametrize("text", ["pi is 3.14159", "37.77, -122.41", "97.7749, 122.4194", "version 1.2.3"])
def test_imprecise_or_impossible_coordinates_are_kept(text: str) -> None:
    assert redacted(text) == Redaction(text, frozenset())


def test_every_kind_in_one_sentence_is_reported() -> None:
    result = redacted(
        "text 415-555-0100 or a@b.io, card 4111 1111 1111 1111, 42 Wallaby Way at 37.7749, -122.4194"
    )
    assert result.text == "text [PHONE] or [EMAIL], card [CARD], [ADDRESS] at [COORDINATES]"
    assert result.kinds == frozenset(KINDS)


def test_none_gives_empty_text() -> None:
    assert redacted(None) == Redaction("", frozenset())  # type: ignore[arg-type]


def test_non_string_raises_type_error() -> None:
    with pytest.raises(TypeError, match="int"):
        DEFAULT_REDACTOR.redact(4111111111111111)  # type: ignore[arg-type]


def test_non_ascii_text_keeps_positions() -> None:
    # "İ" lower-cases to two characters; the placeholder must still land on the phone number.
    assert redacted("İstanbul: +90 212 555 0100").text == "İstanbul: [PHONE]"


# --- Choosing kinds, custom patterns, slots -------------------------------------------------------


def test_kinds_limits_the_builtin_rules() -> None:
    only_email = Redactor(kinds=["EMAIL"])
    assert only_email.redact("a@b.io 415-555-0100").text == "[EMAIL] 415-555-0100"


def test_spoken_digits_respect_kinds() -> None:
    spoken_card = "four one one one one one one one one one one one one one one one"
    assert Redactor(kinds=["PHONE"]).redact(spoken_card).text == spoken_card


def test_unknown_builtin_kind_raises() -> None:
    with pytest.raises(ValueError, match="'PASSPORT'.*built-in kinds are"):
        Redactor(kinds=["PASSPORT"])


def test_custom_pattern_is_replaced_and_reported() -> None:
    redactor = Redactor(patterns={"ORDER_ID": r"\bORD-\d{6}\b"})
    assert redactor.redact("where is ORD-123456?") == Redaction(
        "where is [ORDER_ID]?", frozenset({"ORDER_ID"})
    )


def test_custom_pattern_accepts_compiled_regex() -> None:
    redactor = Redactor(patterns={"MEMBER": re.compile(r"member \w+", re.IGNORECASE)})
    assert redactor.redact("Member Gold42 here").text == "[MEMBER] here"


def test_invalid_custom_regex_names_kind_and_error() -> None:
    with pytest.raises(ValueError, match=r"'ORDER_ID'.*not a valid regular expression: missing \)"):
        Redactor(patterns={"ORDER_ID": r"(ORD-\d+"})


@pytest.mark.parametrize("kind", ["order_id", "Order", "ORDER-ID", "_ORDER", ""])
def test_custom_kind_must_be_upper_snake(kind: str) -> None:
    with pytest.raises(ValueError, match="UPPER_SNAKE"):
        Redactor(patterns={kind: r"x"})


def test_custom_pattern_matching_empty_string_raises() -> None:
    with pytest.raises(ValueError, match="empty string"):
        Redactor(patterns={"ANY": r"\d*"})


def test_redact_slots_skips_exempt_and_keeps_none() -> None:
    redactor = Redactor(patterns={"ORDER_ID": r"\bORD-\d{6}\b"})
    slots, kinds = redactor.redact_slots(
        {"phone": "415 555 0100", "order": "ORD-123456", "ref": "ORD-654321", "time": None},
        exempt=["ref"],
    )
    assert slots == {"phone": "[PHONE]", "order": "[ORDER_ID]", "ref": "ORD-654321", "time": None}
    assert kinds == frozenset({"PHONE", "ORDER_ID"})


# --- Properties -----------------------------------------------------------------------------------

filler = st.text(alphabet=string.ascii_letters + " ,.!?'", max_size=40)


@st.composite
def cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    prefix = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    digits = luhn_complete(prefix)
    separators = draw(st.lists(st.sampled_from(["", " ", "-"]), min_size=length - 1, max_size=length - 1))
    return digits[0] + "".join(sep + digit for sep, digit in zip(separators, digits[1:], strict=True))


@settings(max_examples=200, deadline=None)
@given(before=filler, card=cards(), after=filler)
def test_generated_cards_never_survive(before: str, card: str, after: str) -> None:
    result = redacted(f"{before} {card} {after}")
    assert re.sub(r"\D", "", card) not in re.sub(r"\D", "", result.text)
    assert "CARD" in result.kinds


@settings(max_examples=200, deadline=None)
@given(before=filler, card=cards(), after=filler)
def test_generated_spoken_cards_never_survive(before: str, card: str, after: str) -> None:
    spoken = " ".join(DIGIT_WORDS[int(char)] for char in card if char.isdigit())
    # A sentence boundary ends the number: digits spoken straight on ("... zero, two") are one
    # longer number, which a Luhn-valid card no longer is (see test_non_cards_are_kept).
    result = redacted(f"{before}. {spoken}. {after}")
    assert spoken not in result.text
    assert "CARD" in result.kinds


@settings(max_examples=200, deadline=None)
@given(
    body=st.text(alphabet="0123456789", min_size=15, max_size=15),
    grouping=st.sampled_from([(4, 4, 4, 4), (16,), (4, 6, 6), (2, 8, 6)]),
)
def test_luhn_invalid_sixteen_digits_are_not_a_card(body: str, grouping: tuple[int, ...]) -> None:
    digits = next(body + check for check in "0123456789" if luhn_complete(body) != body + check)
    parts, start = [], 0
    for size in grouping:
        parts.append(digits[start : start + size])
        start += size
    result = redacted(f"reference {' '.join(parts)} please")
    assert "CARD" not in result.kinds
    assert "PHONE" not in result.kinds


@st.composite
def phones(draw: st.DrawFn) -> str:
    area = draw(st.integers(200, 999))
    exchange = draw(st.integers(200, 999))
    line = draw(st.integers(0, 9999))
    form = draw(
        st.sampled_from(["{a}-{e}-{l}", "({a}) {e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "1-{a}-{e}-{l}"])
    )
    return form.format(a=area, e=exchange, l=f"{line:04d}")


@settings(max_examples=200, deadline=None)
@given(before=filler, phone=phones(), after=filler)
def test_generated_phones_never_survive(before: str, phone: str, after: str) -> None:
    result = redacted(f"{before} {phone} {after}")
    assert re.sub(r"\D", "", phone)[-10:] not in re.sub(r"\D", "", result.text)
    assert "PHONE" in result.kinds


label = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    before=filler, local=label, domain=label, tld=st.sampled_from(["com", "org", "io", "co.uk"]), after=filler
)
def test_generated_emails_never_survive(before: str, local: str, domain: str, tld: str, after: str) -> None:
    email = f"{local}@{domain}.{tld}"
    result = redacted(f"{before} {email} {after}")
    assert email not in result.text
    assert "EMAIL" in result.kinds


@settings(max_examples=200, deadline=None)
@given(local=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3), domain=st.sampled_from(WORDS))
def test_generated_spoken_emails_never_survive(local: list[str], domain: str) -> None:
    spoken = f"{' dot '.join(local)} at {domain} dot com"
    result = redacted(f"write to {spoken} please")
    assert result == Redaction("write to [EMAIL] please", frozenset({"EMAIL"}))


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=string.ascii_letters + " ,.;:!?'\"()-", max_size=200))
def test_text_without_pii_is_unchanged(text: str) -> None:
    assert redacted(text) == Redaction(text, frozenset())
