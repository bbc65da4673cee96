"""Helpers for the privacy tests: a note-taking skill, turns through the real capture path, byte scans."""

from __future__ import annotations

import pathlib
import time
import uuid

import pytest
from conftest import ledger_host, make_envelope

from skills_sdk import Skill, say
from skills_sdk.host import SkillHost
from skills_sdk.transcripts import TranscriptStore

ALICE, BOB = "amzn1.ask.account.ALICE", "amzn1.ask.account.BOB"


def note_skill(name: str = "notes", developer_id: str = "dev-a", **kwargs) -> Skill:
    """A skill that repeats the note it was given; ``buy`` also tags a transaction."""
    skill = Skill(name, developer_id=developer_id, invocation_name=f"{name} keeper", **kwargs)

    @skill.intent("NoteIntent", samples=["note {note}"], slots={"note": "AMAZON.SearchQuery"})
    def note(ctx, note=None):
        ctx.state["last"] = note
        return say(f"Noted {note}.")

    @skill.intent("BuyIntent", samples=["buy {note}"], slots={"note": "AMAZON.SearchQuery"})
    def buy(ctx, note=None):
        return say(f"Bought {note}.").transaction("order", "ORD-" + uuid.uuid4().hex[:6], "9.50")

    return skill


@pytest.fixture
def ledger(tmp_path):
    """A file ledger, a host with two note skills of two developers keeping their turns in it, and its path."""
    store = TranscriptStore(tmp_path / "t.db")
    host = ledger_host([note_skill("notes", "dev-a"), note_skill("shop", "dev-b")], store)
    yield store, host, tmp_path / "t.db"
    store.stop()


def speak(host: SkillHost, skill: str, user: str, note: str, *, intent: str = "NoteIntent", session: str = "S1"):
    """One turn through the host's chain (capture, redaction, state), with ``note`` as slot and utterance."""
    env = make_envelope(intent=intent, slots={"note": note}, user_id=user, session_id=f"{skill}-{session}")
    return host.handle(skill, env, utterance=f"note {note}")


def marker() -> str:
    """A unique, easily found string."""
    return "MARKER" + uuid.uuid4().hex[:16]


def file_bytes(db_path) -> bytes:
    """The bytes of the database and its -wal and -shm files (whatever exists)."""
    out = b""
    for suffix in ("", "-wal", "-shm"):
        p = pathlib.Path(str(db_path) + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


def scrubbed_later(store, receipt_id: str, within: float = 15.0) -> bool:
    """Whether the stored receipt turns ``scrubbed`` within ``within`` seconds (a server's background thread scrubs)."""
    deadline = time.monotonic() + within
    while True:
        if next(r for r in store.receipts() if r["receipt_id"] == receipt_id)["scrubbed"]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def occurrences(db_path, text: str) -> int:
    """How many times ``text`` (UTF-8, or UTF-16 as SQLite may store it) appears in the files."""
    data = file_bytes(db_path)
    return data.count(text.encode()) + data.count(text.encode("utf-16-le"))


def retention_skills() -> list[Skill]:
    """Skills with retention policies, for ``--skills _privacy_kit:retention_skills``."""
    return [note_skill("notes", "dev-a", retention_days=30),
            note_skill("shop", "dev-b", retention_days=30, receipt_retention_days=365),
            note_skill("forever", "dev-c")]


def at(host: SkillHost, when: str) -> None:
    """Make the host's capture stamp rows with ``when`` (a controllable clock)."""
    host.capture.clock = lambda: when


def fts_rowids(store, query: str) -> list[int]:
    """Rowids matching an FTS5 query in every table of the full-text index (an older ledger's included)."""
    from skills_sdk.transcripts.sqlite.fts import fts_tables

    conn = store.db.conn
    out: list[int] = []
    for name in fts_tables(conn):
        out += [r[0] for r in conn.execute(f"SELECT rowid FROM {name} WHERE {name} MATCH ?", (query,))]
    return sorted(out)


def fts_documents(store) -> int:
    """How many rows the full-text tables hold tokens of, all together."""
    from skills_sdk.transcripts.sqlite.fts import fts_tables

    conn = store.db.conn
    total = 0
    for name in fts_tables(conn):
        conn.execute(f"CREATE VIRTUAL TABLE temp.fts_docs_v USING fts5vocab(main, {name}, 'instance')")
        total += conn.execute("SELECT count(DISTINCT doc) FROM temp.fts_docs_v").fetchone()[0]
        conn.execute("DROP TABLE temp.fts_docs_v")
    return total


def fts_integrity_check(store) -> None:
    """Assert every full-text table is sound and holds exactly the tokens of the rows it should.

    A day's bucket table: the rows of that day whose developer hashes to the bucket, each with its
    developer token; an older ledger's per-developer table not yet moved: that developer's rows of
    that day up to the old watermark (and those rows in no bucket table).
    """
    from skills_sdk.transcripts.sqlite.fts import FTS_DAY as _FTS_DAY
    from skills_sdk.transcripts.sqlite.fts import FTS_DEV_TOKEN as _FTS_DEV_TOKEN
    from skills_sdk.transcripts.sqlite.fts import FTS_HAS_TEXT as _FTS_HAS_TEXT
    from skills_sdk.transcripts.sqlite.fts import _buckets, fts_bucket, fts_partitions, legacy_partitions

    conn = store.db.conn
    buckets = _buckets(conn)
    conn.create_function("test_fts_bucket", 1, lambda dev: fts_bucket(dev, buckets), deterministic=True)
    row_day, has_text, token = _FTS_DAY.format("t"), _FTS_HAS_TEXT.format("t"), _FTS_DEV_TOKEN.format("t")
    legacy = legacy_partitions(conn)
    upto = conn.execute("SELECT value FROM privacy_meta WHERE name = 'fts_legacy_upto'").fetchone()
    in_legacy = "0"
    if legacy:
        in_legacy = (f"(t.id <= {int(upto[0])} AND EXISTS (SELECT 1 FROM fts_parts p WHERE p.developer_id = "
                     f"t.developer_id AND p.day = {row_day}))")
    tables = [(name, f"SELECT id, {token}, utterance, speech FROM transcripts t WHERE {has_text} AND {row_day} = ? "
               f"AND test_fts_bucket(t.developer_id) = ? AND NOT {in_legacy}", (day, bucket))
              for day, bucket, name in fts_partitions(conn)]
    tables += [(name, f"SELECT id, NULL, utterance, speech FROM transcripts t WHERE {has_text} AND {row_day} = ? "
                f"AND developer_id = ? AND {in_legacy}", (day, dev)) for day, dev, name, _ in legacy]
    for name, source, args in tables:
        conn.execute(f"INSERT INTO {name} ({name}) VALUES ('integrity-check')")
        conn.execute("DROP TABLE IF EXISTS temp.fts_expected")
        columns = "utterance, speech" if source.startswith("SELECT id, NULL") else "developer, utterance, speech"
        conn.execute(f"CREATE VIRTUAL TABLE temp.fts_expected USING fts5({columns})")
        conn.execute(f"INSERT INTO temp.fts_expected (rowid, {columns}) "
                     + (source.replace("NULL, ", "") if columns.startswith("utterance") else source), args)
        for schema, table, alias in (("main", name, "fts_have_v"), ("temp", "fts_expected", "fts_want_v")):
            conn.execute(f"DROP TABLE IF EXISTS temp.{alias}")
            conn.execute(f"CREATE VIRTUAL TABLE temp.{alias} USING fts5vocab({schema}, {table}, 'instance')")
        have = set(conn.execute("SELECT term, doc, col, offset FROM temp.fts_have_v"))
        want = set(conn.execute("SELECT term, doc, col, offset FROM temp.fts_want_v"))
        assert have == want, f"table {name}: extra {sorted(have - want)[:5]}, missing {sorted(want - have)[:5]}"
    for t in ("fts_have_v", "fts_want_v", "fts_expected"):
        conn.execute(f"DROP TABLE IF EXISTS temp.{t}")
