"""Bad input gets a 4xx (or 503) with a JSON body naming the problem, before any handler runs: no side effects, no row."""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys

import pytest
from _alexa_rules import REFUSED, corpus
from _plain_sqlite import plain
from conftest import json_paths, make_envelope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skills_sdk import Skill, SkillHost, say
from skills_sdk.envelope import MAX_JSON_DEPTH, check_json_value, parse_body
from skills_sdk.errors import EnvelopeError
from skills_sdk.request_types import REQUEST_TYPES
from skills_sdk.server import create_app
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.keys import create_key


def counting_skill() -> tuple[Skill, list[str]]:
    """A skill whose every handler notes that it ran: a refused request must leave the list empty."""
    calls: list[str] = []
    skill = Skill("counter", developer_id="dev-count")
    skill.add_launch(lambda ctx: calls.append("launch") or say("hi"))
    skill.add_fallback(lambda ctx: calls.append("fallback") or say("what?"))
    for rtype in REQUEST_TYPES:
        if rtype not in ("LaunchRequest", "IntentRequest"):
            skill.add_request_handler(rtype, lambda ctx, _t=rtype: calls.append(_t) or say("ok"))
    return skill, calls


@pytest.fixture
def served():
    skill, calls = counting_skill()
    store = TranscriptStore(":memory:")
    app = create_app([skill], store=store)
    return app.test_client(), store, calls


def _post(client, body, content_type="application/json"):
    return client.post("/alexa/counter", data=body, content_type=content_type)


def _refused(resp, store, calls, status, code):
    assert resp.status_code == status, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert store.count() == 0 and calls == []
    return error


def _with(path, value, request_type="LaunchRequest"):
    env = make_envelope(request_type)
    parent = env
    for key in path[:-1]:
        parent = parent.setdefault(key, {})
    parent[path[-1]] = value
    return env


def test_a_deep_body_is_a_400_too_deep_at_the_documented_limit(served):
    client, store, calls = served
    error = _refused(_post(client, b"[" * 100_000), store, calls, 400, "too_deep")
    assert str(MAX_JSON_DEPTH) in error["message"]
    nested: object = "x"
    for _ in range(MAX_JSON_DEPTH):
        nested = {"k": nested}
    error = _refused(_post(client, json.dumps(_with(("session", "attributes", "a"), nested))), store, calls, 400,
                     "too_deep")
    assert "session.attributes.a.k" in json.dumps(error["fields"])


def test_a_body_just_under_the_limit_is_answered(served):
    client, store, calls = served
    nested: object = "x"
    for _ in range(MAX_JSON_DEPTH - 4):  # the envelope itself is three levels deep above the attribute
        nested = {"k": nested}
    assert _post(client, json.dumps(_with(("session", "attributes", "a"), nested))).status_code == 200
    assert calls == ["launch"]


@pytest.mark.parametrize("path", [
    ("context", "System", "user", "userId"),
    ("session", "user", "userId"),
    ("session", "attributes", "note"),
])
def test_a_lone_surrogate_is_a_400_naming_the_field(served, path):
    client, store, calls = served
    error = _refused(_post(client, json.dumps(_with(path, "amzn1.\ud800"))), store, calls, 400, "invalid_unicode")
    assert ".".join(path) in error["fields"]


def test_a_lone_surrogate_in_a_slot_or_as_raw_bytes_is_a_400(served):
    client, store, calls = served
    env = make_envelope(intent="OrderIntent", slots={"size": "\udc00large"})
    _refused(_post(client, json.dumps(env)), store, calls, 400, "invalid_unicode")
    raw = json.dumps(make_envelope(), ensure_ascii=False).replace("USER1", "USER1\ud800").encode("utf-8",
                                                                                                 "surrogatepass")
    _refused(_post(client, raw), store, calls, 400, "invalid_unicode")


@pytest.mark.parametrize("path", [
    ("session", "user", "userId"),
    ("context", "System", "user", "userId"),
    ("session", "sessionId"),
    ("session", "attributes", "note"),
])
def test_a_nul_is_a_400_naming_the_field_never_a_row_under_a_cut_id(served, path):
    """PostgreSQL cuts text at a NUL: "victim\\u0000x" was recorded as user "victim", its chain then broken."""
    client, store, calls = served
    body = json.dumps(_with(path, "amzn1.ask.account.VICTIM\u0000x"))
    assert "\\u0000" in body
    error = _refused(_post(client, body), store, calls, 400, "invalid_text")
    assert ".".join(path) in error["fields"] and "NUL character" in error["message"]


def test_a_surrogate_pair_is_a_character_not_an_error(served):
    client, store, calls = served
    assert _post(client, json.dumps(_with(("session", "attributes", "mood"), "\U0001F600"))).status_code == 200


@pytest.mark.parametrize("timestamp", ["yesterday", "string", "2026-13-01T00:00:00Z", "2026-02-30T10:00:00Z",
                                       "", 12.5, True, -1])
def test_a_timestamp_that_is_not_iso_8601_is_a_400(served, timestamp):
    client, store, calls = served
    error = _refused(_post(client, json.dumps(_with(("request", "timestamp"), timestamp))), store, calls, 400,
                     "invalid_envelope")
    assert "request.timestamp" in error["fields"]


@pytest.mark.parametrize("timestamp", ["2026-11-28T09:30:00Z", "2026-11-28T09:30:00.123Z",
                                       "2026-11-28T09:30:00+01:00", 1431520496000])
def test_iso_8601_and_epoch_millisecond_timestamps_are_answered(served, timestamp):
    client, store, calls = served
    assert _post(client, json.dumps(_with(("request", "timestamp"), timestamp))).status_code == 200


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_a_400_and_never_echoed(served, token):
    client, store, calls = served
    body = json.dumps(_with(("session", "attributes", "x"), 1)).replace('"x": 1', f'"x": {token}')
    _refused(_post(client, body), store, calls, 400, "invalid_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          ""])
@pytest.mark.parametrize("verify", [False, True])
def test_a_non_json_content_type_is_a_415_in_every_mode(content_type, verify):
    skill, calls = counting_skill()
    store = TranscriptStore(":memory:")
    client = create_app([skill], store=store, verify=verify, test_config={"SKILLS_ANY_APPLICATION": True}).test_client()
    body = json.dumps(make_envelope("AlexaSkillEvent.SkillDisabled"))
    resp = client.post("/alexa/counter", data=body, headers={"Content-Type": content_type} if content_type else {})
    _refused(resp, store, calls, 415, "unsupported_media_type")


def test_json_with_a_charset_is_answered(served):
    client, store, calls = served
    resp = _post(client, json.dumps(make_envelope()), content_type="application/json;charset=UTF-8")
    assert resp.status_code == 200 and calls == ["launch"]


def test_a_nan_a_handler_puts_in_the_session_is_sent_as_null():
    skill = Skill("demo", developer_id="d")

    @skill.launch
    def launch(ctx):
        ctx.session["ratio"] = float("nan")
        return say("hi")

    out = SkillHost([skill]).handle("demo", make_envelope()).json()
    assert json.loads(out)["sessionAttributes"]["ratio"] is None


def test_a_value_json_has_no_type_for_in_a_directive_is_sent_as_its_text():
    skill = Skill("demo", developer_id="d")

    @skill.launch
    def launch(ctx):
        return say("hi").directive({"type": "Custom.Remind", "on": datetime.date(2026, 12, 3)})

    out = SkillHost([skill]).handle("demo", make_envelope()).json()
    assert json.loads(out)["response"]["directives"] == [{"type": "Custom.Remind", "on": "2026-12-03"}]


def test_parse_body_and_check_json_value_agree_on_what_is_refused():
    for raw, code in [(b"[" * 5000, "too_deep"), (b'{"a": NaN}', "invalid_json"), (b'"\\ud800"', "invalid_unicode"),
                      (b"{", "invalid_json"), (b'{"a": "x\\u0000"}', "invalid_text"), (b'{"a\\u0000": 1}', "invalid_text")]:
        with pytest.raises(EnvelopeError) as info:
            parse_body(raw)
        assert info.value.code == code
    for value, code in [({"a": float("inf")}, "invalid_json"), (["\udfff"], "invalid_unicode"),
                        ({"\ud800": 1}, "invalid_unicode"), ({"a": ["x\x00"]}, "invalid_text"), ({"\x00": 1}, "invalid_text")]:
        with pytest.raises(EnvelopeError) as info:
            check_json_value(value)
        assert info.value.code == code


def test_handle_json_refuses_what_the_endpoint_refuses():
    host = SkillHost([counting_skill()[0]])
    with pytest.raises(EnvelopeError, match="surrogate"):
        host.handle_json("counter", json.dumps(make_envelope(user_id="u\ud800")))


# -- the transcript API and the console ---------------------------------------------------------


@pytest.fixture
def api():
    store = TranscriptStore(":memory:")
    app = create_app([counting_skill()[0]], store=store)
    return app.test_client(), create_key(store, "developer", "dev-count")[1], create_key(store, "user", "U1")[1]


@pytest.mark.parametrize("query", ["since=0001-01-01T00:00:00%2B01:00", "until=9999-12-31T23:59:59-01:00",
                                   "since=10000-01-01", "until=not-a-date"])
def test_out_of_range_dates_in_the_api_are_a_400_naming_the_parameter(api, query):
    client, dev, _ = api
    resp = client.get(f"/v1/transcripts?{query}", headers={"Authorization": f"Bearer {dev}"})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["param"] == query.split("=")[0]


def _console(client, dev):
    import re

    page = client.get("/console/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/console/sign-in", data={"key": dev, "csrf_token": token})


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=0001-01-01T00:00:00%2B01:00"])
def test_out_of_range_dates_in_the_console_are_a_400_that_explains(api, query):
    client, dev, _ = api
    _console(client, dev)
    resp = client.get(f"/console/?{query}")
    assert resp.status_code == 400 and "between the years 1 and 9999" in resp.get_data(as_text=True)


@pytest.mark.parametrize("q", ["!!!", "%22", "()"])
def test_a_search_with_no_words_is_a_400_on_console_export(api, q):
    client, dev, _ = api
    _console(client, dev)
    resp = client.get(f"/console/export?q={q}")
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_filter"


def test_a_page_id_past_sqlite_integers_is_a_400_on_my_data(api):
    client, _, user = api
    import re

    page = client.get("/console/me").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/console/me/sign-in", data={"token": user, "csrf_token": token})
    assert client.get("/console/me?before=99999999999999999999999").status_code == 400
    assert client.get("/console/me?before=1").status_code == 200


def test_an_erasure_while_another_process_holds_the_write_lock_is_a_503_with_retry_after(tmp_path):
    db = str(tmp_path / "t.db")
    store = TranscriptStore(db, busy_timeout_ms=300)
    client = create_app([counting_skill()[0]], store=store).test_client()
    assert client.post("/alexa/counter", json=make_envelope(user_id="U1")).status_code == 200
    token = create_key(store, "user", "U1")[1]
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"c = sqlite3.connect({db!r}, isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\n"
         "print('held', flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        resp = client.delete("/v1/users/U1/transcripts", headers={"Authorization": f"Bearer {token}"})
    finally:
        holder.communicate("")
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    assert resp.get_json()["error"]["code"] == "ledger_busy"
    assert plain(db, ("SELECT count(*) FROM transcripts", ())) == [(1,)]
    resp = client.delete("/v1/users/U1/transcripts", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200


# -- mutated real envelopes ---------------------------------------------------------------------------

REAL = [json.loads(p.read_bytes()) for p in corpus() if p.name not in REFUSED]
NASTY = st.sampled_from(["\ud800", "x\udfffy", "yesterday", "", "2026-02-30T00:00:00Z", None, 0, -1, 1e308, True,
                         [], {}, "A" * 300, "Not.A Type", "Alexa.Future.Thing"])
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])




@st.composite
def mutated(draw):
    env = copy.deepcopy(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in json_paths(env) if p]
        path = draw(st.sampled_from(paths))
        parent = env
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["drop", "nasty", "deep"]))
        if op == "drop":
            del parent[path[-1]]
        elif op == "nasty":
            parent[path[-1]] = draw(NASTY)
        else:
            nested: object = parent[path[-1]]
            for _ in range(draw(st.integers(MAX_JSON_DEPTH - 8, MAX_JSON_DEPTH + 8))):
                nested = [nested]
            parent[path[-1]] = nested
    text = json.dumps(env)
    if draw(st.booleans()):
        text = text.replace("1.0", "NaN", 1) if '"1.0"' not in text else text
    return text


@pytest.fixture(scope="module")
def fuzzed():
    skill, calls = counting_skill()
    store = TranscriptStore(":memory:")
    return create_app([skill], store=store).test_client(), store, calls


@SETTINGS
@given(body=mutated())
def test_mutated_real_envelopes_never_get_a_5xx_and_a_refused_one_leaves_nothing(fuzzed, body):
    client, store, calls = fuzzed
    rows, ran = store.count(), len(calls)
    resp = _post(client, body)
    assert resp.status_code < 500, resp.get_data(as_text=True)
    json.loads(resp.data, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    if resp.status_code >= 400:
        assert resp.get_json()["error"]["code"]
        assert store.count() == rows and len(calls) == ran, "a refused request ran a handler or left a row"
    else:
        assert store.count() <= rows + 1


def test_nul_ids_never_reach_either_ledger_and_leave_it_whole(ledger):
    """The attack found on PostgreSQL: a user id "VICTIM\\u0000..." stored as "VICTIM", and verify then failing."""
    from skills_sdk.testing import launch_request

    skill, calls = counting_skill()
    client = create_app([skill], store=ledger, test_config={"TESTING": True}).test_client()
    victim = "amzn1.ask.account.VICTIM"
    simulated = client.post("/simulate/counter", json={"text": "hello", "user_id": victim + "\u0000x"})
    assert simulated.status_code == 400 and simulated.json["error"]["code"] == "invalid_text"
    assert simulated.json["error"]["fields"] == {"user_id": ["Holds a NUL character."]}
    alexa = client.post("/alexa/counter", data=json.dumps(launch_request(user_id=victim + "\u0000x")),
                        content_type="application/json")
    assert alexa.status_code == 400 and alexa.json["error"]["code"] == "invalid_text"
    assert calls == [] and ledger.user_history(victim) == []
    assert client.post("/alexa/counter", json=launch_request(user_id=victim)).status_code == 200
    report = ledger.verify_chain()
    assert report.ok, report.problem
    assert [r["user_id"] for r in ledger.user_history(victim)] == [victim]


def test_a_dict_handed_to_the_host_with_a_nul_in_a_kept_id_is_refused_like_a_body():
    """SkillHost.handle takes a parsed dict (a test, a Lambda runtime): parse_body never saw it."""
    from skills_sdk import SkillHost

    skill, calls = counting_skill()
    host = SkillHost([skill])
    for path in (("session", "user", "userId"), ("context", "System", "user", "userId"), ("session", "sessionId"),
                 ("request", "requestId")):
        with pytest.raises(EnvelopeError) as info:
            host.handle("counter", _with(path, "amzn1.VICTIM\x00x"))
        assert info.value.code == "invalid_text" and "NUL" in str(info.value)
    assert calls == []
