"""Tamper evidence for the SQLite ledger: a seal in every row, and a hash chain of what the ledger did to rows.

A row is sealed by its own INSERT (:mod:`.seal`: SHA-256 over its id and the keyed digest of its
content, in its ``seal`` column). Every other change the ledger makes to a row appends one entry
to ``ledger_chain``: ``strip`` (a purge kept only a receipt's fields; the row is sealed again),
``erase`` or ``purge`` (the row was removed). An entry holds the row's id, a digest of the row's
content, the time, and a hash over the previous entry's hash and its own fields. A removal's entry
is the row's tombstone: its id, the digest it had, and when it was removed — never a word of it. A
purge writes one ``purge_range`` entry for all the rows one of its transactions removed
(thousands): their ids, as runs, and a digest over the digests they had, in its ``digest`` field;
its id is 0. Rows recorded before the seal (``id < seal_from``) have an ``insert`` entry each.

:func:`verify` walks the chain, then checks every sealed row against its seal and every older row
against the last entry for its id, so a row changed, deleted or inserted by anything but the
ledger (plain ``sqlite3``, a script) is named, and so is an entry of the chain that was changed.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..._frozen import RECORD, Mutable
from ..record import INSERT_COLUMNS, utcnow_iso
from .content import CONTENT, KINDS, PROBE, content_in_python, row_digest, values_digest
from .driver import sqlite3
from .ranges import RANGE, PurgedRanges, range_digest, runs_of
from .seal import SEAL_FROM, check_sealed, highest_id, removed_upto, seal_of, split_below

__all__ = ["ChainReport", "seal_inserted", "insert_digest", "chain_removed", "chain_purged", "chain_changed", "verify",
           "CHAIN_DDL", "EVENTS", "forged_below_one", "RETURNING_CONTENT", "returning_content"]

#: What an entry says happened to its row (``purge_range``: to many rows at once).
EVENTS = ("insert", "strip", "erase", "purge", RANGE)
_REMOVED = frozenset({"erase", "purge"})
_GENESIS = "0" * 64

CHAIN_DDL = (
    "CREATE TABLE IF NOT EXISTS ledger_chain (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL, event TEXT NOT NULL, "
    "digest TEXT NOT NULL, at TEXT NOT NULL, hash TEXT NOT NULL)",
    # No index on id: each would cost every capture a page write; verify sorts once instead.
    # Rows older than the chain (a database from before it) are not covered; this is the first one that is.
    "INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('chain_from', "
    "(SELECT CAST(coalesce(max(id), 0) + 1 AS TEXT) FROM transcripts))",
)



def _link(prev: str, seq: int, event: str, row_id: int, digest: str, at: str) -> str:
    return hashlib.sha256(f"{prev}|{seq}|{event}|{row_id}|{digest}|{at}".encode()).hexdigest()


def _append(conn: sqlite3.Connection, entries: Iterable[tuple[str, int, str]], at: str | None = None) -> int:
    """Append ``(event, id, digest)`` entries after the chain's head; the caller holds the write transaction."""
    head = conn.execute("SELECT seq, hash FROM ledger_chain ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = head if head else (0, _GENESIS)
    at = at or utcnow_iso()
    rows = []
    for event, row_id, digest in entries:
        seq += 1
        prev = _link(prev, seq, event, row_id, digest, at)
        rows.append((seq, row_id, event, digest, at, prev))
    if len(rows) == 1:
        conn.execute(_APPEND_SQL, rows[0])
    else:
        conn.executemany(_APPEND_SQL, rows)
    return len(rows)


_APPEND_SQL = "INSERT INTO ledger_chain (seq, id, event, digest, at, hash) VALUES (?, ?, ?, ?, ?, ?)"


def _contents(conn: sqlite3.Connection, ids: Sequence[int]) -> Iterator[tuple[int, str]]:
    for lo in range(0, len(ids), 500):
        part = ids[lo:lo + 500]
        yield from conn.execute(f"SELECT id, {CONTENT} FROM transcripts WHERE id IN ({','.join('?' * len(part))}) "
                                "ORDER BY id", part)


def insert_digest(conn: sqlite3.Connection, secret: bytes, values: Sequence[Any]) -> str | None:
    """The digest of the row an INSERT of ``values`` (:data:`INSERT_COLUMNS` order) writes, or None when only a read-back tells.

    >>> digest = insert_digest(conn, store.secret(), values)     # before the write lock  # doctest: +SKIP

    A capture makes it before it takes the write lock, so the lock is held for the SQL alone:
    the row's JSON text and its HMAC were a tenth of a capture's hold, which the other writers
    (a second worker, the background indexer) waited out. The row's seal is made of it and its id.
    """
    return values_digest(secret, values) if content_in_python(conn) else None


def seal_inserted(conn: sqlite3.Connection, secret: bytes, first: int, last: int) -> int:
    """Seal the rows with ids ``first``..``last`` just inserted unsealed in the caller's transaction, read back.

    >>> seal_inserted(conn, store.secret(), first, first + len(rows) - 1)     # doctest: +SKIP
    3

    ``secret`` is the database's (``Ledger.secret()``): it keys the digests. A capture seals its
    row in its INSERT instead (:func:`insert_digest`, :func:`.seal.seal_of`).
    """
    found = conn.execute(f"SELECT id, {CONTENT} FROM transcripts WHERE id BETWEEN ? AND ? AND seal IS NULL "
                         "ORDER BY id", (first, last)).fetchall()
    conn.executemany("UPDATE transcripts SET seal = ? WHERE id = ?",
                     [(seal_of(rid, row_digest(secret, content)), rid) for rid, content in found])
    return len(found)


def chain_changed(conn: sqlite3.Connection, secret: bytes, ids: Sequence[int]) -> int:
    """Chain the new content of rows the ledger changed (a purge's strip), and seal them again, in the caller's transaction."""
    digests = [(rid, row_digest(secret, content)) for rid, content in _contents(conn, sorted(ids))]
    seal_from = _meta_id(conn, SEAL_FROM)
    conn.executemany("UPDATE transcripts SET seal = ? WHERE id = ?",
                     [(seal_of(rid, digest), rid) for rid, digest in digests if rid >= seal_from])
    return _append(conn, [("strip", rid, digest) for rid, digest in digests])


#: Append to a DELETE to get what :func:`chain_removed` needs of each row it removes: id, content, seal.
RETURNING_CONTENT = f" RETURNING id, {CONTENT}, seal"
# The same text without json_patch, which parses json_object's text and writes it again (two thirds of
# the expression's cost, and the largest part of a purge's CPU): each non-NULL column's member,
# joined by concat_ws, which skips NULLs (SQLite 3.44+). Used where :func:`returning_content` finds
# this SQLite renders both alike.
_CONTENT_LEAN = ("'{' || concat_ws(',', " + ", ".join(
    f"""CASE WHEN "{c}" IS NOT NULL THEN '"{c}":' || json_quote("{c}") END""" for c in INSERT_COLUMNS) + ") || '}'")
_lean_ok: dict[type, bool] = {}


def returning_content(conn: sqlite3.Connection) -> str:
    """:data:`RETURNING_CONTENT`, or the same text built at a third of its cost where this SQLite can (asked once per driver)."""
    ok = _lean_ok.get(type(conn))
    if ok is None:
        ok = False
        if sqlite3.sqlite_version_info >= (3, 44, 0):
            cols = ", ".join(f'"{c}"' for c in INSERT_COLUMNS)
            probes = [PROBE, tuple(None if i % 2 else v for i, v in enumerate(PROBE)),
                      tuple({str: "\u00e9\"\x00", int: -2**63, float: 1e20}[k] for k in KINDS),
                      tuple({str: "", int: 0, float: -0.1}[k] for k in KINDS)]
            sql = (f"WITH r({cols}) AS (VALUES ({', '.join('?' * len(INSERT_COLUMNS))})) "
                   f"SELECT {CONTENT} IS {_CONTENT_LEAN} FROM r")
            ok = all(conn.execute(sql, p).fetchone()[0] == 1 for p in probes)
        _lean_ok[type(conn)] = ok
    return f" RETURNING id, {_CONTENT_LEAN}, seal" if ok else RETURNING_CONTENT


def chain_removed(conn: sqlite3.Connection, secret: bytes, removed: Sequence[tuple[int, str]], event: str) -> int:
    """Tombstone rows the ledger removed (``erase`` or ``purge``): their id, the digest they had, and the time.

    ``removed`` is what ``DELETE … RETURNING id, content, seal`` (:data:`RETURNING_CONTENT`) gave,
    in the transaction that deleted them: the words are hashed here and never kept.
    """
    if event not in _REMOVED:
        raise ValueError(f"a removal is 'erase' or 'purge', got {event!r}.")
    if not removed:
        return 0
    removed_upto(conn, max(rid for rid, *_ in removed))
    return _append(conn, ((event, rid, row_digest(secret, content)) for rid, content, *_ in sorted(removed)))


def chain_purged(conn: sqlite3.Connection, secret: bytes, removed: Sequence[tuple[int, str]]) -> int:
    """Tombstone the rows a purge removed with one entry: their ids (as runs) and a digest over their digests.

    >>> chain_purged(conn, store.secret(), conn.execute("DELETE ..." + RETURNING_CONTENT).fetchall())  # doctest: +SKIP
    1

    ``removed`` is what ``DELETE … RETURNING id, content, seal`` gave in the caller's transaction.
    A tombstone per row cost a purge a link hash and a chain row for each (a fifth of its CPU at a
    million rows); this entry keeps what verify needs: which ids the ledger removed (so a row
    missing beyond them is still named), a digest that verify recomputes from the digests the
    chain holds for the rows with ``insert`` entries, and the ids of sealed rows whose seal no
    longer matched their content (after ``/``, when there are any), so a row changed behind the
    ledger's back before it was purged is caught either way. Rows older than the chain are in the
    ids only.
    """
    if not removed:
        return 0
    chain_from, seal_from = _meta_id(conn, "chain_from"), _meta_id(conn, SEAL_FROM)
    rows = sorted((rid, row_digest(secret, content), seal) for rid, content, seal in removed)
    removed_upto(conn, rows[-1][0])
    digest = range_digest((rid, d) for rid, d, _ in rows if chain_from <= rid < seal_from)
    bad = [rid for rid, d, seal in rows if rid >= seal_from and (seal is None or seal_of(rid, d) != bytes(seal))]
    text = digest + "/" + runs_of([rid for rid, _, _ in rows]) + ("/" + runs_of(bad) if bad else "")
    return _append(conn, ((RANGE, 0, text),))


def _meta_id(conn: sqlite3.Connection, name: str) -> int:
    """``chain_from`` (1 when missing) or ``seal_from`` (past every id when missing: a file not yet migrated)."""
    got = conn.execute("SELECT value FROM privacy_meta WHERE name = ?", (name,)).fetchone()
    return int(got[0]) if got else (1 if name == "chain_from" else 1 << 62)


@dataclass(**RECORD)  # see skills_sdk._frozen
class ChainReport(Mutable):
    """What :func:`verify` found: ``ok``, the first ``problem`` in words, and what it walked."""

    ok: bool
    problem: str | None
    entries: int
    rows: int
    tombstones: int
    unchained: int
    head: str

    def __init__(self, ok: bool, problem: str | None, entries: int, rows: int, tombstones: int, unchained: int,
                 head: str) -> None:
        self.ok, self.problem, self.entries, self.rows = ok, problem, entries, rows
        self.tombstones, self.unchained, self.head = tombstones, unchained, head


def verify(conn: sqlite3.Connection, secret: bytes) -> ChainReport:
    """Walk the chain and check every row against it; the first problem found, or ``ok``.

    >>> from skills_sdk.transcripts import open_ledger
    >>> store = open_ledger(":memory:")
    >>> verify(store.db.conn, store.secret()).ok
    True

    Reads in one read transaction, so a server may keep writing meanwhile.
    """
    conn.execute("BEGIN")
    try:
        return _verify(conn, secret)
    finally:
        conn.execute("COMMIT")


def _verify(conn: sqlite3.Connection, secret: bytes) -> ChainReport:
    chain_from, seal_from = _meta_id(conn, "chain_from"), _meta_id(conn, SEAL_FROM)
    prev, expected_seq, entries = _GENESIS, 0, 0
    ranges: dict[int, str] = {}
    for seq, rid, event, digest, at, stored in conn.execute(
            "SELECT seq, id, event, digest, at, hash FROM ledger_chain ORDER BY seq"):
        expected_seq += 1
        if seq != expected_seq:
            return _bad(f"chain entry {expected_seq} is missing (the next one is {seq}): the chain was cut", entries,
                        prev)
        if event not in EVENTS or _link(prev, seq, event, rid, digest, at) != stored:
            return _bad(f"chain entry {seq} (row {rid}) was changed outside the ledger", entries, prev)
        if event == RANGE:
            ranges[seq] = digest
        prev = stored
        entries += 1
    head = prev
    forged = forged_below_one(conn)
    if forged is not None:
        return _bad(forged, entries, head)
    unchained = conn.execute("SELECT count(*) FROM transcripts WHERE id < ?", (chain_from,)).fetchone()[0]
    # The last entry of each id (SQLite returns the other columns of the max(seq) row), merged
    # with the ids of the purges' ranges and then with the rows, all in id order.
    last = conn.execute("SELECT id, event, digest, max(seq) FROM ledger_chain WHERE id != 0 GROUP BY id ORDER BY id")
    rows = conn.execute(f"SELECT id, {CONTENT} FROM transcripts WHERE id >= ? AND id < ? ORDER BY id",
                        (chain_from, seal_from))
    purged = PurgedRanges(ranges, chain_from, seal_from)
    merged, rest = purged.merge(last), []  # type: list[Sequence[Any]]
    report = check_rows(split_below(merged, seal_from, rest), rows, chain_from=chain_from, entries=entries,
                        head=head, unchained=unchained,
                        matches=lambda content, digest: hmac.compare_digest(row_digest(secret, content), digest))
    if report.ok:  # the rows sealed in their INSERT, and the tombstones of those removed
        sealed = conn.execute(f"SELECT id, {CONTENT}, seal FROM transcripts WHERE id >= ? ORDER BY id", (seal_from,))
        problem, checked, tombstones = check_sealed(itertools.chain(rest, merged), sealed, seal_from=seal_from,
                                                    high=highest_id(conn), digest_of=lambda c: row_digest(secret, c))
        if problem is not None:
            return _bad(problem, entries, head)
        report.rows += checked
        report.tombstones += tombstones
    changed = purged.mismatch() if report.ok else None
    if changed is not None:
        return _bad(f"chain entry {changed} (a purge of {purged.count(changed)} rows) does not match the rows the "
                    "chain recorded: one of them was changed outside the ledger before it was purged", entries, head)
    return report


def forged_below_one(conn: Any) -> str | None:
    """The problem of a row numbered below 1, or None: no ledger hands such an id out (on either backend).

    Rows below the chain's start are counted, not checked, as older than the chain; without this a
    row inserted with id 0 or -7 passed for one of them on every ledger, whose chain starts at id 1.
    """
    low = conn.execute("SELECT min(id) FROM transcripts").fetchone()[0]
    if low is None or low >= 1:
        return None
    return f"row {low} was inserted outside the ledger (the ledger numbers its rows from 1)"


def check_rows(last: Iterator[Sequence[Any]], rows: Iterator[Sequence[Any]], *, chain_from: int, entries: int,
               head: str, unchained: int, matches: Callable[[Any, str], bool],
               removed: Callable[[Sequence[Any]], bool] = lambda entry: entry[1] in _REMOVED) -> ChainReport:
    """Merge each id's last chain entry with the rows, both in id order; the first problem found, or ``ok``.

    Shared by both backends. ``last`` yields ``(id, event, digest, ...)``; ``rows`` yields ``(id,
    content)``; ``matches(content, digest)`` says whether a row is what was chained; ``removed(entry)``
    whether a row missing from the table was taken out by the ledger (an erasure or a purge).
    """
    entry, row = next(last, None), next(rows, None)
    checked = tombstones = 0
    while entry is not None or row is not None:
        if row is None or (entry is not None and entry[0] < row[0]):
            assert entry is not None
            if removed(entry):
                tombstones += 1
            elif entry[0] >= chain_from:
                return _bad(f"row {entry[0]} was deleted outside the ledger (the chain has no erasure or purge of it)",
                            entries, head)
            entry = next(last, None)
            continue
        rid, content = row
        if entry is None or entry[0] > rid:
            return _bad(f"row {rid} was inserted outside the ledger (the chain never recorded it)", entries, head)
        if entry[1] in _REMOVED:
            return _bad(f"row {rid} was {entry[1]}d by the ledger but is back: inserted outside the ledger",
                        entries, head)
        if not matches(content, entry[2]):
            return _bad(f"row {rid} was changed outside the ledger (its content no longer matches the chain)",
                        entries, head)
        checked += 1
        entry, row = next(last, None), next(rows, None)
    return ChainReport(True, None, entries, checked, tombstones, unchained, head)


def _bad(problem: str, entries: int, head: str) -> ChainReport:
    return ChainReport(False, problem, entries, 0, 0, 0, head)
