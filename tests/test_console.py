"""The web console through Flask's test client: sign-in, CSRF, filters, pages, export, dashboard, My data, escaping."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from urllib.parse import urljoin

import pytest
from conftest import LEDGER_BACKENDS, example_app, raw_sql

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.audit import iter_audit
from skills_sdk.transcripts.keys import create_key, revoke_key

USER = "amzn1.ask.account.ALICE"
SCRIPT = '<script>document.title="pwned"</script>'
SSML = '<speak>Hi <audio src="https://evil.example/a.mp3"/></speak>'


CONFIG = {"SECRET_KEY": "test-secret-key-0123456789abcdef"}


class Keys:
    """The keys of one test database: a developer key, a revoked one, and Alice's user token."""

    def __init__(self, store: TranscriptStore) -> None:
        self.dev = create_key(store, "developer", "pronto-pizza-labs")[1]
        self.revoked = create_key(store, "developer", "pronto-pizza-labs")[1]
        revoke_key(store, self.revoked)
        self.user = create_key(store, "user", USER)[1]


def row(i: int, **over) -> dict:
    base = {"created_at": f"2026-11-{10 + i % 5:02d}T09:{i % 60:02d}:00.000Z", "developer_id": "pronto-pizza-labs",
            "skill": "pizza", "user_id": USER, "session_id": f"S{i // 3}", "request_id": f"R{i}",
            "request_type": "IntentRequest", "intent": "OrderPizzaIntent", "slots": {"size": "large"},
            "utterance": f"order pizza number {i}", "speech": f"Answer {i}.", "latency_ms": float(i % 10 + 1),
            "status": "ok", "capture_mode": "full"}
    base.update(over)
    return base


SEED = [
    row(0, intent=None, request_type="LaunchRequest", utterance="open pizza shop", speech="Welcome to Pizza Shop."),
    row(1, speech="One large pepperoni.", transaction={"kind": "pizza_order", "reference": "P-1", "amount": "18.50",
                                                       "currency": "USD", "status": "placed"}),
    row(2, status="error", error="RuntimeError: oven on fire", speech="Sorry, something went wrong."),
    row(3, intent="OrderStatusIntent", utterance="where is my pizza", speech="Your pizza is in the oven.",
        card={"type": "Simple", "title": "Order", "content": "In the oven"}, directives=["Dialog.Delegate"]),
    row(4, user_id="amzn1.ask.account.BOB", utterance=SCRIPT, speech=SSML),
    row(5, developer_id="freshcart-labs", skill="grocery", utterance="add milk", speech="Milk is in your cart.",
        session_id="G1"),
]


#: The console runs on every ledger backend (SQLite in memory stands for both SQLite forms).
CONSOLE_BACKENDS = [p for p in LEDGER_BACKENDS if p.id != "sqlite"]


@pytest.fixture(params=CONSOLE_BACKENDS)
def app(request, tmp_path):
    store = request.param(request, tmp_path)
    store.record_many(SEED)
    app = example_app(store=store, test_config=CONFIG)
    app.keys = Keys(store)
    yield app
    store.stop()


@pytest.fixture
def keys(app) -> Keys:
    return app.keys


@pytest.fixture
def store(app):
    return app.extensions["skills_sdk"]["store"]


@pytest.fixture
def http(app):
    return app.test_client()


def csrf(http, path="/console/") -> str:
    page = http.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(http, key=None):
    key = http.application.keys.dev if key is None else key
    return http.post("/console/sign-in", data={"key": key, "csrf_token": csrf(http)})


def me_sign_in(http, token=None):
    token = http.application.keys.user if token is None else token
    return http.post("/console/me/sign-in", data={"token": token, "csrf_token": csrf(http, "/console/me")})


def shown_turns(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'id="turn-(\d+)"', html)}


# -- sign-in -----------------------------------------------------------------------------------------


def test_console_asks_for_a_key_with_a_post_form_and_shows_no_data(http):
    page = http.get("/console/").get_data(as_text=True)
    assert '<form method="post" action="/console/sign-in"' in page
    assert 'type="password" id="key" name="key"' in page
    assert "turn-" not in page


def test_a_key_in_the_url_does_not_sign_in(http, keys):
    page = http.get(f"/console/?key={keys.dev}").get_data(as_text=True)
    assert "Developer API key" in page and "pronto-pizza-labs" not in page


def test_signing_in_with_a_developer_key_shows_that_developers_conversations(http, keys):
    resp = sign_in(http)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/console/")
    assert keys.dev not in resp.headers["Location"]
    page = http.get("/console/").get_data(as_text=True)
    assert "developer <b>pronto-pizza-labs</b>" in page
    assert shown_turns(page) == {1, 2, 3, 4, 5}  # ids are 1-based; row 6 is freshcart's


@pytest.mark.parametrize("key, message", [
    ("", "Paste your developer API key"),
    ("sk_dev_wrong", "no live developer key matches it"),
    ("revoked", "no live developer key matches it: it is mistyped, incomplete, or was revoked"),
    ("user", "that is a user key (sk_user_…); sign in to My data with it instead"),
])
def test_a_missing_wrong_revoked_or_user_key_is_a_clear_message_on_the_sign_in_page(http, keys, key, message):
    resp = sign_in(http, getattr(keys, key, key))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 401
    assert message in page and 'id="sign-in-error"' in page
    assert "Traceback" not in page
    assert "turn-" not in http.get("/console/").get_data(as_text=True)


def session_cookie(http) -> str:
    return http.get_cookie("session").value


def replay(app, cookie: str):
    """A second browser presenting ``cookie``: what the console gives it."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def test_the_cookie_holds_only_a_random_session_id_never_the_key(http, store, keys):
    sign_in(http)
    me_sign_in(http)
    cookie = session_cookie(http)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie)
    assert keys.dev not in cookie and keys.user not in cookie
    rows = raw_sql(store, "SELECT * FROM console_sessions")
    assert len(rows) == 1 and cookie not in repr(rows) and keys.dev not in repr(rows)
    assert rows[0][1] == keys_id(store, "developer") and rows[0][2] == keys_id(store, "user")


def keys_id(store, kind: str) -> str:
    return raw_sql(store, "SELECT id FROM api_keys WHERE kind = ? AND revoked_at IS NULL", (kind,))[0][0]


def test_a_cookie_replayed_after_sign_out_opens_nothing(app, http, store):
    sign_in(http)
    old = session_cookie(http)
    assert replay(app, old).get("/console/export?format=jsonl").status_code == 200
    http.post("/console/sign-out", data={"csrf_token": csrf(http)})
    assert "turn-" not in http.get("/console/").get_data(as_text=True)
    thief = replay(app, old)
    assert "turn-" not in thief.get("/console/").get_data(as_text=True)
    resp = thief.get("/console/export?format=jsonl")
    assert resp.status_code == 302 and b"order pizza" not in resp.get_data()
    assert raw_sql(store, "SELECT count(*) FROM console_sessions")[0][0] == 0


def test_a_cookie_replayed_after_its_key_is_revoked_opens_nothing(app, http, store, keys):
    sign_in(http)
    old = session_cookie(http)
    revoke_key(store, keys.dev)
    assert raw_sql(store, "SELECT count(*) FROM console_sessions")[0][0] == 0
    for browser in (http, replay(app, old)):
        assert "turn-" not in browser.get("/console/").get_data(as_text=True)
        assert browser.get("/console/export?format=jsonl").status_code == 302


def test_a_key_revoked_behind_the_ledgers_back_still_ends_the_session(http, store, keys):
    """The session row is re-read with its key on every request: a revoked key opens nothing."""
    me_sign_in(http)
    sign_in(http)
    raw_sql(store, "UPDATE api_keys SET revoked_at = '2026-12-01T00:00:00.000Z' WHERE kind = 'developer'")
    page = http.get("/console/").get_data(as_text=True)
    assert "You were signed out: the key of this session was revoked" in page and "turn-" not in page
    assert "order pizza number 1" in http.get("/console/me").get_data(as_text=True)  # My data stays signed in


def test_an_expired_session_opens_nothing(app, http, store):
    sign_in(http)
    raw_sql(store, "UPDATE console_sessions SET expires_at = '2000-01-01T00:00:00.000Z'")
    assert "turn-" not in http.get("/console/").get_data(as_text=True)


def test_sign_out_of_the_console_keeps_my_data_signed_in_under_a_new_id(app, http):
    me_sign_in(http)
    sign_in(http)
    old = session_cookie(http)
    http.post("/console/sign-out", data={"csrf_token": csrf(http)})
    assert "turn-" not in http.get("/console/").get_data(as_text=True)
    assert "order pizza number 1" in http.get("/console/me").get_data(as_text=True)
    assert session_cookie(http) != old
    assert "order pizza number 1" not in replay(app, old).get("/console/me").get_data(as_text=True)


def test_two_servers_on_one_database_share_sessions_without_a_secret(app, http, store):
    """Several workers: a sign-in made on one is honoured by another, and its CSRF token too."""
    sign_in(http)
    other = example_app(store=store).test_client()
    other.set_cookie("session", session_cookie(http))
    assert "turn-" in other.get("/console/").get_data(as_text=True)
    assert other.post("/console/sign-out", data={"csrf_token": csrf(http)}).status_code == 303
    assert "turn-" not in http.get("/console/").get_data(as_text=True)


def test_session_cookie_is_httponly_samesite_lax_and_a_forged_one_is_ignored(app, http):
    cookie = sign_in(http).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    forger = app.test_client()
    value = cookie.split(";")[0].split("=", 1)[1]
    forger.set_cookie("session", value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    assert "turn-" not in forger.get("/console/").get_data(as_text=True)


def test_console_pages_forbid_inline_scripts_and_framing(http):
    headers = http.get("/console/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_cookie_is_secure_when_the_console_is_served_over_https(app):
    http = app.test_client()
    assert "Secure" not in sign_in(http).headers["Set-Cookie"]
    https = app.test_client()
    page = https.get("/console/", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = https.post("/console/sign-in", base_url="https://localhost",
                      data={"key": app.keys.dev, "csrf_token": token})
    assert resp.status_code == 303 and "; Secure" in resp.headers["Set-Cookie"]


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize("method, path, status", [("GET", "/console/no-such-page", 404),
                                                  ("GET", "/console/sign-in", 405),
                                                  ("POST", "/console/dashboard", 405)])
def test_a_console_address_that_has_no_page_answers_with_a_page_and_the_consoles_headers(http, method, path, status):
    """A mistyped console address was a JSON body, without the console's CSP or framing headers."""
    csrf(http)
    resp = http.open(path, method=method, headers=BROWSER, data={"csrf_token": csrf(http)})
    assert resp.status_code == status and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "<h1>" in page and 'href="/console/"' in page and "Traceback" not in page
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    api = http.open(path, method=method, headers={"Accept": "application/json"}, data={"csrf_token": csrf(http)})
    assert api.status_code == status and api.get_json()["error"]["code"]
    assert http.get("/no-such-page", headers=BROWSER).mimetype == "application/json"  # outside the console: JSON


def test_a_console_page_that_fails_is_a_page_saying_so(http, monkeypatch, caplog):
    from skills_sdk.server import console_data

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    sign_in(http)
    monkeypatch.setattr(console_data, "query", broken)
    resp = http.get("/console/", headers=BROWSER)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 500 and resp.mimetype == "text/html"
    assert "the error was logged" in page and "disk on fire" not in page and "Traceback" not in page
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "disk on fire" in caplog.text


# -- CSRF --------------------------------------------------------------------------------------------

POSTS = ["/console/sign-in", "/console/sign-out", "/console/me/sign-in", "/console/me/sign-out",
         "/console/me/capture-mode", "/console/me/erase"]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_a_post_without_the_sessions_csrf_token_is_refused(http, path, token):
    csrf(http)  # the session has a token; the form does not send it back
    data = {"key": http.application.keys.dev, "token": http.application.keys.user, "mode": "full", "confirm": "yes"}
    if token:
        data["csrf_token"] = token
    resp = http.post(path, data=data)
    assert resp.status_code == 403
    assert "security token is" in resp.get_data(as_text=True)


def test_a_csrf_failure_is_json_for_a_json_client(http):
    resp = http.post("/console/me/erase", json={"confirm": "yes"}, headers={"X-CSRF-Token": "nope"})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "csrf_failed"


def test_a_forged_cross_site_erase_changes_nothing(http, store):
    me_sign_in(http)
    before = store.count(user_id=USER)
    assert http.post("/console/me/erase", data={"confirm": "yes"}).status_code == 403
    assert store.count(user_id=USER) == before


@pytest.mark.parametrize("path", [*POSTS, "/console/no-such-page"])
def test_a_refused_form_from_another_site_sets_no_cookie(http, path):
    """The form arrives without the SameSite cookie; a new id in the refusal replaced the visitor's, signing them out."""
    for origin in ("http://evil.example", "null"):
        resp = http.post(path, data={"key": http.application.keys.dev}, headers={"Origin": origin, **BROWSER})
        assert resp.status_code in (403, 404) and "Set-Cookie" not in resp.headers


def test_signing_in_gives_a_new_csrf_token(http):
    old = csrf(http)
    sign_in(http)
    assert csrf(http) != old


# -- conversations, filters, pages ------------------------------------------------------------------


def test_turns_show_utterance_slots_speech_card_directives_transaction_and_latency(http):
    sign_in(http)
    page = http.get("/console/").get_data(as_text=True)
    for text in ("order pizza number 1", "size</span>=<b>large</b>", "One large pepperoni.", "In the oven",
                 "Dialog.Delegate", "P-1</span> <b>18.50 USD</b>", "2.0 ms", "RuntimeError: oven on fire"):
        assert text in page


def test_turns_are_grouped_into_one_thread_per_session(http):
    sign_in(http)
    page = http.get("/console/").get_data(as_text=True)
    assert page.count('<section class="thread">') == 2  # S0 (rows 0-2) and S1 (rows 3-4)
    s0 = page.split('pizza · <span class="sid">S0</span>')[1].split('<section class="thread">')[0]
    assert shown_turns(s0) == {1, 2, 3}
    assert s0.index('id="turn-1"') < s0.index('id="turn-3"')  # oldest turn first inside a thread


@pytest.mark.parametrize("query, expected", [
    ("skill=pizza", {1, 2, 3, 4, 5}),
    ("skill=grocery", set()),  # another developer's skill: nothing, not their rows
    ("user_id=amzn1.ask.account.BOB", {5}),
    ("intent=OrderStatusIntent", {4}),
    ("errors=1", {3}),
    ("has_transaction=1", {2}),
    ("q=oven", {4}),  # what was said (utterance, speech), not the error text
    ("q=PEPPERONI", {2}),
    ("since=2026-11-12&until=2026-11-13", {3, 4}),
    ("since=2026-11-12T00:00:00Z", {3, 4, 5}),
    ("session_id=S1", {4, 5}),
])
def test_filters_pick_the_matching_turns(http, query, expected):
    sign_in(http)
    assert shown_turns(http.get(f"/console/?{query}").get_data(as_text=True)) == expected


@pytest.mark.parametrize("query, message", [
    ("since=yesterday", "is not a date"),
    ("q=" + "x" * 500, "at most 200 are accepted"),
    ("cursor=abc", "start again from the first page"),
])
def test_bad_filter_values_are_explained_not_a_server_error(http, query, message):
    sign_in(http)
    resp = http.get(f"/console/?{query}")
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)


def test_a_conversation_page_shows_every_turn_of_the_session_in_order(http):
    sign_in(http)
    page = http.get("/console/conversations/S0").get_data(as_text=True)
    assert re.findall(r'id="turn-(\d+)"', page) == ["1", "2", "3"]


def test_a_thread_links_to_its_own_conversation_whatever_its_session_id(http, store):
    """The caller of /alexa picks the session id: "../../me" in a link's path was My data once the browser resolved it."""
    ids = ["../../me", ".", "a/b?c=1#d", "%2e%2e%2fme"]
    store.record_many([row(40 + i, session_id=sid) for i, sid in enumerate(ids)])
    sign_in(http)
    page = http.get("/console/").get_data(as_text=True)
    threads = re.findall(r'<a class="open" href="([^"]+)">pizza · <span class="sid">([^<]*)</span>', page)
    assert {html.unescape(sid) for _, sid in threads} >= set(ids)
    for href, sid in threads:
        link = urljoin("http://localhost/console/", html.unescape(href))  # as a browser resolves it
        opened = http.get(link)
        assert opened.status_code == 200, (sid, link)
        assert f'<h1>pizza · <span class="sid">{sid}</span></h1>' in opened.get_data(as_text=True), (sid, link)


def test_another_developers_conversation_is_not_found(http):
    sign_in(http)
    resp = http.get("/console/conversations/G1")
    assert resp.status_code == 404 and "Milk" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/console/conversations/S0", "/console/dashboard", "/console/export"])
def test_developer_pages_need_a_sign_in(http, path):
    resp = http.get(path)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/")


@pytest.mark.parametrize("path", ["/console/?user_id=%00", "/console/?skill=pizza&intent=x%00",
                                  "/console/export?format=csv&session_id=%00", "/console/conversation?session_id=%00",
                                  "/console/conversations/S%00", "/console/dashboard?skill=%00"])
def test_a_nul_in_a_filter_or_address_is_a_bad_request_not_a_server_error(http, path):
    """PostgreSQL cannot compare text with a NUL in it: each of these was a 500 on that backend."""
    sign_in(http)
    resp = http.get(path, headers=BROWSER)
    assert resp.status_code == 400 and "holds a NUL character" in resp.get_data(as_text=True)
    assert http.get(path, headers={"Accept": "application/json"}).get_json()["error"]["code"] == "invalid_value"


def test_an_erase_naming_a_skill_with_a_nul_erases_nothing(http, store):
    assert me_sign_in(http).status_code == 303
    before = store.count(user_id=USER)
    resp = http.post("/console/me/erase", data={"skill": "pizza\x00", "confirm": "yes",
                                                "csrf_token": csrf(http, "/console/me")})
    assert resp.status_code == 400 and store.count(user_id=USER) == before


#: Rows of the big console: 200 pages of 50; what the test reads is the statements, which no row count changes.
BIG = 10_000


@pytest.fixture(scope="module")
def big_app():
    store = TranscriptStore(":memory:")
    # Metadata-only rows (no words), so the fixture does not spend its time building the full-text index.
    store.record_many([{"created_at": "2026-11-10T09:00:00.000Z", "developer_id": "pronto-pizza-labs",
                        "skill": "pizza", "user_id": USER, "session_id": f"S{i // 4}", "intent": "OrderPizzaIntent",
                        "latency_ms": 3.0, "status": "ok", "capture_mode": "metadata"} for i in range(BIG)])
    app = example_app(store=store, test_config=CONFIG)
    app.keys = Keys(store)
    return app


def test_a_page_of_10k_transcripts_reads_one_keyset_page_and_links_the_next(big_app):
    http = big_app.test_client()
    sign_in(http)
    store = big_app.extensions["skills_sdk"]["store"]
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        first = http.get("/console/?skill=pizza").get_data(as_text=True)
    finally:
        store.db.conn.set_trace_callback(None)
    reads = [s for s in statements if "FROM transcripts" in s and "ORDER BY t.id DESC" in s]
    assert reads and all("LIMIT" in s for s in reads)
    assert shown_turns(first) == set(range(BIG - 49, BIG + 1))
    next_url = re.search(r'href="([^"]+)" id="next-page"', first).group(1).replace("&amp;", "&")
    assert "cursor=" in next_url and "skill=pizza" in next_url
    second = http.get(next_url).get_data(as_text=True)
    assert shown_turns(second) == set(range(BIG - 99, BIG - 49))
    assert 'id="first-page"' in second


# -- export --------------------------------------------------------------------------------------------


def test_export_jsonl_streams_the_current_filter(http):
    sign_in(http)
    resp = http.get("/console/export?format=jsonl&has_transaction=1")
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    rows = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
    assert [r["id"] for r in rows] == [2]
    assert rows[0]["transaction"]["amount"] == "18.50"


def test_export_csv_has_a_header_and_neutralises_spreadsheet_formulas(http, store):
    store.record(row(9, utterance="=HYPERLINK(\"http://x\")", speech="ok"))
    sign_in(http)
    text = http.get("/console/export?format=csv&skill=pizza").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6 and rows[0]["utterance"].startswith("'=HYPERLINK")
    assert {r["developer_id"] for r in rows} == {"pronto-pizza-labs"}


def test_export_refuses_an_unknown_format_with_json(http):
    sign_in(http)
    resp = http.get("/console/export?format=xlsx")
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_format"


# -- dashboard -----------------------------------------------------------------------------------------


def test_dashboard_shows_requests_errors_transactions_and_latency_per_skill(app, store):
    from skills_sdk.transcripts.record import utcnow_iso

    today = utcnow_iso()
    store.record_many([row(i, created_at=today, latency_ms=float(i + 1), session_id="D",
                           status="error" if i < 2 else "ok",
                           transaction={"kind": "pizza_order", "reference": f"P{i}", "amount": "10.25",
                                        "currency": "USD"} if i < 3 else None) for i in range(100)])
    http = app.test_client()
    sign_in(http)
    page = http.get("/console/dashboard?skill=pizza&days=7").get_data(as_text=True)
    board = page.split('id="board-pizza"')[1]
    assert '<dd class="requests">100</dd>' in board
    assert '<dd class="error-rate">2.0%</dd>' in board
    assert '<dd class="transactions">3</dd>' in board and "30.75 USD" in board
    assert '<dd class="p50">50.0 ms</dd>' in board and '<dd class="p99">99.0 ms</dd>' in board
    assert board.count('<rect class="ok"') == 7 and '<rect class="err"' in board


def test_a_skill_without_transcripts_has_a_dashboard_of_zeros(app, store):
    http = app.test_client()
    sign_in(http, create_key(store, "developer", "freshcart-labs")[1])
    board = http.get("/console/dashboard?days=7").get_data(as_text=True).split('id="board-grocery"')[1]
    assert '<dd class="requests">0</dd>' in board and "peak 0</figcaption>" in board  # "peak 1" was shown
    assert board.count('height="0.0"') == 7  # seven empty bars


# -- My data ---------------------------------------------------------------------------------------------


def test_my_data_shows_every_transcript_of_the_user_grouped_by_skill_and_developer(http, store):
    store.record(row(20, developer_id="freshcart-labs", skill="grocery", speech="Eggs added."))
    assert me_sign_in(http).status_code == 303
    page = http.get("/console/me").get_data(as_text=True)
    assert shown_turns(page) == {1, 2, 3, 4, 6, 7}  # not BOB's row 5, not another user's
    assert "grocery <span class=\"dev\">by freshcart-labs</span>" in page
    assert "pizza <span class=\"dev\">by pronto-pizza-labs</span>" in page


@pytest.mark.parametrize("token, message", [("", "Paste your user token"), ("sk_user_wrong", "no live user key matches it")])
def test_my_data_refuses_a_missing_or_wrong_token(http, token, message):
    resp = me_sign_in(http, token)
    assert resp.status_code == 401 and message in resp.get_data(as_text=True)


def test_my_data_download_is_all_of_the_users_transcripts_as_json(http):
    me_sign_in(http)
    resp = http.get("/console/me/download.json")
    body = json.loads(resp.get_data(as_text=True))
    assert body["user_id"] == USER
    assert sorted(r["id"] for r in body["transcripts"]) == [1, 2, 3, 4, 6]


@pytest.mark.parametrize("mode", ["full", "redacted", "metadata"])
def test_my_data_sets_the_capture_mode(http, store, mode):
    me_sign_in(http)
    resp = http.post("/console/me/capture-mode", data={"mode": mode, "csrf_token": csrf(http, "/console/me")})
    assert resp.status_code == 303
    assert store.capture_mode(USER) == mode
    assert f'value="{mode}" checked' in http.get("/console/me").get_data(as_text=True)


def test_my_data_refuses_an_unknown_capture_mode(http, store):
    me_sign_in(http)
    http.post("/console/me/capture-mode", data={"mode": "everything", "csrf_token": csrf(http, "/console/me")})
    assert store.capture_mode(USER) == "redacted"
    assert "Unknown capture mode" in http.get("/console/me").get_data(as_text=True)


def test_erase_asks_for_confirmation_before_erasing(http, store):
    me_sign_in(http)
    page = http.post("/console/me/erase", data={"csrf_token": csrf(http, "/console/me")}).get_data(as_text=True)
    assert "permanently removes <b>5</b> transcripts" in page and 'id="confirm-erase"' in page
    assert store.count(user_id=USER) == 5


@pytest.mark.parametrize("form, left", [({}, 0), ({"skill": "pizza", "developer_id": "pronto-pizza-labs"}, 2)])
def test_erase_after_confirmation_removes_the_data_and_shows_the_receipt(http, store, form, left):
    store.record(row(20, developer_id="freshcart-labs", skill="grocery"))
    me_sign_in(http)
    token = csrf(http, "/console/me")
    page = http.post("/console/me/erase", data={**form, "confirm": "yes", "csrf_token": token}).get_data(as_text=True)
    assert 'id="receipt"' in page
    assert store.count(user_id=USER) == left
    assert store.count(user_id="amzn1.ask.account.BOB") == 1


# -- escaping ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, sign", [("/console/?user_id=amzn1.ask.account.BOB", "dev"),
                                         ("/console/conversations/S1", "dev"),
                                         ("/console/me", "user")])
def test_transcript_html_and_ssml_show_as_text(http, store, path, sign):
    store.record(row(30, utterance=SCRIPT, speech=SSML, session_id="S1"))
    sign_in(http) if sign == "dev" else me_sign_in(http)
    page = http.get(path).get_data(as_text=True)
    assert SCRIPT not in page and "<speak>" not in page and "<audio" not in page
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in page
    assert "&lt;speak&gt;Hi &lt;audio src=" in page


# -- simulator ---------------------------------------------------------------------------------------------


def test_simulator_page_lists_hosted_skills_and_loads_its_script_without_sign_in(http):
    page = http.get("/console/simulator?skill=pizza").get_data(as_text=True)
    assert '<option value="pizza" selected>' in page
    assert 'data-endpoint="/simulate/SKILL"' in page
    assert "/console/static/simulator.js" in page
    script = http.get("/console/static/simulator.js").get_data(as_text=True)
    assert "textContent" in script and "innerHTML" not in script


def test_simulator_page_is_off_when_configured_off():
    app = example_app(store=TranscriptStore(":memory:"), test_config={**CONFIG, "SKILLS_CONSOLE_SIMULATOR": False})
    http = app.test_client()
    assert http.get("/console/simulator").status_code == 404
    assert "/console/simulator" not in http.get("/console/").get_data(as_text=True)


# -- audit -------------------------------------------------------------------------------------------------


def test_console_reads_and_changes_are_in_the_audit_log_under_the_key_id(http, store):
    sign_in(http)
    http.get("/console/?skill=pizza")
    http.get("/console/export?format=jsonl")
    me_sign_in(http)
    http.post("/console/me/capture-mode", data={"mode": "metadata", "csrf_token": csrf(http, "/console/me")})
    actions = [(r["action"], r["actor"]) for r in iter_audit(store)]
    assert {a for a, _ in actions} >= {"list", "export", "consent", "user_list"}
    assert all(actor.startswith("key_") for a, actor in actions if a in ("list", "export", "consent"))


def test_errors_only_means_the_same_rows_on_the_page_in_the_export_and_on_the_dashboard(http, store):
    """An alexa_error row was listed, then missing from the filter's export and from the dashboard's count."""
    from skills_sdk.transcripts.record import utcnow_iso

    today = utcnow_iso()  # the dashboard counts the last days
    store.record_many([row(6, request_type="SessionEndedRequest", intent=None, status="alexa_error",
                           error="INVALID_RESPONSE: bad SSML", created_at=today),
                       row(7, status="error", error="RuntimeError: x", created_at=today)])
    sign_in(http)
    listed = shown_turns(http.get("/console/?errors=1").get_data(as_text=True))
    exported = {json.loads(line)["id"] for line in
                http.get("/console/export?format=jsonl&errors=1").get_data(as_text=True).splitlines()}
    assert listed == exported == {3, 7, 8}
    board = http.get("/console/dashboard?skill=pizza&days=7").get_data(as_text=True).split('id="board-pizza"')[1]
    assert '<dd class="sub">2 errors</dd>' in board  # today's two failures, Alexa's one counted


def test_a_form_posted_from_another_port_of_this_host_is_refused(http, keys):
    """A page on another port planted a session id, fetched its token and signed the victim in as another developer."""
    token = csrf(http)
    resp = http.post("/console/sign-in", data={"key": keys.dev, "csrf_token": token},
                     headers={"Origin": "http://localhost:8772"})
    assert resp.status_code == 403 and "not from the console at http://localhost" in resp.get_data(as_text=True)
    assert http.get("/console/dashboard").status_code == 302  # not signed in
    same = http.post("/console/sign-in", data={"key": keys.dev, "csrf_token": token},
                     headers={"Origin": "http://localhost"})
    assert same.status_code in (302, 303) and http.get("/console/dashboard").status_code == 200


@pytest.mark.parametrize("origin", ["http://[bad", "http://[::1"])
def test_a_form_whose_origin_is_no_url_is_refused_as_from_another_site(http, keys, origin):
    resp = http.post("/console/sign-in", data={"key": keys.dev, "csrf_token": csrf(http)},
                     headers={"Origin": origin, "Accept": "application/json"})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "cross_origin"
    assert http.get("/console/dashboard").status_code == 302  # not signed in


@pytest.mark.parametrize("hops", [0, 1], ids=["direct", "behind-a-proxy"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_form_posted_from_the_other_scheme_of_this_host_is_refused(tmp_path, hops, scheme):
    """An http:// page of the console's host, which a network attacker can write, posted to the https:// console."""
    app = example_app(db=str(tmp_path / "t.db"), test_config={**CONFIG, "SKILLS_PROXY_HOPS": hops})
    store = app.extensions["skills_sdk"]["store"]
    key = create_key(store, "developer", "pronto-pizza-labs")[1]
    http = app.test_client()
    if hops:  # the scheme and host the load balancer says the browser used
        host, base, forwarded = "skills.example.com", "http://localhost", {"X-Forwarded-Proto": scheme,
                                                                           "X-Forwarded-Host": "skills.example.com"}
    else:
        host, base, forwarded = "localhost", f"{scheme}://localhost", {}
    other = "http" if scheme == "https" else "https"
    try:
        page = http.get("/console/", base_url=base, headers=forwarded).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

        def post(origin: str):
            return http.post("/console/sign-in", base_url=base, data={"key": key, "csrf_token": token},
                             headers={**forwarded, "Origin": origin, "Accept": "application/json"})

        refused = post(f"{other}://{host}")
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "cross_origin"
        assert f"not from the console at {scheme}://{host}" in refused.get_json()["error"]["message"]
        assert http.get("/console/dashboard", base_url=base, headers=forwarded).status_code == 302  # not signed in
        assert post(f"{scheme}://{host}").status_code in (302, 303)
        assert http.get("/console/dashboard", base_url=base, headers=forwarded).status_code == 200
    finally:
        store.stop()


def test_an_erase_naming_a_skill_longer_than_any_name_is_refused_and_erases_nothing(http, store):
    """A 20,000-character skill got a confirmation, then a receipt for 0 rows: the filters cap names at 200."""
    assert me_sign_in(http).status_code == 303
    before = store.count(user_id=USER)
    resp = http.post("/console/me/erase", data={"skill": "x" * 20_000, "confirm": "yes",
                                                "csrf_token": csrf(http, "/console/me")})
    assert resp.status_code == 400 and "names are at most 200. Nothing was erased." in resp.get_data(as_text=True)
    assert store.count(user_id=USER) == before
