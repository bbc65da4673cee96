"""Music player: search TuneStream, stream with AudioPlayer, follow playback events, sell a subscription."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

from skills_sdk import Response, Skill, Turn, ask, empty, say

from ._common import PartnerError, answer_partner_errors, call_partner, dollars, spoken_price

# What the user asked for, by slot: the slot's built-in type and TuneStream's search type.
SEARCHES = {"song": ("AMAZON.MusicRecording", "track"), "artist": ("AMAZON.Artist", "artist"),
            "album": ("AMAZON.MusicAlbum", "album"), "genre": ("AMAZON.Genre", "genre"),
            "playlist": ("AMAZON.MusicPlaylist", "playlist")}
PLAY_SAMPLES = [
    "play music", "play something",  # no slot: the house playlist
    "play {song}", "play the song {song}", "play {song} by {artist}",
    "play songs by {artist}", "play music by {artist}", "play something by {artist}",
    "play the album {album}", "play the {album} album",
    "play some {genre}", "play {genre} music", "play some {genre} music",
    "play my {playlist} playlist", "play the {playlist} playlist", "play the playlist {playlist}",
]
HOUSE_PLAYLIST = "Road Trip"


def token_for(index: int, track: dict[str, Any]) -> str:
    """The stream token: the queue position and the track id, so an event says where playback is."""
    return f"{index}:{track['id']}"


def index_of(token: str | None) -> int | None:
    """The queue position a token names (None for a token that is not ours)."""
    try:
        return int(str(token).split(":", 1)[0])
    except ValueError:
        return None


def create_skill() -> Skill:
    """The music skill, owned by the fictional developer TuneStream Audio."""
    skill = Skill("music", developer_id="tunestream-audio", invocation_name="tune stream",
                  retention_days=30, receipt_retention_days=365,
                  description="Play songs, artists, albums, genres and playlists from TuneStream.")
    answer_partner_errors(skill, "Sorry, TuneStream isn't answering right now. Please try again in a minute.")

    # AudioPlayer events come without a session, so the queue and position live in ctx.state: the
    # user's persistent attributes. player = {"queue": [track], "index", "offset_ms", "shuffle", "loop"}.
    def player(ctx: Turn) -> dict[str, Any]:
        return ctx.state.setdefault("player", {"queue": [], "index": 0, "offset_ms": 0})

    def stream(ctx: Turn, index: int, offset_ms: int = 0) -> Response:
        """Play queue[index] now, replacing whatever plays."""
        p = player(ctx)
        p["index"], p["offset_ms"] = index, offset_ms
        track = p["queue"][index]
        return empty().play(track["url"], token=token_for(index, track), offset_ms=offset_ms)

    def step(ctx: Turn, by: int, origin: int | None = None) -> int | None:
        """The queue position ``by`` tracks from ``origin`` (default: the current one); None past an end."""
        p = player(ctx)
        if not p["queue"]:
            return None
        target = (p["index"] if origin is None else origin) + by
        if p.get("loop"):
            return target % len(p["queue"])
        return target if 0 <= target < len(p["queue"]) else None

    def start(ctx: Turn, tracks: list[dict[str, Any]], label: str) -> Response:
        ctx.state["player"] = {"queue": tracks, "index": 0, "offset_ms": 0, "shuffle": False, "loop": False}
        return stream(ctx, 0).say(f"Playing {label}.")

    @skill.launch
    def welcome(ctx: Turn):
        return ask("Welcome to Tune Stream. What would you like to hear? Name a song, an artist, "
                   "an album, a genre or a playlist.", "What would you like to hear?")

    @skill.intent("AMAZON.HelpIntent")
    def help_(ctx: Turn):
        return ask("You can say, play songs by Nova Reyes, play some jazz, or play my focus playlist. "
                   "While music plays, say next, previous, pause, or shuffle. What would you like to hear?",
                   "What would you like to hear?")

    @skill.intent("PlayIntent", samples=PLAY_SAMPLES, slots={slot: t for slot, (t, _) in SEARCHES.items()})
    def play(ctx: Turn, song=None, artist=None, album=None, genre=None, playlist=None):
        asked = {"song": song, "artist": artist, "album": album, "genre": genre, "playlist": playlist}
        kind, query = next(((k, v) for k, v in asked.items() if v), ("playlist", HOUSE_PLAYLIST))
        try:
            if kind == "playlist":
                found = call_partner(ctx, "music", "GET", f"/v1/playlists/{quote(query, safe='')}/tracks")["tracks"]
            else:
                found = call_partner(ctx, "music", "GET", "/v1/search",
                                     params={"q": query, "type": SEARCHES[kind][1]})["tracks"]
        except PartnerError as exc:
            if exc.status != 404:
                raise
            found = []
        if kind == "song" and artist:  # "play Orbit by Paper Satellites"
            found = [t for t in found if artist.lower() in t["artist"].lower()] or found
        if not found:
            return ask(f"I couldn't find {query} on TuneStream. What else would you like to hear?")
        tracks = [{"id": t["id"], "title": t["title"], "artist": t["artist"], "url": t["stream_url"]} for t in found]
        label = f"{tracks[0]['title']} by {tracks[0]['artist']}" if kind == "song" else f"{query}"
        subscription = call_partner(ctx, "music", "GET", f"/v1/users/{quote(ctx.user_id, safe='')}/subscription")
        if subscription.get("active"):
            return start(ctx, tracks, label)
        # On-demand listening is a Premium feature: offer it, and keep what was asked for in the session
        # so a yes can buy the plan and start the music in one turn.
        offer = call_partner(ctx, "music", "GET", "/v1/offers")["offers"][0]
        ctx.session["pending_offer"] = {"plan": offer["plan"], "price_cents": offer["price_cents"],
                                        "tracks": tracks, "label": label}
        return ask(f"Playing {label} on demand needs {offer['name']}, which is "
                   f"{spoken_price(offer['price_cents'])} a {offer['billing_period']}. Would you like to subscribe?",
                   f"Would you like to subscribe to {offer['name']}?")

    @skill.intent("AMAZON.YesIntent")
    def yes(ctx: Turn):
        pending = ctx.session.pop("pending_offer", None)
        if pending is None:
            return ask("What would you like to hear?")
        try:
            bought = call_partner(ctx, "music", "POST", f"/v1/users/{quote(ctx.user_id, safe='')}/subscription",
                                  json={"plan": pending["plan"]})
        except PartnerError as exc:
            if exc.code != "already_subscribed":
                raise
            return start(ctx, pending["tracks"], pending["label"])
        return (start(ctx, pending["tracks"], pending["label"])
                .say(f"You're subscribed to TuneStream Premium. Playing {pending['label']}.")
                .transaction("subscription", bought["id"], dollars(bought["amount_cents"]), "USD"))

    @skill.intent("AMAZON.NoIntent")
    def no(ctx: Turn):
        ctx.session.pop("pending_offer", None)
        return say("Okay, no subscription. You can subscribe any time by asking me to play something.")

    @skill.intent("NowPlayingIntent", samples=["what's playing", "what is playing", "what song is this",
                                               "who is this", "who sings this"])
    def now_playing(ctx: Turn):
        p = player(ctx)
        if not p["queue"]:
            return say("Nothing is playing right now.")
        track = p["queue"][p["index"]]
        return say(f"This is {track['title']} by {track['artist']}.")

    # -- transport: spoken intents and the device's buttons share one handler each ------------------
    def pause(ctx: Turn):
        # The request reports where the listener is (context.AudioPlayer): remember it now, so "resume"
        # finds it in a later session too. PlaybackStopped follows and says the same.
        here = ctx.audio_player
        index = index_of(here.token) if here is not None and here.token else None
        if index is not None:
            player(ctx).update(index=index, offset_ms=here.offset_ms)
        return empty().stop_audio()

    def resume(ctx: Turn):
        p = player(ctx)
        return stream(ctx, p["index"], p.get("offset_ms", 0)) if p["queue"] else ask("What would you like to hear?")

    def skip(by: int):
        def handler(ctx: Turn):
            target = step(ctx, by)
            if target is None:  # nothing there: say so to a voice request, stay quiet to a button
                return empty() if ctx.request_type.startswith("Playback") else say("There are no more songs that way.")
            return stream(ctx, target)
        return handler

    for name, handler in (("Pause", pause), ("Resume", resume), ("Next", skip(1)), ("Previous", skip(-1))):
        skill.add_intent(f"AMAZON.{name}Intent", handler)
        skill.add_request_handler(f"PlaybackController.{'Play' if name == 'Resume' else name}CommandIssued", handler)

    @skill.intent("AMAZON.StartOverIntent")
    def start_over(ctx: Turn):
        return stream(ctx, player(ctx)["index"]) if player(ctx)["queue"] else ask("What would you like to hear?")

    def stop(ctx: Turn):
        return say("Goodbye.").stop_audio().clear_queue().end()

    skill.add_intent("AMAZON.StopIntent", stop)
    skill.add_intent("AMAZON.CancelIntent", stop)

    def set_shuffle(on: bool):
        def handler(ctx: Turn):
            p = player(ctx)
            if on and not p.get("shuffle") and p["queue"]:
                # Keep the playing track where it is; shuffle what comes after it, and remember the order.
                p["original"] = list(p["queue"])
                upcoming = p["queue"][p["index"] + 1:]
                random.shuffle(upcoming)
                p["queue"][p["index"] + 1:] = upcoming
            elif not on and p.get("original"):
                current = p["queue"][p["index"]]
                p["queue"] = p.pop("original")
                p["index"] = p["queue"].index(current)
            p["shuffle"] = on
            # Reset what is enqueued, so the next track follows the new order.
            return say(f"Shuffle is {'on' if on else 'off'}.").clear_queue()
        return handler

    def set_loop(on: bool):
        def handler(ctx: Turn):
            player(ctx)["loop"] = on
            return say(f"Loop is {'on' if on else 'off'}.")
        return handler

    skill.add_intent("AMAZON.ShuffleOnIntent", set_shuffle(True), samples=["shuffle", "turn on shuffle", "shuffle on"])
    skill.add_intent("AMAZON.ShuffleOffIntent", set_shuffle(False), samples=["stop shuffling", "turn off shuffle"])
    skill.add_intent("AMAZON.LoopOnIntent", set_loop(True), samples=["loop", "turn on loop", "repeat the playlist"])
    skill.add_intent("AMAZON.LoopOffIntent", set_loop(False), samples=["stop looping", "turn off loop"])

    # -- AudioPlayer events: no session, audio directives only ---------------------------------------
    @skill.on("AudioPlayer.PlaybackStarted")
    def started(ctx: Turn):
        index = index_of(ctx.request.raw.get("token"))
        if index is not None:
            player(ctx).update(index=index, offset_ms=0)
        return empty()

    @skill.on("AudioPlayer.PlaybackNearlyFinished")
    def nearly_finished(ctx: Turn):
        token = ctx.request.raw.get("token")
        index = index_of(token)
        target = None if index is None else step(ctx, 1, index)
        if target is None:
            return empty()
        track = player(ctx)["queue"][target]
        return empty().play(track["url"], token=token_for(target, track), behavior="ENQUEUE",
                            expected_previous_token=token)

    @skill.on("AudioPlayer.PlaybackFinished")
    def finished(ctx: Turn):
        player(ctx)["offset_ms"] = 0
        return empty()

    @skill.on("AudioPlayer.PlaybackStopped")
    def stopped(ctx: Turn):
        # Remember where the user paused, so "resume" picks up right there, even in a later session.
        index = index_of(ctx.request.raw.get("token"))
        if index is not None:
            player(ctx).update(index=index, offset_ms=int(ctx.request.raw.get("offsetInMilliseconds") or 0))
        return empty()

    @skill.on("AudioPlayer.PlaybackFailed")
    def failed(ctx: Turn):
        # A broken stream should not end the music: move on to the next track.
        index = index_of(ctx.request.raw.get("token"))
        target = None if index is None else step(ctx, 1, index)
        return empty() if target is None else stream(ctx, target)

    skill.publish(
        category="STREAMING_SERVICE", interfaces=["AUDIO_PLAYER"], allows_purchases=True,
        privacy_policy_url="https://tunestream-audio.example/privacy",
        listings={"en-US": {"name": "Tune Stream", "summary": "Play songs, artists, albums and playlists.",
                            "description": "Ask Tune Stream for a song, an artist, an album, a genre or one of your "
                                           "playlists; skip, pause and shuffle by voice.",
                            "example_phrases": ["Alexa, open tune stream", "Alexa, ask tune stream to play some jazz",
                                                "Alexa, ask tune stream what's playing"],
                            "keywords": ["music", "streaming", "playlists"]}},
    )
    return skill
