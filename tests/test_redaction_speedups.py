"""The redactor's C twins (``_speedups.c``) against the Python code they mirror: same results on every input."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from skills_sdk.transcripts.redaction import Redactor, cards, emails, numbers, phones, speedups, text
from skills_sdk.transcripts.redaction.text import view as view_of

sys.path.insert(0, str(FIXTURES / "pii"))
from scoring import ADVERSARIAL, CORPUS, HELDOUT, load  # noqa: E402

needs_twins = pytest.mark.skipif(not speedups.available(), reason="the C twins were not built")
REDACTORS = [Redactor(), Redactor(kinds=["CARD", "PHONE", "EMAIL"]), Redactor(kinds=["CARD"]), Redactor(kinds=["PHONE"])]
LOCALES = ["en-US", "en-GB", "de-DE", "en-IN", "en-AU", "fr-FR", None]


@needs_twins
def test_the_c_twins_share_the_python_constants() -> None:
    from skills_sdk.transcripts.redaction import _speedups

    assert (_speedups.MAX_GAP, _speedups.MIN_DIGITS, _speedups.MIN_CARD_DIGITS, _speedups.CUE_WINDOW) == (
        numbers._MAX_GAP, numbers.MIN_DIGITS, cards.MIN_CARD_DIGITS, numbers._CUE_WINDOW,
    )  # fmt: skip


@pytest.mark.parametrize(("pure", "expected"), [("1", "False"), ("", "True")])
@needs_twins
def test_the_environment_switch_chooses_the_python_code(pure: str, expected: str) -> None:
    env = {**os.environ, speedups.PURE_ENV: pure}
    probe = "from skills_sdk.transcripts.redaction import speedups; print(speedups.compiled())"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


@pytest.fixture
def both():
    """A function that runs ``work`` with the C twins and with the Python code, and returns both results."""

    def run(work):
        speedups.use(True)
        compiled = work()
        speedups.use(False)
        pure = work()
        return compiled, pure

    was = speedups.compiled()
    yield run
    speedups.use(was)


def readings(text: str) -> tuple:
    """What every twin gives for ``text``: the survey, the sequences with and without digit words."""
    view = view_of(text)

    def read(words: bool) -> list:
        return [(seq.plus, seq.groups, seq.digits, seq.offsets) for seq in speedups.sequences(view, words)]

    return speedups.survey(view), read(True), read(False)


def agree(both, text: str, locale: str | None, redactors: list[Redactor] = REDACTORS) -> None:
    compiled, pure = both(
        lambda: (readings(text), [sorted(redactor.spans(text, locale=locale)) for redactor in redactors])
    )
    assert compiled == pure, (text, locale)


@needs_twins
@pytest.mark.parametrize("path", [CORPUS, ADVERSARIAL, HELDOUT], ids=["corpus", "adversarial", "heldout"])
def test_twins_agree_on_every_fixture_line_in_several_locales(both, path) -> None:
    for row in load(path):
        for locale in {row["locale"], "en-US", "de-DE", "en-GB"}:
            agree(both, row["text"], locale)


# Pieces of text the rules read, joined at random: digits, digit words, separators, "+" forms, cue and
# unit words, e-mail anchors, Unicode digits and spaces, sentence ends, and words the cue window cuts.
PIECES = [
    "0", "1", "4", "5", "00", "0100", "415", "555", "4111", "1111", "2", "3", "7", "9", "12", "123", "1234",
    "12345", "555-0100", "4155550100", "4111111111111111", "378282246310005", "6011 0009 9013 9424",
    "5555-5555-5555-4444", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero",
    "oh", "o", "double", "triple", "hundred", "thousand", "plus", "vier", "eins", "null", "fünf", "doppel",
    "doppelte", "tausend", "+", "+1", "+44", "(", ")", "(0)", "@", "＠", "at", "dot", "punkt", "(at)", "[at]",
    "jane", "gmail", "com", "de", "x", "a", "order", "tracking", "card", "call", "dollars", "st", "street", "42",
    "١", "٤", "４", "\u00a0", "\u200b", ".", ",", "/", "_", "-", "  ", "..", ". ", "\x00", "Four", "ONE",
    "one_two", "5_five", "four-5", "x5", "5x", "reorder", "isbn", "ref", "flight", "pin", "x" * 35,
    "a" * 20 + "order", "(order)", "order:", "km", "percent", "#", "ORD", "2012-01-02", "08:00", "192.168.1.1",
    "37.7749", "-122.4194",
]  # fmt: skip
JOINS = [" ", " ", " ", "", "-", ".", ", ", "/", "  ", "_", "\u00a0", ".  ", "--", "  -  "]


def generated(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        text = "".join(rng.choice(PIECES) + rng.choice(JOINS) for _ in range(rng.randint(1, 30)))
        if rng.random() < 0.3:
            text = text.upper() if rng.random() < 0.5 else text.title()
        yield text, rng.choice(LOCALES)


@needs_twins
@pytest.mark.parametrize("seed", range(4))
def test_twins_agree_on_100_000_generated_lines(both, seed: int) -> None:
    for line, locale in generated(seed, 25_000):
        agree(both, line, locale, REDACTORS[:1])


@needs_twins
@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 ,./_()-+@#:;'abdefhlnoprstuvwxz\u00a0٤４\x00")), max_size=80))
def test_twins_agree_on_any_text_of_the_characters_rules_read(text: str) -> None:
    was = speedups.compiled()
    try:
        results = []
        for compiled in (True, False):
            speedups.use(compiled)
            results.append((readings(text), sorted(REDACTORS[0].spans(text, locale="en-US"))))
        assert results[0] == results[1]
    finally:
        speedups.use(was)


HOSTILE = [
    ("a." * 20000 + " @ x") * 2, "4-/-1 ,_1 \u200b1 " * 4096, "1 " * 32768, "1234567 x " * 6554, "four one five " * 4681,
    "double " * 9362, "+" + "1-" * 32767, "(0)" * 21845, "4111 " * 13107, "order 4111 1111 1111 1111 " * 2520,
]  # fmt: skip


@needs_twins
@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_twins_agree_on_hostile_fields(both, text: str) -> None:
    compiled, pure = both(lambda: REDACTORS[0].redact(text))
    assert compiled == pure


@needs_twins
def test_c_hands_what_it_does_not_read_to_python(both) -> None:
    from skills_sdk.transcripts.redaction import _speedups

    # Not a view (a caller's own text, not ASCII): the C twins call the Python code.
    text = "ruf ４１５ 555 0100 an, Karte 4111 1111 1111 1111"
    assert [s.groups for s in _speedups.sequences(text)] == [s.groups for s in numbers.sequences(text)]
    seq = numbers.sequences(view_of(text))[1]
    for find in (_speedups.find_cards, cards.find_cards):
        spans: list = []
        find(text, seq, [False] * len(seq.groups), spans)
        assert spans == [(27, 46, "CARD")]
    budget = phones.Budget()
    seq = numbers.sequences(view_of(text))[0]
    spans = []
    _speedups.find_phones(text, seq, [False] * len(seq.groups), "DE", budget, spans)
    assert spans == [(4, 16, "PHONE")]


# --- E-mails: the C twin reads every view; the Python code only those emails.find_hinted's test lets through

LOCALS = ["jane", "j", "doe", "j.doe", "x_1", "a" * 63, "a" * 64, "a" * 65, '"john doe"', '"' + "q" * 62 + '"',
          '"' + "q" * 63 + '"', '"a\nb"', "!#$%", "me", "i", "we", "look", "Jane"]  # fmt: skip
LOCAL_JOINS = [" dot ", " underscore ", "  dash  ", " unterstrich ", "    punkt ", " minus", "xdot ", "-", "."]
ANCHORS = [
    "@", " @ ", "  @  ", "   @", "＠", " at ", " at  ", "(at)", "( at  )", "(  at   )", "[at]", "{ at }", "<at>", "(at]",
]  # fmt: skip
LABELS = ["gmail", "x", "example", "mail-box", "a-", "1", "b" * 62, "c" * 63, "d" * 64, "localhost", "3"]
DOMAIN_JOINS = [
    ".", " dot ", " punkt ", "(dot)", " [punkt] ", "  (dot)  ", "   (dot)", "   dot   ", "    dot ", "dot", "..",
]  # fmt: skip
ENDINGS = ["com", "de", "at", "io", "x", "50", "c0m", "org", "park", "email", ""]


def addresses(seed: int, count: int):
    """Text around generated e-mail addresses, written and spoken, right and nearly right."""
    rng = random.Random(seed)
    for _ in range(count):
        local = rng.choice(LOCALS)
        for _ in range(rng.randint(0, 5) if rng.random() < 0.3 else 0):
            local += rng.choice(LOCAL_JOINS) + rng.choice(LOCALS)
        domain = rng.choice(LABELS)
        for _ in range(rng.randint(0, 9)):
            domain += rng.choice(DOMAIN_JOINS) + rng.choice(LABELS)
        address = local + rng.choice(ANCHORS) + domain + rng.choice(DOMAIN_JOINS) + rng.choice(ENDINGS)
        before = rng.choice(["", "mail ", "meet me", "x@", "(at) ", "  "])
        after = rng.choice(["", ".", " now", "@x", "-"])
        yield before + address + after


def email_spans(find, view: str) -> list:
    spans: list = []
    find(view, spans)
    return spans


@needs_twins
@pytest.mark.parametrize("seed", range(2))
def test_email_twins_agree_on_generated_addresses(seed: int) -> None:
    from skills_sdk.transcripts.redaction import _speedups

    found = 0
    for address in addresses(seed, 20_000):
        for seen in (view_of(address), address):
            compiled = email_spans(_speedups.find_emails, seen)
            assert compiled == email_spans(emails.find_emails, seen), seen
            found += len(compiled)
    assert found > 10_000  # most generated texts hold an address, so both twins are compared on finding them


@needs_twins
@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ajdotpunkcm@ .()[]{}<>"-_!1#\r\n\x00')), max_size=80))
def test_email_twins_agree_on_any_text_of_the_characters_they_read(text: str) -> None:
    from skills_sdk.transcripts.redaction import _speedups

    assert email_spans(_speedups.find_emails, text) == email_spans(emails.find_emails, text)


@needs_twins
@settings(max_examples=2000, deadline=None)
@given(st.text())
def test_view_twins_agree_on_any_text(written: str) -> None:
    from skills_sdk.transcripts.redaction import _speedups

    assert _speedups.view(written) == text.view(written)


@needs_twins
def test_view_twins_agree_on_every_fixture_line() -> None:
    from skills_sdk.transcripts.redaction import _speedups

    for path in (CORPUS, ADVERSARIAL, HELDOUT):
        for row in load(path):
            assert _speedups.view(row["text"]) == text.view(row["text"]), row["text"]
