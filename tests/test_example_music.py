"""The music example skill: search and play, the AudioPlayer queue, playback events, the Premium offer."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from example_skills import BASE_URLS
from example_skills.music import create_skill
from skills_sdk.http import PartnerSession
from skills_sdk.testing import SkillClient

MUSIC = BASE_URLS["music"]
TRACKS = [
    {"id": f"trk_{n}", "title": title, "artist": "Lena Marsh Trio", "album": "Blue Hour Sessions",
     "genre": "jazz", "duration_ms": 300000, "stream_url": f"https://cdn.tunestream.example/stream/trk_{n}.mp3"}
    for n, title in ((1, "Blue Hour"), (2, "Rain on Lenox"), (3, "Slow Brass"))
]
OFFER = {"id": "offer_premium_monthly", "plan": "premium", "name": "TuneStream Premium", "price_cents": 999,
         "currency": "USD", "billing_period": "month", "description": "Ad-free"}
PREMIUM_USER = "amzn1.ask.account.premium-listener"
FREE_USER = "amzn1.ask.account.free-listener"


@pytest.fixture
def partner(monkeypatch):
    """TuneStream, mocked: a three-track jazz catalog; subscriptions depend on the user id."""
    monkeypatch.delenv("SKILLS_PARTNER_MUSIC_URL", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, f"{MUSIC}/v1/search", json={"tracks": TRACKS})
        rsps.add(responses.GET, f"{MUSIC}/v1/playlists/focus/tracks", json={"playlist": {}, "tracks": TRACKS[::-1]})
        rsps.add(responses.GET, f"{MUSIC}/v1/users/{PREMIUM_USER}/subscription", json={"active": True})
        rsps.add(responses.GET, f"{MUSIC}/v1/users/{FREE_USER}/subscription", json={"active": False})
        rsps.add(responses.GET, f"{MUSIC}/v1/offers", json={"offers": [OFFER]})
        yield rsps


@pytest.fixture
def client(partner):
    return SkillClient(create_skill(), http=PartnerSession(), user_id=PREMIUM_USER)


def play_directive(reply):
    (directive,) = [d for d in reply.directives if d["type"] == "AudioPlayer.Play"]
    return directive["playBehavior"], directive["audioItem"]["stream"]


@pytest.mark.parametrize("utterance, search_type, query", [
    ("play some jazz", "genre", "jazz"),
    ("play songs by lena marsh trio", "artist", "lena marsh trio"),
    ("play the album blue hour sessions", "album", "blue hour sessions"),
    ("play rain on lenox", "track", "rain on lenox"),
])
def test_play_searches_by_what_was_asked_and_streams_the_first_match(client, partner, utterance, search_type, query):
    r = client.say(utterance)
    search = partner.calls[0].request
    assert search.params == {"q": query, "type": search_type}
    behavior, stream = play_directive(r)
    assert behavior == "REPLACE_ALL" and stream["token"] == "0:trk_1" and stream["url"].startswith("https://")
    assert r.speech.startswith("Playing") and r.ended is True


def test_play_a_playlist_by_name(client):
    r = client.say("play my focus playlist")
    assert play_directive(r)[1]["token"] == "0:trk_3"
    client.assert_said("Playing focus.")


def test_nothing_found_asks_again(client, partner):
    partner.replace(responses.GET, f"{MUSIC}/v1/search", json={"tracks": []})
    r = client.say("play some polka")
    client.assert_said("I couldn't find polka")
    assert r.ended is False and not r.directives


def test_free_user_hears_the_offer_and_a_yes_buys_it_and_plays(partner):
    partner.add(responses.POST, f"{MUSIC}/v1/users/{FREE_USER}/subscription", status=201,
                json={"id": "pur_1001", "plan": "premium", "amount_cents": 999, "currency": "USD", "status": "active"})
    client = SkillClient(create_skill(), http=PartnerSession(), user_id=FREE_USER)
    r = client.say("play some jazz")
    client.assert_said("needs TuneStream Premium, which is $9.99 a month. Would you like to subscribe?")
    assert not r.directives and r.ended is False
    r = client.say("yes")
    client.assert_said("You're subscribed to TuneStream Premium. Playing jazz.")
    assert play_directive(r)[1]["token"] == "0:trk_1"
    assert r.transaction == {"kind": "subscription", "reference": "pur_1001", "amount": "9.99",
                             "currency": "USD", "status": "completed"}
    assert [row["transaction"]["kind"] for row in client.transcripts() if row["transaction"]] == ["subscription"]


def test_free_user_saying_no_buys_nothing(partner):
    client = SkillClient(create_skill(), http=PartnerSession(), user_id=FREE_USER)
    client.say("play some jazz")
    r = client.say("no")
    assert r.transaction is None and not any(c.request.method == "POST" for c in partner.calls)


def test_nearly_finished_enqueues_the_next_track_after_the_playing_one(client):
    client.say("play some jazz")
    r = client.request("AudioPlayer.PlaybackNearlyFinished", token="0:trk_1", offset_ms=290000)
    behavior, stream = play_directive(r)
    assert behavior == "ENQUEUE" and stream["token"] == "1:trk_2" and stream["expectedPreviousToken"] == "0:trk_1"
    assert "outputSpeech" not in r.envelope["response"]


def test_nearly_finished_on_the_last_track_enqueues_nothing_unless_looping(client):
    client.say("play some jazz")
    assert client.request("AudioPlayer.PlaybackNearlyFinished", token="2:trk_3").directives == []
    client.say("loop")
    r = client.request("AudioPlayer.PlaybackNearlyFinished", token="2:trk_3")
    assert play_directive(r)[1]["token"] == "0:trk_1"


def test_stopped_offset_is_remembered_and_resume_picks_up_there_in_a_later_session(client):
    client.say("play some jazz")
    client.request("AudioPlayer.PlaybackStarted", token="1:trk_2", offset_ms=0)
    client.request("AudioPlayer.PlaybackStopped", token="1:trk_2", offset_ms=42000)
    client.new_session()
    r = client.say("resume")
    _, stream = play_directive(r)
    assert stream["token"] == "1:trk_2" and stream["offsetInMilliseconds"] == 42000


@pytest.mark.parametrize("turn, token", [
    (lambda c: c.say("next"), "1:trk_2"),
    (lambda c: c.request("PlaybackController.NextCommandIssued"), "1:trk_2"),
    (lambda c: c.say("start over"), "0:trk_1"),
    (lambda c: c.request("PlaybackController.PlayCommandIssued"), "0:trk_1"),
    (lambda c: c.request("AudioPlayer.PlaybackFailed", token="0:trk_1"), "1:trk_2"),
])
def test_transport_commands_play_the_right_track(client, turn, token):
    client.say("play some jazz")
    assert play_directive(turn(client))[1]["token"] == token


def test_previous_at_the_start_says_so_and_buttons_stay_quiet(client):
    client.say("play some jazz")
    client.say("previous")
    client.assert_said("no more songs")
    assert client.request("PlaybackController.PreviousCommandIssued").directives == []


@pytest.mark.parametrize("utterance, directives, ended", [
    ("pause", ["AudioPlayer.Stop"], True),
    ("stop", ["AudioPlayer.Stop", "AudioPlayer.ClearQueue"], True),
    ("cancel", ["AudioPlayer.Stop", "AudioPlayer.ClearQueue"], True),
])
def test_pause_and_stop_stop_the_audio(client, utterance, directives, ended):
    client.say("play some jazz")
    r = client.say(utterance)
    assert r.directive_types == directives and r.ended is ended


def test_shuffle_keeps_the_playing_track_and_turning_it_off_restores_the_order(client):
    client.say("play some jazz")
    client.say("next")
    r = client.say("shuffle")
    assert r.directive_types == ["AudioPlayer.ClearQueue"]
    client.say("turn off shuffle")
    client.say("what's playing")
    client.assert_said("This is Rain on Lenox by Lena Marsh Trio.")
    r = client.say("next")
    assert play_directive(r)[1]["token"] == "2:trk_3"


def test_whats_playing_with_nothing_queued(client):
    client.say("what's playing")
    client.assert_said("Nothing is playing")


@pytest.mark.parametrize("failure, recorded", [
    ({"status": 500, "json": {"error": {"code": "internal", "message": "boom"}}}, "HTTP 500 on GET /v1/search"),
    ({"body": requests.Timeout()}, "timed out on GET /v1/search"),
    ({"body": "<html>oops</html>"}, "malformed JSON from GET /v1/search"),
])
def test_partner_failure_gets_an_honest_answer_and_is_recorded(client, partner, failure, recorded):
    partner.replace(responses.GET, f"{MUSIC}/v1/search", **failure)
    r = client.say("play some jazz")
    client.assert_said("TuneStream isn't answering right now")
    assert not r.directives
    assert client.transcripts()[-1]["error"] == f"PartnerError: music: {recorded}"


@pytest.mark.parametrize("turn, said, ended", [
    (lambda c: c.launch(), "Welcome to Tune Stream", False),
    (lambda c: c.intent("AMAZON.HelpIntent"), "play my focus playlist", False),
    (lambda c: c.intent("AMAZON.FallbackIntent"), "can't help with that", False),
    (lambda c: c.intent("OrderTaxiIntent"), "can't help with that", False),
    (lambda c: c.say("yes"), "What would you like to hear?", False),
])
def test_built_in_requests_get_a_spoken_answer(client, turn, said, ended):
    r = turn(client)
    assert said in r.speech and r.ended is ended


def test_session_ended_is_answered_quietly(client):
    assert client.end().envelope["response"] == {}


def test_audio_events_leave_no_speech_in_the_envelope(client):
    client.say("play some jazz")
    for event in ("PlaybackStarted", "PlaybackFinished", "PlaybackStopped"):
        r = client.request(f"AudioPlayer.{event}", token="0:trk_1", offset_ms=1000)
        assert json.dumps(r.envelope["response"]) == "{}"


def test_pause_remembers_where_the_device_was_and_resume_plays_from_there(client):
    client.say("play some jazz")
    client.say("next")
    client.audio.advance(95_000)
    r = client.say("pause")  # no PlaybackStopped sent: the request itself says where the listener was
    assert r.directive_types == ["AudioPlayer.Stop"] and client.audio.activity == "STOPPED"
    client.new_session()
    _, stream = play_directive(client.say("resume"))
    assert stream["token"] == "1:trk_2" and stream["offsetInMilliseconds"] == 95_000
    assert client.audio.state.playing and client.audio.offset_ms == 95_000


def test_the_pause_button_remembers_the_offset_too(client):
    client.say("play some jazz")
    client.audio.advance(30_464)
    client.request("PlaybackController.PauseCommandIssued")
    assert client.audio.activity == "STOPPED"
    _, stream = play_directive(client.request("PlaybackController.PlayCommandIssued"))
    assert (stream["token"], stream["offsetInMilliseconds"]) == ("0:trk_1", 30_464)


def test_a_finished_track_moves_the_device_to_the_enqueued_one(client):
    client.say("play some jazz")
    client.request("AudioPlayer.PlaybackNearlyFinished")  # the player's own token: the skill enqueues the next
    assert client.audio.queue == ["1:trk_2"]
    client.audio.finish()
    assert (client.audio.token, client.audio.offset_ms, client.audio.activity) == ("1:trk_2", 0, "PLAYING")
    client.say("what's playing")
    client.assert_said("This is Rain on Lenox")
