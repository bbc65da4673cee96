"""The device's audio player: ``ctx.audio_player`` read from real envelopes, bad ones refused, the test device's player."""

from __future__ import annotations

import copy
import json

import pytest
import responses
from _alexa_rules import REFUSED, corpus
from conftest import build_greeter, make_envelope
from test_envelope import LAUNCH
from test_example_music import OFFER, PREMIUM_USER, TRACKS

from example_skills import BASE_URLS
from example_skills.music import create_skill as create_music
from skills_sdk import AudioPlayerState, EnvelopeError, Skill, empty, load_request, say
from skills_sdk.device_audio import DevicePlayer
from skills_sdk.http import PartnerSession
from skills_sdk.testing import SkillClient

LOADABLE = [p for p in corpus() if p.name not in REFUSED]
WITH_PLAYER = [p for p in LOADABLE if "AudioPlayer" in (json.loads(p.read_bytes()).get("context") or {})]


def test_the_corpus_has_real_player_states_in_several_activities():
    activities = {json.loads(p.read_bytes())["context"]["AudioPlayer"].get("playerActivity") for p in WITH_PLAYER}
    assert len(WITH_PLAYER) >= 30 and {"IDLE", "PLAYING", "STOPPED", "FINISHED"} <= activities


@pytest.mark.parametrize("path", WITH_PLAYER, ids=lambda p: p.stem)
def test_every_real_player_state_reads_as_sent(path):
    sent = json.loads(path.read_bytes())["context"]["AudioPlayer"]
    state = load_request(json.loads(path.read_bytes())).audio_player
    assert state == AudioPlayerState(sent.get("token"), sent.get("offsetInMilliseconds", 0), sent.get("playerActivity"))


@pytest.mark.parametrize("path", [p for p in LOADABLE if p not in WITH_PLAYER], ids=lambda p: p.stem)
def test_a_real_envelope_without_a_player_reads_none(path):
    assert load_request(json.loads(path.read_bytes())).audio_player is None


@pytest.mark.parametrize(("player", "path"), [
    ({"token": "t1", "offsetInMilliseconds": "8940", "playerActivity": "STOPPED"}, "context.AudioPlayer.offsetInMilliseconds"),
    ({"offsetInMilliseconds": 8940.5, "playerActivity": "PLAYING"}, "context.AudioPlayer.offsetInMilliseconds"),
    ({"offsetInMilliseconds": True, "playerActivity": "PLAYING"}, "context.AudioPlayer.offsetInMilliseconds"),
    ({"token": 7, "playerActivity": "PLAYING"}, "context.AudioPlayer.token"),
    ({"playerActivity": ["PLAYING"]}, "context.AudioPlayer.playerActivity"),
    ("PLAYING", "context.AudioPlayer"),
])
def test_a_malformed_player_is_refused_naming_the_field(player, path):
    data = copy.deepcopy(LAUNCH)
    data["context"]["AudioPlayer"] = player
    with pytest.raises(EnvelopeError) as info:
        load_request(data)
    assert path in info.value.errors and path in str(info.value)


def test_a_malformed_player_gets_a_400_from_the_server():
    from skills_sdk.server import create_app
    from skills_sdk.transcripts import TranscriptStore

    store = TranscriptStore(":memory:")
    data = make_envelope("LaunchRequest")
    data["context"]["AudioPlayer"] = {"offsetInMilliseconds": "soon", "playerActivity": "PLAYING"}
    resp = create_app([build_greeter()], store=store).test_client().post("/alexa/greeter", json=data)
    error = resp.get_json()["error"]
    assert resp.status_code == 400 and error["code"] == "invalid_envelope"
    assert "context.AudioPlayer.offsetInMilliseconds" in json.dumps(error) and store.count() == 0


def test_unknown_player_fields_and_activities_are_kept_not_refused():
    data = copy.deepcopy(LAUNCH)
    data["context"]["AudioPlayer"] = {"token": "t", "offsetInMilliseconds": 5, "playerActivity": "LATER", "new": 1}
    env = load_request(data)
    assert env.audio_player == AudioPlayerState("t", 5, "LATER") and env.audio_player_raw["new"] == 1


# --- the test device's player --------------------------------------------------------------------------

URL = "https://cdn.example.com/ep{}.mp3"


@pytest.fixture
def podcast():
    """A skill that plays episode 1, and pauses and resumes by what the request says about the player."""
    skill = Skill("podcast", developer_id="dev-1", invocation_name="the podcast")
    seen: list[AudioPlayerState | None] = []

    @skill.launch
    def launch(ctx):
        seen.append(ctx.audio_player)
        return say("Episode one.").play(URL.format(1), token="ep1")

    @skill.intent("AMAZON.PauseIntent")
    def pause(ctx):
        seen.append(ctx.audio_player)
        ctx.state["paused"] = {"token": ctx.audio_player.token, "offset_ms": ctx.audio_player.offset_ms}
        return empty().stop_audio()

    @skill.intent("AMAZON.ResumeIntent")
    def resume(ctx):
        seen.append(ctx.audio_player)
        at = ctx.state["paused"]
        return empty().play(URL.format(at["token"][2:]), token=at["token"], offset_ms=at["offset_ms"])

    @skill.on("AudioPlayer.PlaybackNearlyFinished")
    def nearly(ctx):
        seen.append(ctx.audio_player)
        return empty().play(URL.format(2), token="ep2", behavior="ENQUEUE", expected_previous_token=ctx.request.raw["token"])

    @skill.intent("AMAZON.StopIntent")
    def stop(ctx):
        return say("Bye.").stop_audio().clear_queue().end()

    return skill, seen


def test_the_device_reports_its_player_in_every_request(podcast):
    skill, seen = podcast
    client = SkillClient(skill)
    client.launch()
    assert seen[-1] == AudioPlayerState(None, 0, "IDLE")
    assert client.audio.state == AudioPlayerState("ep1", 0, "PLAYING")
    client.audio.advance(61_000)
    client.intent("AMAZON.PauseIntent")
    assert seen[-1] == AudioPlayerState("ep1", 61_000, "PLAYING")
    assert client.audio.state == AudioPlayerState("ep1", 61_000, "STOPPED") and client.audio.state.stopped
    client.new_session()
    r = client.intent("AMAZON.ResumeIntent")
    assert seen[-1] == AudioPlayerState("ep1", 61_000, "STOPPED")
    assert r.directives[0]["audioItem"]["stream"]["offsetInMilliseconds"] == 61_000
    assert client.audio.state == AudioPlayerState("ep1", 61_000, "PLAYING")
    assert r.request["context"]["AudioPlayer"] == {"token": "ep1", "offsetInMilliseconds": 61_000,
                                                   "playerActivity": "STOPPED"}


def test_events_default_to_the_player_and_a_finished_stream_starts_the_enqueued_one(podcast):
    skill, seen = podcast
    client = SkillClient(skill)
    client.launch()
    client.audio.advance(1_000)
    r = client.request("AudioPlayer.PlaybackNearlyFinished")
    assert r.request["request"]["token"] == "ep1" and r.request["request"]["offsetInMilliseconds"] == 1_000
    assert client.audio.queue == ["ep2"] and client.audio.token == "ep1"
    r = client.audio.finish()
    assert r.request["request"]["type"] == "AudioPlayer.PlaybackStarted" and r.request["request"]["token"] == "ep2"
    assert client.audio.state == AudioPlayerState("ep2", 0, "PLAYING") and client.audio.queue == []
    client.audio.finish()
    assert client.audio.state == AudioPlayerState("ep2", 0, "FINISHED")
    with pytest.raises(AssertionError, match="Expected a stream playing to finish"):
        client.audio.finish()


def test_stop_and_clear_queue_stop_the_device_and_advance_refuses_then(podcast):
    skill, _ = podcast
    client = SkillClient(skill)
    client.launch()
    client.request("AudioPlayer.PlaybackNearlyFinished")
    client.intent("AMAZON.StopIntent")
    assert client.audio.activity == "STOPPED" and client.audio.queue == []
    with pytest.raises(ValueError, match="Nothing is playing: the player is STOPPED"):
        client.audio.advance(10)


def test_the_device_stopping_on_its_own_reports_playback_stopped(podcast):
    skill, _ = podcast
    client = SkillClient(skill)
    client.launch()
    client.audio.advance(5_000)
    r = client.audio.stop()
    assert r.request["request"]["type"] == "AudioPlayer.PlaybackStopped"
    assert r.request["context"]["AudioPlayer"] == {"token": "ep1", "offsetInMilliseconds": 5_000,
                                                   "playerActivity": "STOPPED"}


def test_a_device_without_audio_reports_no_player(podcast):
    skill, seen = podcast
    client = SkillClient(skill, interfaces={})
    client.launch()
    assert seen[-1] is None and "AudioPlayer" not in client.last.request["context"]


@pytest.mark.parametrize(("directives", "after"), [
    ([{"type": "AudioPlayer.Stop"}], ("t1", 500, "STOPPED", ["t2"])),  # Stop leaves the queue as it is
    ([{"type": "AudioPlayer.ClearQueue", "clearBehavior": "CLEAR_ENQUEUED"}], ("t1", 500, "PLAYING", [])),
    ([{"type": "AudioPlayer.ClearQueue", "clearBehavior": "CLEAR_ALL"}], ("t1", 500, "STOPPED", [])),
    ([{"type": "AudioPlayer.Play", "playBehavior": "REPLACE_ENQUEUED",
       "audioItem": {"stream": {"token": "t3", "url": "https://x/3", "offsetInMilliseconds": 0}}}],
     ("t1", 500, "PLAYING", ["t3"])),
    ([{"type": "AudioPlayer.Play", "playBehavior": "REPLACE_ALL",
       "audioItem": {"stream": {"token": "t4", "url": "https://x/4", "offsetInMilliseconds": 70}}}],
     ("t4", 70, "PLAYING", [])),
])
def test_directives_change_the_player_as_alexa_documents(directives, after):
    player = DevicePlayer()
    player.apply([{"type": "AudioPlayer.Play", "playBehavior": "REPLACE_ALL",
                   "audioItem": {"stream": {"token": "t1", "url": "https://x/1", "offsetInMilliseconds": 0}}},
                  {"type": "AudioPlayer.Play", "playBehavior": "ENQUEUE",
                   "audioItem": {"stream": {"token": "t2", "url": "https://x/2", "offsetInMilliseconds": 0}}}])
    player.advance(500)
    player.apply(directives)
    assert (player.token, player.offset_ms, player.activity, [s["token"] for s in player.queue]) == after


# --- the device reporting playback on its own, and what only time brings --------------------------------

def sent(client):
    """The AudioPlayer events so far as (type without the prefix, token, offset, reported activity)."""
    return [(r.request_type.split(".", 1)[1], r.request["request"]["token"], r.request["request"]["offsetInMilliseconds"],
             r.request["context"]["AudioPlayer"]["playerActivity"]) for r in client.audio.events]


def test_with_playback_events_a_play_and_a_pause_are_reported_with_token_and_offset(podcast):
    skill, seen = podcast
    client = SkillClient(skill, playback_events=True)
    client.launch()
    assert sent(client) == [("PlaybackStarted", "ep1", 0, "PLAYING")]
    client.audio.advance(61_000)
    r = client.intent("AMAZON.PauseIntent")
    assert seen[-1] == AudioPlayerState("ep1", 61_000, "PLAYING")  # the intent reports where the listener was
    assert sent(client)[-1] == ("PlaybackStopped", "ep1", 61_000, "STOPPED")
    assert client.last is r and r.directive_types == ["AudioPlayer.Stop"] and client.audio.events[-1].by_device
    assert "  device  > (AudioPlayer.PlaybackStopped token=ep1 offsetInMilliseconds=61000)\n" in client.conversation_log()


def test_without_playback_events_the_device_sends_nothing_on_its_own(podcast):
    skill, _ = podcast
    client = SkillClient(skill)
    client.launch()
    client.intent("AMAZON.PauseIntent")
    assert client.audio.events == [] and [r.request_type for r in client.replies] == ["LaunchRequest", "IntentRequest"]


def test_replace_all_over_a_playing_track_stops_it_then_starts_the_new_one(partner):
    client = SkillClient(create_music(), http=PartnerSession(), user_id=PREMIUM_USER, playback_events=True)
    client.say("play some jazz")
    client.audio.advance(12_000)
    client.say("next")
    assert sent(client) == [("PlaybackStarted", "0:trk_1", 0, "PLAYING"),
                            ("PlaybackStopped", "0:trk_1", 12_000, "STOPPED"),
                            ("PlaybackStarted", "1:trk_2", 0, "PLAYING")]
    assert client.audio.state == AudioPlayerState("1:trk_2", 0, "PLAYING")
    client.say("what's playing")
    client.assert_said("Rain on Lenox")


def test_the_music_skill_plays_a_queue_through_and_skips_a_broken_track(partner):
    client = SkillClient(create_music(), http=PartnerSession(), user_id=PREMIUM_USER, playback_events=True)
    client.say("play some jazz")
    client.audio.advance(290_000)
    client.audio.nearly_finish()
    assert client.audio.queue == ["1:trk_2"]
    client.audio.finish()
    r = client.audio.fail("MEDIA_ERROR_SERVICE_UNAVAILABLE")
    assert r.request["request"]["error"]["type"] == "MEDIA_ERROR_SERVICE_UNAVAILABLE"
    assert r.directives[0]["audioItem"]["stream"]["token"] == "2:trk_3"
    assert [e[0] for e in sent(client)] == ["PlaybackStarted", "PlaybackNearlyFinished", "PlaybackFinished",
                                            "PlaybackStarted", "PlaybackFailed", "PlaybackStarted"]
    assert client.audio.state == AudioPlayerState("2:trk_3", 0, "PLAYING")


@pytest.fixture
def partner(monkeypatch):
    """TuneStream, mocked: three jazz tracks for a Premium listener."""
    music = BASE_URLS["music"]
    monkeypatch.delenv("SKILLS_PARTNER_MUSIC_URL", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, f"{music}/v1/search", json={"tracks": TRACKS})
        rsps.add(responses.GET, f"{music}/v1/users/{PREMIUM_USER}/subscription", json={"active": True})
        rsps.add(responses.GET, f"{music}/v1/offers", json={"offers": [OFFER]})
        yield rsps


def test_pausing_and_buffering_are_reported_in_the_next_request_without_an_event(podcast):
    # Alexa sends skills five AudioPlayer requests, none for a pause or an underrun: the context says it.
    skill, seen = podcast
    client = SkillClient(skill, playback_events=True)
    client.launch()
    client.audio.advance(3_000)
    client.audio.pause()
    client.intent("AMAZON.StopIntent")
    assert client.last.request["context"]["AudioPlayer"]["playerActivity"] == "PAUSED"
    assert sent(client)[-1] == ("PlaybackStopped", "ep1", 3_000, "STOPPED")  # Stop stops a paused stream too
    client.launch()
    client.audio.underrun()
    with pytest.raises(ValueError, match="does not move while the player is BUFFER_UNDERRUN.*resume"):
        client.audio.advance(1_000)
    client.intent("AMAZON.PauseIntent")
    assert seen[-1] == AudioPlayerState("ep1", 0, "BUFFER_UNDERRUN")
    assert [e[0] for e in sent(client)] == ["PlaybackStarted", "PlaybackStopped", "PlaybackStarted", "PlaybackStopped"]


def test_resume_plays_on_from_where_the_device_paused(podcast):
    skill, _ = podcast
    client = SkillClient(skill)
    client.launch()
    client.audio.advance(2_000)
    client.audio.underrun()
    client.audio.resume()
    client.audio.advance(500)
    assert client.audio.state == AudioPlayerState("ep1", 2_500, "PLAYING") and client.audio.events == []


def music_like(answer_to: str, directive):
    skill = Skill("radio", developer_id="dev-1", invocation_name="the radio")

    @skill.launch
    def launch(ctx):
        return say("On air.").play(URL.format(1), token="ep1")

    skill.add_request_handler(answer_to, lambda ctx: directive(empty()))
    return skill


@pytest.mark.parametrize(("event", "directive", "problem"), [
    ("AudioPlayer.PlaybackStarted", lambda r: r.play(URL.format(2), token="ep2"),
     "PlaybackStarted may be answered with AudioPlayer.Stop or AudioPlayer.ClearQueue only, not AudioPlayer.Play"),
    ("AudioPlayer.PlaybackFinished", lambda r: r.play(URL.format(2), token="ep2"),
     "PlaybackFinished may be answered with AudioPlayer.Stop or AudioPlayer.ClearQueue only, not AudioPlayer.Play"),
    ("AudioPlayer.PlaybackStopped", lambda r: r.clear_queue(),
     "Alexa ignores any answer to AudioPlayer.PlaybackStopped, so AudioPlayer.ClearQueue does nothing"),
])
def test_an_answer_alexa_would_not_carry_out_fails_and_the_device_ignores_it(event, directive, problem):
    client = SkillClient(music_like(event, directive))
    client.launch()
    with pytest.raises(AssertionError, match="an answer Alexa would carry out") as info:
        client.request(event)
    assert problem in str(info.value) and client.audio.token == "ep1"


def test_an_enqueue_expecting_another_stream_is_ignored():
    player = DevicePlayer()
    events = player.apply([{"type": "AudioPlayer.Play", "playBehavior": "REPLACE_ALL",
                            "audioItem": {"stream": {"token": "t1", "url": "https://x/1", "offsetInMilliseconds": 0}}}])
    assert events == [("AudioPlayer.PlaybackStarted", "t1", 0)]
    for expected, queued in (("t0", []), ("t1", ["t2"])):
        player.apply([{"type": "AudioPlayer.Play", "playBehavior": "ENQUEUE",
                       "audioItem": {"stream": {"token": "t2", "url": "https://x/2", "expectedPreviousToken": expected}}}])
        assert [s["token"] for s in player.queue] == queued


@pytest.mark.parametrize(("act", "error", "message"), [
    (lambda a: a.finish(), AssertionError, "the player is IDLE: have the skill answer with AudioPlayer.Play first"),
    (lambda a: a.nearly_finish(), AssertionError, "the player is IDLE: have the skill answer with AudioPlayer.Play"),
    (lambda a: a.fail(), AssertionError, "Expected a stream playing to fail"),
    (lambda a: a.pause(), ValueError, r"pause\(\) needs a stream playing, but the player is IDLE"),
    (lambda a: a.resume(), ValueError, r"resume\(\) plays on after pause\(\) or underrun\(\), but the player is IDLE"),
    (lambda a: a.fail("BROKEN"), ValueError, "Unknown PlaybackFailed error type 'BROKEN'.*MEDIA_ERROR_UNKNOWN"),
])
def test_asking_the_device_for_what_cannot_happen_names_the_problem_and_the_fix(podcast, act, error, message):
    client = SkillClient(podcast[0])
    with pytest.raises(error, match=message):
        act(client.audio)


def test_a_paused_device_is_told_to_resume_before_the_stream_ends(podcast):
    client = SkillClient(podcast[0])
    client.launch()
    client.audio.pause()
    with pytest.raises(AssertionError, match=r"the player is PAUSED \('ep1' at 0 ms\): call resume\(\) first"):
        client.audio.finish()


@pytest.mark.parametrize("event", ["PlaybackStarted", "PlaybackNearlyFinished", "PlaybackFinished", "PlaybackStopped",
                                   "PlaybackFailed"])
def test_every_built_audio_event_reports_an_activity_alexa_has(event):
    from skills_sdk.envelope import PLAYER_ACTIVITIES
    from skills_sdk.request_builders import audio_player_request

    body = audio_player_request(event, token="t1", offset_ms=5)
    states = [body["context"]["AudioPlayer"], body["request"].get("currentPlaybackState")]
    assert all(s["playerActivity"] in PLAYER_ACTIVITIES for s in states if s is not None)
