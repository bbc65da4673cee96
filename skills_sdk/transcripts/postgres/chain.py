"""Tamper evidence on PostgreSQL: hash chains over every row's life, one per lane, written by many hosts at once.

The SQLite ledger has one writer, so one chain in commit order is free. Here many hosts commit at
the same time, and one chain would make every capture wait for the previous one's commit (its
head row locked until then). So the ledger keeps :data:`LANES` chains: a row's entries all go to
the lane of its user (``crc32(user_id) % LANES``), whose head row is locked only by the
transaction that appends to it. Two captures wait for each other only when their users share a
lane; a lane's order is its commit order, and a rolled-back append rolls its head back too, so a
lane has no gaps.

An entry holds the row's id, its day, what happened (``insert``, ``strip``, ``erase``,
``purge``, ``rekey``: new search tokens, see groups.py), a keyed digest of the row *as stored* (clear metadata, data-key id, ciphertext and
search buckets: never a word in clear), the time, and a hash over the lane's previous entry and
its own fields. A removed row keeps its entries: its tombstone. A day dropped whole by a purge
is one ``drop`` entry in the ledger's own lane (number :data:`LANES`), not one per row, so a purge
still drops partitions in milliseconds.

:func:`verify` walks every lane, compares each head, and merges the last entry of each id with
the rows, so a row changed, deleted or inserted by anything but the ledger (``psql``, a script) is
named, and so is a changed or missing entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..record import compact_json, utcnow_iso
from ..sqlite.chain import ChainReport, check_rows, forged_below_one

__all__ = ["LANES", "DAY_LANE", "DDL", "lane_of", "lock_lanes", "digest", "digest_sealed", "link", "append", "removed",
           "dropped_days", "insert_sql", "verify"]

#: Chains a row can go to (by its user); lane ``LANES`` holds the ledger's own events (days dropped).
LANES = 64
DAY_LANE = LANES
_GENESIS = "0" * 64
_EVENTS = ("insert", "strip", "erase", "purge", "drop", "rekey")
_REMOVED = frozenset({"erase", "purge"})
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

DDL = (
    """CREATE TABLE ledger_chain (lane integer NOT NULL, seq bigint NOT NULL, id bigint NOT NULL,
        day text COLLATE "C" NOT NULL, event text NOT NULL, digest text NOT NULL, at text NOT NULL,
        hash text NOT NULL, PRIMARY KEY (lane, seq))""",
    "CREATE TABLE ledger_chain_heads (lane integer PRIMARY KEY, seq bigint NOT NULL, hash text NOT NULL)",
    f"INSERT INTO ledger_chain_heads SELECT g, 0, '{_GENESIS}' FROM generate_series(0, {LANES}) g",
    # Rows written before the chain existed are counted by verify, not checked: this is the first that is.
    "INSERT INTO ledger_meta (name, value) SELECT 'chain_from', "
    "(CASE WHEN is_called THEN last_value + 1 ELSE last_value END)::text FROM transcripts_id_seq",
)


def lane_of(user_id: str) -> int:
    """The lane of a user's rows: every entry of one row, and of one user, is in one lane."""
    return zlib.crc32(user_id.encode()) % LANES


def lock_lanes(conn: Any, users: Iterable[str]) -> None:
    """Lock the heads of ``users``' lanes, in lane order, in the caller's transaction.

    A capture locks its lane, then (its insert trigger) its user's day in ``user_days``; an import
    takes its rows' lanes before its COPY too, so no two wait for each other in a cycle.
    """
    conn.execute("SELECT 1 FROM ledger_chain_heads WHERE lane = ANY(%s) ORDER BY lane FOR UPDATE",
                 (sorted({lane_of(u) for u in users}),))


def digest(secret: bytes, stored: Sequence[Any]) -> str:
    """A keyed digest of a row as stored: its clear columns, data-key id, ciphertext and search buckets.

    Keyed, so a removed row's digest cannot be matched against guesses without the ledger's secret.
    The values are the ones written (Python's) and the ones read back (psycopg's): the same types.
    """
    text = _DUMPS([v.hex() if isinstance(v, (bytes, memoryview)) else v for v in stored])
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def digest_sealed(secret: bytes, clear: Sequence[Any], key_id: int, sealed: bytes, tokens: list[int] | None) -> str:
    """:func:`digest` of ``(*clear, key_id, sealed, tokens)``, a capture's row, made without escaping the sealed words' hex.

    The JSON encoder reads a string character by character to escape it, and the sealed words' hex
    is most of the text (a twentieth of a capture's client instructions went there). Hex needs no
    escaping, so it is put between its quotes as it is: the same text as :func:`digest` makes (the
    encoder joins a list's items with ``,``), hence the same digest; a test holds the two together.
    """
    try:  # compact_json: _DUMPS's text, without an encoder made per call
        head = compact_json([*clear, key_id])
    except TypeError:  # a clear value in bytes: digest turns it into hex
        return digest(secret, (*clear, key_id, sealed, tokens))
    text = f'{head[:-1]},"{sealed.hex()}",{compact_json(tokens)}]'
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def link(prev: str, lane: int, seq: int, event: str, row_id: int, day: str, dig: str, at: str) -> str:
    """An entry's hash: over the lane's previous hash and every field of the entry."""
    return hashlib.sha256(f"{prev}|{lane}|{seq}|{event}|{row_id}|{day}|{dig}|{at}".encode()).hexdigest()


def insert_sql(insert: str, ctes: str = "", *, after: str = "", returning: str = "SELECT id FROM c") -> str:
    """Wrap a one-row ``INSERT … RETURNING id`` so that its chain entry is appended in the same statement.

    ``ctes`` are common table expressions ``insert`` reads (``"k AS (…), "``), ``after`` more that
    read its row from ``ins`` or the entry from ``h`` (``", st AS (…)"``: they write only when it
    was inserted; from ``h``, after the lane is locked). The lane's
    head row is locked by the UPDATE until commit; the entry's hash is computed by the server
    exactly as :func:`link` computes it. Parameters: those of ``insert`` (named), and
    ``chain_lane``, ``chain_day``, ``chain_digest``, ``chain_at``. Returns what ``returning``
    selects, by default the row's id from the entry ``c`` (no row when ``insert`` inserted nothing).
    """
    return (f"WITH {ctes}ins AS ({insert}), h AS (UPDATE ledger_chain_heads SET seq = seq + 1, hash = "
            "encode(sha256(convert_to(hash || '|' || lane || '|' || (seq + 1) || '|insert|' || ins.id || '|' || "
            "%(chain_day)s::text || '|' || %(chain_digest)s::text || '|' || %(chain_at)s::text, 'UTF8')), 'hex') "
            "FROM ins WHERE lane = %(chain_lane)s RETURNING lane, seq, hash, ins.id AS id), "
            "c AS (INSERT INTO ledger_chain (lane, seq, id, day, event, digest, at, hash) "
            "SELECT lane, seq, id, %(chain_day)s, 'insert', %(chain_digest)s, %(chain_at)s, hash FROM h RETURNING id)"
            + after + " " + returning)


def append(conn: Any, entries: Iterable[tuple[int, int, str, str, str]], at: str | None = None) -> int:
    """Append ``(lane, id, day, event, digest)`` entries in the caller's transaction; returns how many.

    The lanes' heads are locked in lane order (no two appenders wait for each other in a cycle).
    """
    by_lane: dict[int, list[tuple[int, str, str, str]]] = {}
    for lane, row_id, day, event, dig in entries:
        by_lane.setdefault(lane, []).append((row_id, day, event, dig))
    if not by_lane:
        return 0
    at = at or utcnow_iso()
    heads = conn.execute("SELECT lane, seq, hash FROM ledger_chain_heads WHERE lane = ANY(%s) ORDER BY lane "
                         "FOR UPDATE", (sorted(by_lane),)).fetchall()
    rows, moved = [], []
    for lane, seq, prev in heads:
        for row_id, day, event, dig in by_lane[lane]:
            seq += 1
            prev = link(prev, lane, seq, event, row_id, day, dig, at)
            rows.append((lane, seq, row_id, day, event, dig, at, prev))
        moved.append((seq, prev, lane))
    with conn.cursor() as cur:
        with cur.copy("COPY ledger_chain (lane, seq, id, day, event, digest, at, hash) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        cur.executemany("UPDATE ledger_chain_heads SET seq = %s, hash = %s WHERE lane = %s", moved)
    return len(rows)


def removed(conn: Any, secret: bytes, found: Sequence[Sequence[Any]], event: str, user_pos: int) -> int:
    """Tombstone rows the ledger just removed, from what ``DELETE … RETURNING id, <stored columns>`` gave.

    ``found`` rows are ``(id, *stored)`` with ``created_at`` first among the stored columns and the
    user id at ``user_pos`` in them; only the digest of each is kept, never its words.
    """
    if event not in _REMOVED and event != "strip":
        raise ValueError(f"a removal is 'erase', 'purge' or 'strip', got {event!r}.")
    return append(conn, ((lane_of(r[1 + user_pos]), r[0], r[1][:10], event, digest(secret, r[1:]))
                         for r in sorted(found, key=lambda r: r[0])))


def dropped_days(conn: Any, secret: bytes, days: Sequence[tuple[str, int]]) -> int:
    """One ``drop`` entry per day partition a purge dropped whole, ``(day, rows it held)``, in the ledger's lane."""
    return append(conn, ((DAY_LANE, 0, day, "drop", hmac.new(secret, f"drop|{day}|{n}".encode(),
                                                             hashlib.sha256).hexdigest()) for day, n in days))


def _stream(conn: Any, name: str, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
    with conn.cursor(name=name) as cur:
        cur.itersize = 5000
        cur.execute(sql, params)
        yield from cur


def verify(conn: Any, secret: bytes, stored_sql: str) -> ChainReport:
    """Walk every lane and check every row against its last entry; the first problem found, or ``ok``.

    ``stored_sql`` lists what :func:`digest` covers, ``created_at`` first (``"id", …`` is prefixed
    here). One repeatable-read, read-only transaction: hosts may keep writing meanwhile.
    """
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify(conn, secret, stored_sql)


def _verify(conn: Any, secret: bytes, stored_sql: str) -> ChainReport:
    chain_from = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'chain_from'").fetchone()[0])
    heads = {lane: (seq, h) for lane, seq, h in conn.execute("SELECT lane, seq, hash FROM ledger_chain_heads")}
    ends: dict[int, tuple[int, str]] = {}  # each lane's last entry walked: (seq, hash)
    drops: dict[str, str] = {}  # day dropped whole: when
    entries = 0
    for lane, seq, rid, day, event, dig, at, stored in _stream(
            conn, "chain_walk", "SELECT lane, seq, id, day, event, digest, at, hash FROM ledger_chain ORDER BY lane, seq"):
        before, prev = ends.get(lane, (0, _GENESIS))
        if seq != before + 1:
            return _bad(f"chain entry {before + 1} of lane {lane} is missing (the next one is {seq}): the chain was "
                        "cut", entries, prev)
        if event not in _EVENTS or link(prev, lane, seq, event, rid, day, dig, at) != stored:
            return _bad(f"chain entry {seq} of lane {lane} (row {rid}) was changed outside the ledger", entries, prev)
        if event == "drop":
            drops[day] = max(drops.get(day, ""), at)
        ends[lane] = (seq, stored)
        entries += 1
    for lane in range(DAY_LANE + 1):
        walked, head = ends.get(lane, (0, _GENESIS)), heads.get(lane)
        if walked != head:
            return _bad(f"lane {lane} ends at entry {walked[0]} but its head says {head[0] if head else 'nothing'}: "
                        "entries were removed or the head changed outside the ledger", entries, walked[1])
    head = hashlib.sha256("".join(h for _, (_, h) in sorted(heads.items())).encode()).hexdigest()
    forged = forged_below_one(conn)
    if forged is not None:
        return _bad(forged, entries, head)
    unchained = conn.execute("SELECT count(*) FROM transcripts WHERE id < %s", (chain_from,)).fetchone()[0]
    last = _stream(conn, "chain_last", "SELECT DISTINCT ON (id) id, event, digest, day, at FROM ledger_chain "
                                       "WHERE lane < %s ORDER BY id, seq DESC", (DAY_LANE,))
    rows = _stream(conn, "chain_rows", f"SELECT id, {stored_sql} FROM transcripts WHERE id >= %s ORDER BY id",
                   (chain_from,))
    return check_rows(last, ((row[0], row[1:]) for row in rows), chain_from=chain_from, entries=entries,
                      head=head, unchained=unchained,
                      matches=lambda content, dig: hmac.compare_digest(digest(secret, content), dig),
                      # an entry of a day a purge dropped whole (one "drop" entry for all its rows)
                      removed=lambda e: e[1] in _REMOVED or (e[3] in drops and drops[e[3]] >= e[4]))


def _bad(problem: str, entries: int, head: str) -> ChainReport:
    return ChainReport(False, problem, entries, 0, 0, 0, head)
