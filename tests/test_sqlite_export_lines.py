"""The SQLite export's lines made in C (sqlite/_jsonl.c) are json_object's, byte for byte, whatever the rows hold."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite import export

pytestmark = pytest.mark.skipif(not export.compiled(), reason="sqlite/_jsonl.c not built (or SKILLS_EXPORT_PURE=1)")

AWKWARD = ['plain', '', 'quote " and \\ backslash', "".join(map(chr, range(0x20))) + "\x7f", "tab\tnew\nline\r",
           "é ß 中文 \U0001f355 \u2028\u2029 \ufeff", "</script>", "a" * 5000]
_INSERT = ("INSERT INTO transcripts (created_at, developer_id, skill, user_id, session_id, utterance, speech, slots, "
           "card, directives, \"transaction\", end_session, latency_ms, redacted, capture_mode) "
           "VALUES (?, ?, 's', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'full')")


def lines_both_ways(store: TranscriptStore, monkeypatch: pytest.MonkeyPatch, batch: int = 3,
                    **scope: str) -> tuple[list[str], list[str], Counter[str], Counter[str]]:
    """The export's lines and users by the compiled module, and by json_object for every row."""
    users, pure_users = Counter(), Counter()
    made = "".join(text for text, _ in store.export_jsonl(users=users, batch=batch, **scope))
    with monkeypatch.context() as m:
        m.setenv(export.PURE_ENV, "1")
        assert not export.compiled()
        pure = "".join(text for text, _ in store.export_jsonl(users=pure_users, batch=batch, **scope))
    return made.split("\n")[:-1], pure.split("\n")[:-1], users, pure_users  # (str.splitlines cuts at U+2028 too)


def test_the_store_s_own_rows_and_rows_written_around_it_export_as_json_object_makes_them(monkeypatch):
    store = TranscriptStore(":memory:")
    for i, text in enumerate(AWKWARD):
        store.record({"developer_id": "d", "skill": "s", "user_id": f"u{i % 3}", "session_id": text,
                      "utterance": text, "speech": text, "slots": {"k": text, "n": [1, 2.5, None, True]},
                      "card": {"title": text}, "directives": [text], "transaction": None, "end_session": i % 2 == 0,
                      "latency_ms": [0, 24.0, 21.04, 0.001, 123456789.123, 99999999999.999, 12.3456, 7][i],
                      "redacted": ",".join(["CARD", "PHONE"][: i % 3])})
    # Values only json_object writes, as rows written around the store can hold them: each is one
    # row the module leaves to the statement, in the middle of a batch and at its start.
    odd = [("{ \"a\" : 1.50 }", None, 1.0), ("not json", "yes", 1e-5), ("[1E5,-0,1e+2]", 2, 1e11), ("", 0.5, 1e16),
           ("[" * 70 + "]" * 70, None, 0.1 + 0.2), ('"\\u00e9\\/"', 1, -0.0), ("{\"a\":1,\"a\":2}", 0, "fast"),
           ("nul\x00l", None, -21.5), ("{\"a\":\"raw\ttab\"}", None, 5e-324)]
    for i, (slots, end_session, latency) in enumerate(odd):
        store.conn.execute(_INSERT, (f"2026-01-01T00:00:{i:02d}.000Z", "d", "" if i == 3 else "u9", "s", "x", "y",
                                        slots, slots, None, None, end_session, latency, [",A,,B,", "C", ","][i % 3]))
    made, pure, users, pure_users = lines_both_ways(store, monkeypatch, developer_id="d")
    assert len(made) == len(AWKWARD) + len(odd)
    assert made == pure
    assert users == pure_users and "" not in users  # an empty user id is counted for no one


@pytest.mark.parametrize("scope", [{}, {"developer_id": "d"}, {"skill": "s"}, {"user_id": "u1"},
                                   {"developer_id": "d", "since": "2026-01-01T00:00:05Z"}])
@pytest.mark.parametrize("batch", [1, 4, 1000])
def test_every_walk_and_batch_gives_the_same_lines(monkeypatch, scope, batch):
    store = TranscriptStore(":memory:")
    rng = random.Random(7)
    for i in range(40):
        # created_at out of id order (an import): the developer's walk is by time, the others by id
        store.conn.execute(_INSERT, (f"2026-01-01T00:00:{rng.randrange(60):02d}.000Z", "d", f"u{i % 4}", "s",
                                        "hi", "yo", '{"a":1}', None, None, None, i % 2, round(rng.uniform(0, 500), 3),
                                        ""))
    store.conn.execute("UPDATE transcripts SET latency_ms = 'slow' WHERE id IN (1, 17, 40)")  # left to json_object
    made, pure, users, pure_users = lines_both_ways(store, monkeypatch, batch=batch, **scope)
    assert made == pure and users == pure_users and made


def test_latencies_print_as_sqlite_prints_them(monkeypatch):
    store = TranscriptStore(":memory:")
    rng = random.Random(3)
    values = [rng.randrange(10 ** rng.randrange(1, 15)) / 1000 for _ in range(400)]
    values += [rng.uniform(-1e11, 1e11) for _ in range(200)] + [rng.uniform(0, 1e-3) for _ in range(100)]
    values += [1e-4, 9.999e-5, 1e11 - 0.001, 0.5, -0.5, 2.0 ** 52, 1 / 3]
    for x in values:
        store.conn.execute(_INSERT, ("2026-01-01T00:00:00.000Z", "d", "u", "s", None, None, None, None, None, None,
                                        None, x, None))
    made, pure, _, _ = lines_both_ways(store, monkeypatch, batch=500)
    assert made == pure and len(made) == len(values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.text(), st.text(), st.one_of(st.none(), st.text(), st.floats(allow_nan=False)),
                          st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                                       lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=8)),
                min_size=1, max_size=6))
def test_any_text_exports_as_json_object_makes_it(monkeypatch, rows):
    store = TranscriptStore(":memory:")
    for user, said, latency, slots in rows:
        text = json.dumps(slots, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
        store.conn.execute(_INSERT, ("2026-01-01T00:00:00.000Z", "d", user, said, said, said, text, said, None,
                                        None, None, latency, said))
    made, pure, users, pure_users = lines_both_ways(store, monkeypatch)
    assert made == pure and users == pure_users
