"""The response builder: speech and SSML escaping, reprompts, cards, directives, transactions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skills_sdk import Response, ask, empty, say, ssml
from skills_sdk.response import escape_ssml, ssml_to_text


def test_say_ends_the_session_with_escaped_ssml():
    body = say("ham & pineapple <large>").to_dict()
    assert body["outputSpeech"] == {"type": "SSML", "ssml": "<speak>ham &amp; pineapple &lt;large&gt;</speak>"}
    assert body["shouldEndSession"] is True


def test_ask_keeps_the_session_open_with_a_reprompt():
    body = ask("What size?", "Small, medium or large?").to_dict()
    assert body["shouldEndSession"] is False
    assert body["reprompt"]["outputSpeech"]["ssml"] == "<speak>Small, medium or large?</speak>"


def test_fluent_chain_reads_like_speech():
    r = say("Large it is.").ask("Which topping?").card("Order", "1 large")
    assert r.speech == "Large it is." and r.reprompt_text == "Which topping?"
    assert r.card_data == {"type": "Simple", "title": "Order", "content": "1 large"}


def test_raw_ssml_is_kept_and_read_back_as_text():
    r = ssml('Hello <break time="1s"/> <emphasis>world</emphasis> &amp; co')
    assert r.to_dict()["outputSpeech"]["ssml"].startswith("<speak>Hello <break")
    assert r.speech == "Hello world & co"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("a & b", "a &amp; b"), ("5 < 6", "5 &lt; 6"), ('say "hi"', "say &quot;hi&quot;"), ("it's", "it&#x27;s")],
)
def test_escape_ssml(text, escaped):
    assert escape_ssml(text) == escaped
    assert ssml_to_text(f"<speak>{escaped}</speak>") == text


def test_standard_card_with_images():
    card = say("x").card("T", "body", small_image="https://i/s.png").card_data
    assert card == {"type": "Standard", "title": "T", "text": "body", "image": {"smallImageUrl": "https://i/s.png"}}


def test_audio_play_directive_and_audio_only_rendering():
    r = say("Playing.").play("https://cdn/x.mp3", token="t1", offset_ms=1500)
    d = r.directives[0]
    assert d["type"] == "AudioPlayer.Play" and d["playBehavior"] == "REPLACE_ALL"
    assert d["audioItem"]["stream"] == {"url": "https://cdn/x.mp3", "token": "t1", "offsetInMilliseconds": 1500}
    assert set(r.to_dict(audio_only=True)) == {"directives"}


def test_enqueue_needs_the_previous_token():
    with pytest.raises(ValueError, match="expected_previous_token"):
        empty().play("https://cdn/x.mp3", token="t2", behavior="ENQUEUE")
    d = empty().play("https://cdn/x.mp3", token="t2", behavior="ENQUEUE", expected_previous_token="t1").directives[0]
    assert d["audioItem"]["stream"]["expectedPreviousToken"] == "t1"


@pytest.mark.parametrize("behavior", ["REPLACE_ALL", "REPLACE_ENQUEUED"])
def test_a_previous_token_without_enqueue_is_refused_rather_than_cutting_off_the_playing_stream(behavior):
    with pytest.raises(ValueError, match="behavior='ENQUEUE'"):
        empty().play("https://cdn/x.mp3", token="t2", behavior=behavior, expected_previous_token="t1")


@pytest.mark.parametrize(("kw", "error"), [
    ({"token": ""}, "token must be a string of 1 to 1024"),
    ({"token": "t" * 1025}, "token must be a string of 1 to 1024"),
    ({"token": None}, "token must be a string"),
    ({"token": "t", "offset_ms": -1}, "offset_ms must be 0 or more"),
])
def test_a_stream_alexa_would_refuse_is_refused_naming_the_argument(kw, error):
    with pytest.raises(ValueError, match=error):
        empty().play("https://cdn/x.mp3", **kw)


def test_audio_stream_must_be_https():
    with pytest.raises(ValueError, match="https"):
        empty().play("http://cdn/x.mp3", token="t")


@pytest.mark.parametrize(
    ("build", "directive"),
    [
        (lambda r: r.delegate(), {"type": "Dialog.Delegate"}),
        (lambda r: r.elicit_slot("size"), {"type": "Dialog.ElicitSlot", "slotToElicit": "size"}),
        (lambda r: r.confirm_slot("size"), {"type": "Dialog.ConfirmSlot", "slotToConfirm": "size"}),
        (lambda r: r.confirm_intent(), {"type": "Dialog.ConfirmIntent"}),
    ],
)
def test_dialog_directives_keep_the_session_open(build, directive):
    r = build(say("Which size?"))
    assert r.directives == [directive]
    assert r.to_dict()["shouldEndSession"] is False


def test_stop_and_clear_queue_directives():
    r = empty().stop_audio().clear_queue(stop_current=True)
    assert [d["type"] for d in r.directives] == ["AudioPlayer.Stop", "AudioPlayer.ClearQueue"]
    assert r.directives[1]["clearBehavior"] == "CLEAR_ALL"


def test_transaction_tag_keeps_exact_amounts():
    tx = say("Done.").transaction("order", "ORD-1", "23.50", "usd").transaction_tag
    assert tx.amount == Decimal("23.50") and tx.currency == "USD"
    assert tx.to_dict() == {"kind": "order", "reference": "ORD-1", "amount": "23.50", "currency": "USD",
                            "status": "completed"}


@pytest.mark.parametrize(("amount", "currency", "error"), [(1.1, "USD", TypeError), ("abc", "USD", ValueError),
                                                            ("1", "DOLLARS", ValueError)])
def test_transaction_rejects_bad_values(amount, currency, error):
    with pytest.raises(error):
        say("x").transaction("order", "r", amount, currency)


def test_empty_response_leaves_session_end_to_platform():
    assert empty().to_dict() == {}


def test_directive_must_have_a_type():
    with pytest.raises(TypeError, match="type"):
        Response().directive({"no": "type"})



def _ssml_to_text_with_html(markup: str) -> str:  # what ssml_to_text did before it left html unloaded
    import html
    import re

    if "<" not in markup and "&" not in markup:
        return markup.strip()
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]*>", " ", markup))).strip()


@given(st.text())
def test_ssml_escaping_and_reading_back_agree_with_the_html_module(text):
    import html

    assert escape_ssml(text) == html.escape(text, quote=True)
    for markup in (text, f"<speak>{text}</speak>", f"<speak>{escape_ssml(text)}</speak>"):
        assert ssml_to_text(markup) == _ssml_to_text_with_html(markup)
