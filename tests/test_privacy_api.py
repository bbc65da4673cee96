"""The /v1 transcript API: each developer sees only their own rows, users reach theirs everywhere, bad input is 400."""

from __future__ import annotations

import json

import pytest
from _privacy_kit import note_skill, scrubbed_later, speak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skills_sdk.server import create_app, get_host
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.keys import create_key, revoke_key

ALICE, BOB = "amzn1.ask.account.ALICE", "amzn1.ask.account.BOB"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two developers (dev-a: notes, dev-b: shop), two users, rows in both, keys for everyone."""
    store = TranscriptStore(tmp_path_factory.mktemp("api") / "t.db")
    app = create_app(skills=[note_skill("notes", "dev-a"), note_skill("shop", "dev-b")], store=store,
                     test_config={"TESTING": True, "SECRET_KEY": "test"})
    host = get_host(app)
    for user in (ALICE, BOB):
        for skill in ("notes", "shop"):
            speak(host, skill, user, f"pepperoni for {skill}", session="S1")
            speak(host, skill, user, f"olives for {skill}", intent="BuyIntent", session="S2")
    keys = {name: create_key(store, kind, subject)[1] for name, kind, subject in (
        ("a", "developer", "dev-a"), ("b", "developer", "dev-b"), ("alice", "user", ALICE), ("bob", "user", BOB))}
    return app, store, keys


def get(app, url, key, method="get", **kw):
    return getattr(app.test_client(), method)(url, headers={"Authorization": f"Bearer {key}"}, **kw)


def test_a_developer_lists_only_their_own_transcripts(world):
    app, store, keys = world
    for name, dev, skill in (("a", "dev-a", "notes"), ("b", "dev-b", "shop")):
        body = get(app, "/v1/transcripts", keys[name]).json
        assert {(r["developer_id"], r["skill"]) for r in body["transcripts"]} == {(dev, skill)}
        assert len(body["transcripts"]) == 4


@pytest.mark.parametrize("query", [
    "skill=shop", "developer_id=dev-b", "user_id=amzn1.ask.account.BOB&skill=shop", "session_id=shop-S1",
    "intent=BuyIntent&skill=shop", "q=shop", "has_transaction=true&skill=shop", "since=2000-01-01&skill=shop",
])
def test_no_filter_reaches_another_developers_rows(world, query):
    app, store, keys = world
    r = get(app, f"/v1/transcripts?{query}", keys["a"])
    assert r.status_code in (200, 400)
    assert all(row["developer_id"] == "dev-a" for row in (r.json.get("transcripts") or []))
    assert "dev-b" not in r.get_data(as_text=True) or r.status_code == 400


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(skill=st.sampled_from(["notes", "shop", "x", None]), user=st.sampled_from([ALICE, BOB, "u", None]),
       intent=st.sampled_from(["NoteIntent", "BuyIntent", None]), q=st.sampled_from(["pepperoni", "olives", "shop",
                                                                                        None]),
       tx=st.sampled_from(["true", "false", None]))
def test_every_filter_combination_stays_inside_the_developer(world, skill, user, intent, q, tx):
    app, store, keys = world
    params = {k: v for k, v in (("skill", skill), ("user_id", user), ("intent", intent), ("q", q),
                                ("has_transaction", tx)) if v}
    for name, dev in (("a", "dev-a"), ("b", "dev-b")):
        r = get(app, "/v1/transcripts", keys[name], query_string=params)
        assert r.status_code == 200
        rows = r.json["transcripts"]
        assert all(row["developer_id"] == dev for row in rows)
        expected = [row for row in store.iter_transcripts(developer_id=dev)
                    if (not skill or row["skill"] == skill) and (not user or row["user_id"] == user)
                    and (not intent or row["intent"] == intent)
                    and (not q or q in (row["speech"] or "") + " " + (row["utterance"] or ""))
                    and (tx is None or (row["transaction"] is not None) == (tx == "true"))]
        assert sorted(row["id"] for row in rows) == sorted(row["id"] for row in expected)


def test_pages_follow_the_cursor_without_gaps_or_repeats(world):
    app, store, keys = world
    seen, cursor = [], None
    while True:
        qs = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        body = get(app, "/v1/transcripts", keys["a"], query_string=qs).json
        seen += [r["id"] for r in body["transcripts"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 4


def test_another_developers_cursor_is_refused(world):
    app, store, keys = world
    cursor = get(app, "/v1/transcripts?limit=1", keys["b"]).json["next_cursor"]
    r = get(app, f"/v1/transcripts?cursor={cursor}", keys["a"])
    assert r.status_code == 400 and r.json["error"]["param"] == "cursor"


@pytest.mark.parametrize("query, param", [
    ("cursor=abc", "cursor"), ("cursor=MTIzLmFiYw", "cursor"), ("cursor=%00", "cursor"), ("cursor=", "cursor"),
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"), ("since=yesterday", "since"),
    ("until=2026-13-01", "until"), ("has_transaction=maybe", "has_transaction"), ("q=%22%22", "q"),
    ("colour=red", "colour"), ("skill=", "skill"),
    # int() takes these; a limit is ASCII digits
    ("limit=%20%205", "limit"), ("limit=%D9%A5", "limit"), ("limit=1_0", "limit"), ("limit=%2B5", "limit"),
    # a filter given twice kept its first value without a word; a NUL failed in PostgreSQL
    ("skill=notes&skill=shop", "skill"), ("limit=1&limit=500", "limit"), ("status=ok&status=error", "status"),
    ("user_id=u%00v", "user_id"), ("q=pepperoni%00", "q"),
])
def test_malformed_parameters_are_400_naming_the_parameter(world, query, param):
    app, store, keys = world
    r = get(app, f"/v1/transcripts?{query}", keys["a"])
    assert r.status_code == 400
    assert r.json["error"]["param"] == param
    assert list(r.json["error"]["fields"]) == [param]  # the shape every endpoint's 4xx shares


def test_an_empty_page_for_a_misspelled_skill_names_the_developers_own_skill_meant(world):
    app, store, keys = world
    typo = get(app, "/v1/transcripts?skill=notez", keys["a"])
    assert typo.status_code == 200 and typo.json["transcripts"] == []
    assert typo.json["hint"] == "No skill named 'notez' among yours served here; did you mean skill=notes?"
    for query in ("skill=shopp", "skill=zebra", "skill=notes&user_id=nobody"):  # another's skill; nothing near; no typo
        r = get(app, f"/v1/transcripts?{query}", keys["a"])
        assert r.status_code == 200 and r.json == {"transcripts": [], "next_cursor": None}


def test_a_misspelled_parameter_names_the_one_meant_among_all_accepted(world):
    app, store, keys = world
    message = get(app, "/v1/transcripts?lmit=1", keys["a"]).json["error"]["message"]
    assert message.startswith("lmit: unknown parameter(s) lmit; did you mean 'limit'? use skill, user_id")
    assert message.endswith(", limit, cursor.")


def test_one_transcript_by_id_and_foreign_or_missing_ids_look_the_same(world):
    app, store, keys = world
    mine = next(store.iter_transcripts(developer_id="dev-a"))["id"]
    theirs = next(store.iter_transcripts(developer_id="dev-b"))["id"]
    assert get(app, f"/v1/transcripts/{mine}", keys["a"]).json["id"] == mine
    foreign = get(app, f"/v1/transcripts/{theirs}", keys["a"])
    missing = get(app, "/v1/transcripts/999999", keys["a"])
    junk = get(app, "/v1/transcripts/1%20OR%201=1", keys["a"])
    assert foreign.status_code == missing.status_code == junk.status_code == 404
    assert foreign.data == missing.data == junk.data
    # digits that are not ASCII: "²" made int() fail (a 500), "١" (Arabic one) and "１" (full width) read as 1
    for odd in ("%C2%B2", "%D9%A1", "%EF%BC%91"):
        r = get(app, f"/v1/transcripts/{odd}", keys["a"])
        assert r.status_code == 404 and r.data == missing.data, odd


def test_export_streams_only_the_developers_rows_as_jsonl(world):
    app, store, keys = world
    r = get(app, "/v1/transcripts/export?has_transaction=true", keys["b"], buffered=False)
    assert r.is_streamed
    lines = [json.loads(x) for x in r.get_data(as_text=True).splitlines()]
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    assert {(x["developer_id"], x["intent"]) for x in lines} == {("dev-b", "BuyIntent")} and len(lines) == 2


@pytest.mark.parametrize("query", ["", "?skill=notes", "?user_id=" + BOB, "?q=pepperoni", "?skill=shop"])
def test_export_holds_exactly_the_rows_the_pages_hold(world, query):
    """Exports without a search are built by the ledger (oldest first), searches page newest first: same rows."""
    app, store, keys = world
    pages = get(app, "/v1/transcripts" + query + ("&" if query else "?") + "limit=500", keys["a"]).json
    export = [json.loads(x) for x in get(app, "/v1/transcripts/export" + query, keys["a"]).get_data(as_text=True)
              .splitlines()]
    assert sorted(export, key=lambda r: r["id"]) == sorted(pages["transcripts"], key=lambda r: r["id"])
    assert all(row["developer_id"] == "dev-a" for row in export)
    if "q=" not in query and len(export) > 1:
        assert [r["id"] for r in export] == sorted(r["id"] for r in export)


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer sk_dev_wrong", "Basic abc", "Bearer sk_user_x"])
def test_missing_or_wrong_keys_are_401_json(world, header):
    app, store, keys = world
    r = app.test_client().get("/v1/transcripts", headers={"Authorization": header} if header else {})
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthorized"


def test_a_revoked_key_stops_working_at_once(world):
    app, store, keys = world
    info, key = create_key(store, "developer", "dev-a")
    assert get(app, "/v1/transcripts", key).status_code == 200
    revoke_key(store, info.id)
    assert get(app, "/v1/transcripts", key).status_code == 401


def test_a_user_token_reads_the_users_rows_across_developers(world):
    app, store, keys = world
    body = get(app, f"/v1/users/{ALICE}/transcripts", keys["alice"]).json
    assert {r["user_id"] for r in body["transcripts"]} == {ALICE}
    assert {r["developer_id"] for r in body["transcripts"]} == {"dev-a", "dev-b"}


@pytest.mark.parametrize("method", ["get", "delete"])
def test_a_token_for_another_user_or_a_developer_key_is_403(world, method):
    app, store, keys = world
    assert get(app, f"/v1/users/{ALICE}/transcripts", keys["bob"], method).status_code == 403
    assert get(app, f"/v1/users/{ALICE}/transcripts", keys["a"], method).status_code == 403
    assert get(app, f"/v1/users/{ALICE}/capture-mode", keys["bob"], method="get").status_code == 403


def test_developer_keys_cannot_use_user_tokens_endpoints_and_vice_versa(world):
    app, store, keys = world
    assert get(app, "/v1/transcripts", keys["alice"]).status_code == 403


def _notes_and_shop(tmp_path):
    """A fresh ledger serving dev-a's notes and dev-b's shop: the app, its store, its host."""
    store = TranscriptStore(tmp_path / "t.db")
    app = create_app(skills=[note_skill("notes", "dev-a"), note_skill("shop", "dev-b")], store=store,
                     test_config={"TESTING": True, "SECRET_KEY": "test"})
    return app, store, get_host(app)


def test_a_user_erases_one_skill_then_everything_over_http(tmp_path):
    app, store, host = _notes_and_shop(tmp_path)
    for skill in ("notes", "shop"):
        speak(host, skill, ALICE, "hello")
        speak(host, skill, BOB, "hello")
    _, token = create_key(store, "user", ALICE)

    one = get(app, f"/v1/users/{ALICE}/transcripts?skill=shop", token, "delete")
    rest = get(app, f"/v1/users/{ALICE}/transcripts", token, "delete")

    assert one.json["receipt"]["per_skill"] == {"shop": 1}
    # The server answers once the rows are gone; its background thread scrubs moments later.
    assert rest.json["receipt"]["per_skill"] == {"notes": 1} and rest.json["receipt"]["scrubbed"] is False
    assert scrubbed_later(store, rest.json["receipt"]["receipt_id"])
    assert store.count(user_id=ALICE) == 0 and store.count(user_id=BOB) == 2
    assert get(app, f"/v1/users/{ALICE}/transcripts?colour=x", token, "delete").json["error"]["param"] == "colour"


def alice_with_a_note(tmp_path, text):
    """An app with one skill, Alice's one transcript in it, and her user token."""
    store = TranscriptStore(tmp_path / "t.db")
    app = create_app(skills=[note_skill("notes", "dev-a")], store=store,
                     test_config={"TESTING": True, "SECRET_KEY": "test"})
    speak(get_host(app), "notes", ALICE, text)
    _, token = create_key(store, "user", ALICE)
    return app, store, token


def test_an_empty_skill_on_erase_is_refused_not_taken_as_every_skill(tmp_path):
    app, store, token = alice_with_a_note(tmp_path, "keep me")

    r = get(app, f"/v1/users/{ALICE}/transcripts?skill=", token, "delete")

    assert r.status_code == 400 and r.json["error"]["param"] == "skill"
    assert store.count(user_id=ALICE) == 1


def test_a_user_sets_and_reads_their_capture_mode(world):
    app, store, keys = world
    url = f"/v1/users/{BOB}/capture-mode"
    assert get(app, url, keys["bob"]).json["mode"] == "redacted"
    assert get(app, url, keys["bob"], "put", json={"mode": "metadata"}).json["mode"] == "metadata"
    assert get(app, url, keys["bob"]).json["mode"] == "metadata"
    bad = get(app, url, keys["bob"], "put", json={"mode": "everything"})
    assert bad.status_code == 400 and bad.json["error"]["param"] == "mode"
    get(app, url, keys["bob"], "put", json={"mode": "redacted"})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(
    st.sampled_from(["skill", "user_id", "session_id", "intent", "since", "until", "has_transaction", "q", "limit",
                     "cursor", "developer_id", "id"]),
    st.one_of(st.text(max_size=30), st.sampled_from(["shop", "dev-b", BOB, "1 OR 1=1", "' OR ''='", "*", "%",
                                                      "shop-S1", "true", "2026-01-01", "MQ"])),
    max_size=4))
def test_crafted_query_strings_never_reach_another_developer(world, params):
    app, store, keys = world
    for url in ("/v1/transcripts", "/v1/transcripts/export"):
        r = get(app, url, keys["a"], query_string=params)
        assert r.status_code in (200, 400), r.get_data(as_text=True)
        if r.status_code == 200:
            text = r.get_data(as_text=True)
            assert "dev-b" not in text and '"skill":"shop"' not in text
        else:
            assert r.json["error"]["param"] in params


def test_an_erasure_whose_scrub_a_reader_holds_up_answers_at_once_and_completes_after_the_reader(tmp_path):
    app, store, token = alice_with_a_note(tmp_path, "hello")
    reader = TranscriptStore(tmp_path / "t.db")
    reader.db.conn.execute("BEGIN")
    reader.db.conn.execute("SELECT count(*) FROM transcripts").fetchone()  # a long read keeps the WAL
    try:
        r = get(app, f"/v1/users/{ALICE}/transcripts", token, "delete")
        assert r.status_code == 200 and r.json["receipt"]["transcripts"] == 1
        assert r.json["receipt"]["scrubbed"] is False
        assert store.finish_scrubs() is False  # the log cannot be emptied while the reader holds it
        assert [x["scrubbed"] for x in store.receipts(user_id=ALICE)] == [False]
    finally:
        reader.db.conn.execute("COMMIT")
        reader.close()
    assert scrubbed_later(store, r.json["receipt"]["receipt_id"])


def test_a_repeated_filter_on_an_erasure_is_refused_and_erases_nothing(tmp_path):
    app, store, host = _notes_and_shop(tmp_path)
    for skill in ("notes", "shop"):
        speak(host, skill, ALICE, f"pepperoni for {skill}")
    token = create_key(store, "user", ALICE)[1]
    r = get(app, f"/v1/users/{ALICE}/transcripts?skill=notes&skill=shop", token, method="delete")
    assert r.status_code == 400 and r.json["error"]["param"] == "skill"
    assert "is given 2 times; give it once" in r.json["error"]["message"]
    assert len(store.user_history(ALICE)) == 2


@pytest.mark.parametrize(("content_type", "body", "code", "said"), [
    ("application/json", b'{"mode": "full", "x": NaN}', "invalid_json", "holds NaN, which is not JSON"),
    ("application/json", b'{"mode": "full", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "too_deep", "deeper than"),
    ("application/json", b'{"mode":', "invalid_json", "The body is not JSON"),
    ("application/json", b'{"mode": "full\\u0000"}', "invalid_text", "NUL character"),
    ("text/plain", b'{"mode": "full"}', "unsupported_media_type", "Content-Type: application/json"),
    (None, b'{"mode": "full"}', "unsupported_media_type", "(got 'none')"),
])
def test_a_capture_mode_body_that_is_not_clean_json_is_refused_naming_what_is_wrong(world, content_type, body, code,
                                                                                     said):
    app, store, keys = world
    before = store.capture_mode(ALICE)
    headers = {"Authorization": f"Bearer {keys['alice']}", **({"Content-Type": content_type} if content_type else {})}
    r = app.test_client().put(f"/v1/users/{ALICE}/capture-mode", data=body, headers=headers)
    assert r.status_code in (400, 415), r.data
    assert r.json["error"]["code"] == code and said in r.json["error"]["message"], r.json
    assert store.capture_mode(ALICE) == before
