"""Stand-in of TuneStream, the music-streaming partner: catalog search, playlists, premium subscriptions.

Routes (base URL ``https://api.tunestream.example``):

- ``GET /v1/search?q=...&type=track|artist|album|genre|playlist`` → ``{"query", "type", "tracks": [track]}``;
  without ``type`` every field is searched. Matching ignores case and punctuation.
- ``GET /v1/tracks/<track_id>`` → track, or 404 ``track_not_found``.
- ``GET /v1/playlists/<name>/tracks`` → ``{"playlist": {"id", "name"}, "tracks": [track]}`` (name or id).
- ``GET /v1/offers`` → ``{"offers": [{"id", "plan": "premium", "name", "description", "price_cents",
  "currency", "billing_period": "month"}]}``.
- ``GET /v1/users/<user_id>/subscription`` → ``{"user_id", "active", "plan": "premium"|"free", "renews_at"}``.
  Users whose id contains ``premium`` start subscribed.
- ``POST /v1/users/<user_id>/subscription`` ``{"plan": "premium"}`` → 201 purchase ``{"id", "user_id", "plan",
  "offer_id", "amount_cents", "currency", "status": "active", "created_at", "renews_at"}``; 409
  ``already_subscribed``; 422 for another plan.

A track is ``{"id", "title", "artist", "album" (null for singles), "genre", "duration_ms", "stream_url"}``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ._app import (
    Clock,
    PartnerApp,
    PartnerError,
    PartnerRequest,
    Recent,
    invalid,
    iso,
    json_object,
    normalize,
    utc_now,
)

STREAM_URL = "https://cdn.tunestream.example/stream/{}.mp3"

PREMIUM_OFFER: dict[str, Any] = {
    "id": "offer_premium_monthly",
    "plan": "premium",
    "name": "TuneStream Premium",
    "description": "Ad-free listening, unlimited skips and any song on demand.",
    "price_cents": 999,
    "currency": "USD",
    "billing_period": "month",
}

SEARCH_TYPES = ("track", "artist", "album", "genre", "playlist")

# (id, title, artist, album, genre, duration in seconds); album None marks a single.
_TRACKS = [
    ("trk_001", "Midnight Engines", "The Velvet Hours", "Midnight Engines", "rock", 241),
    ("trk_002", "Gasoline Moon", "The Velvet Hours", "Midnight Engines", "rock", 207),
    ("trk_003", "Steel and Static", "The Velvet Hours", "Midnight Engines", "rock", 263),
    ("trk_004", "Last Exit Lights", "The Velvet Hours", "Midnight Engines", "rock", 229),
    ("trk_005", "Neon Tides", "Nova Reyes", "Neon Tides", "pop", 198),
    ("trk_006", "Sugar Signal", "Nova Reyes", "Neon Tides", "pop", 184),
    ("trk_007", "Paper Hearts", "Nova Reyes", "Neon Tides", "pop", 213),
    ("trk_008", "Golden Hour", "Nova Reyes", "Neon Tides", "pop", 225),
    ("trk_009", "Lantern Light", "Copper Lanterns", "Lantern Light", "folk", 252),
    ("trk_010", "River Road", "Copper Lanterns", "Lantern Light", "folk", 236),
    ("trk_011", "Woodsmoke", "Copper Lanterns", "Lantern Light", "folk", 201),
    ("trk_012", "Harvest Song", "Copper Lanterns", "Lantern Light", "folk", 274),
    ("trk_013", "Skyline Pulse", "DJ Kestrel", "Skyline Pulse", "electronic", 312),
    ("trk_014", "Night Shift", "DJ Kestrel", "Skyline Pulse", "electronic", 295),
    ("trk_015", "Circuit Bloom", "DJ Kestrel", "Skyline Pulse", "electronic", 338),
    ("trk_016", "Afterglow Run", "DJ Kestrel", "Skyline Pulse", "electronic", 281),
    ("trk_017", "Blue Hour", "Lena Marsh Trio", "Blue Hour Sessions", "jazz", 356),
    ("trk_018", "Rain on Lenox", "Lena Marsh Trio", "Blue Hour Sessions", "jazz", 402),
    ("trk_019", "Slow Brass", "Lena Marsh Trio", "Blue Hour Sessions", "jazz", 318),
    ("trk_020", "Cafe Noir", "Lena Marsh Trio", "Blue Hour Sessions", "jazz", 287),
    ("trk_021", "Orbit", "Paper Satellites", "Orbit Songs", "rock", 219),
    ("trk_022", "Low Gravity", "Paper Satellites", "Orbit Songs", "rock", 244),
    ("trk_023", "Signal Fire", "Paper Satellites", "Orbit Songs", "rock", 231),
    ("trk_024", "Comet Tail", "Paper Satellites", "Orbit Songs", "rock", 205),
    ("trk_025", "Crown Heights", "Mira Sol", None, "hip hop", 196),
    ("trk_026", "No Days Off", "Mira Sol", None, "hip hop", 188),
    ("trk_027", "Sol Rising", "Mira Sol", None, "hip hop", 209),
    ("trk_028", "Feedback Loop", "Greyhound Static", None, "rock", 177),
    ("trk_029", "Dead Air", "Greyhound Static", None, "rock", 192),
    ("trk_030", "Open Road", "Greyhound Static", None, "rock", 215),
]

TRACKS: dict[str, dict[str, Any]] = {
    track_id: {
        "id": track_id,
        "title": title,
        "artist": artist,
        "album": album,
        "genre": genre,
        "duration_ms": seconds * 1000,
        "stream_url": STREAM_URL.format(track_id),
    }
    for track_id, title, artist, album, genre, seconds in _TRACKS
}

PLAYLISTS: dict[str, dict[str, Any]] = {
    "pl_road_trip": {
        "name": "Road Trip",
        "tracks": ["trk_030", "trk_001", "trk_010", "trk_005", "trk_022", "trk_026", "trk_002"],
    },
    "pl_focus": {
        "name": "Focus",
        "tracks": ["trk_017", "trk_013", "trk_019", "trk_015", "trk_020", "trk_011"],
    },
    "pl_workout": {
        "name": "Workout",
        "tracks": ["trk_014", "trk_026", "trk_003", "trk_016", "trk_025", "trk_006", "trk_028"],
    },
    "pl_chill_evening": {
        "name": "Chill Evening",
        "tracks": ["trk_018", "trk_009", "trk_008", "trk_020", "trk_012"],
    },
}

_SEARCH_FIELDS = {"track": "title", "artist": "artist", "album": "album", "genre": "genre"}


def _playlist_names(track_id: str) -> list[str]:
    return [p["name"] for p in PLAYLISTS.values() if track_id in p["tracks"]]


def _matches(track: dict[str, Any], query: str, kind: str | None) -> bool:
    if kind == "playlist":
        values = _playlist_names(track["id"])
    elif kind is not None:
        values = [track[_SEARCH_FIELDS[kind]] or ""]
    else:
        values = [track[f] or "" for f in _SEARCH_FIELDS.values()] + _playlist_names(track["id"])
    return any(query in normalize(value) for value in values)


def _find_playlist(name: str) -> tuple[str, dict[str, Any]] | None:
    wanted = normalize(name)
    for playlist_id, playlist in PLAYLISTS.items():
        if wanted in (normalize(playlist_id), normalize(playlist["name"])):
            return playlist_id, playlist
    return None


def create_app(clock: Clock | None = None) -> PartnerApp:
    """Return a TuneStream stand-in with fresh subscription state.

    Parameters:
        clock: returns the current aware UTC datetime (renewal dates); defaults to the real time.
    """
    app = PartnerApp("music")
    now = clock or utc_now
    subscriptions: dict[str, dict[str, Any]] = Recent()

    def subscription_of(user_id: str) -> dict[str, Any]:
        # Caller holds app.lock. Ids containing "premium" start subscribed, which keeps tests short.
        if user_id not in subscriptions:
            active = "premium" in user_id.casefold()
            subscriptions[user_id] = {
                "user_id": user_id,
                "active": active,
                "plan": "premium" if active else "free",
                "renews_at": iso(now() + timedelta(days=30)) if active else None,
            }
        return subscriptions[user_id]

    @app.get("/v1/search")
    def search(request: PartnerRequest) -> tuple[int, Any]:
        query = normalize(request.params.get("q", ""))
        if not query:
            raise invalid("q", "Give a search query in the 'q' parameter.", code="missing_field")
        kind = request.params.get("type") or None
        if kind is not None and kind not in SEARCH_TYPES:
            raise invalid("type", f"Unknown search type {kind!r}; expected one of {', '.join(SEARCH_TYPES)}.")
        tracks = [track for track in TRACKS.values() if _matches(track, query, kind)]
        return 200, {"query": request.params["q"], "type": kind, "tracks": tracks}

    @app.get("/v1/tracks/<track_id>")
    def get_track(request: PartnerRequest) -> tuple[int, Any]:
        track_id = request.path_params["track_id"]
        if track_id not in TRACKS:
            raise PartnerError(404, "track_not_found", f"No track with id {track_id!r}.")
        return 200, TRACKS[track_id]

    @app.get("/v1/playlists/<name>/tracks")
    def playlist_tracks(request: PartnerRequest) -> tuple[int, Any]:
        found = _find_playlist(request.path_params["name"])
        if found is None:
            names = ", ".join(p["name"] for p in PLAYLISTS.values())
            raise PartnerError(
                404,
                "playlist_not_found",
                f"No playlist named {request.path_params['name']!r}. Playlists: {names}.",
            )
        playlist_id, playlist = found
        return 200, {
            "playlist": {"id": playlist_id, "name": playlist["name"]},
            "tracks": [TRACKS[track_id] for track_id in playlist["tracks"]],
        }

    @app.get("/v1/offers")
    def offers(request: PartnerRequest) -> tuple[int, Any]:
        return 200, {"offers": [PREMIUM_OFFER]}

    @app.get("/v1/users/<user_id>/subscription")
    def get_subscription(request: PartnerRequest) -> tuple[int, Any]:
        with app.lock:
            return 200, dict(subscription_of(request.path_params["user_id"]))

    @app.post("/v1/users/<user_id>/subscription")
    def buy_subscription(request: PartnerRequest) -> tuple[int, Any]:
        body = json_object(request)
        if body.get("plan") != "premium":
            raise invalid("plan", f"Unknown plan {body.get('plan')!r}; the only plan on offer is 'premium'.")
        user_id = request.path_params["user_id"]
        with app.lock:
            current = subscription_of(user_id)
            if current["active"]:
                raise PartnerError(
                    409, "already_subscribed", f"User {user_id!r} already has TuneStream Premium."
                )
            created = now()
            renews_at = iso(created + timedelta(days=30))
            current.update(active=True, plan="premium", renews_at=renews_at)
            purchase = {
                "id": app.next_id("pur"),
                "user_id": user_id,
                "plan": "premium",
                "offer_id": PREMIUM_OFFER["id"],
                "amount_cents": PREMIUM_OFFER["price_cents"],
                "currency": PREMIUM_OFFER["currency"],
                "status": "active",
                "created_at": iso(created),
                "renews_at": renews_at,
            }
        return 201, purchase

    return app
