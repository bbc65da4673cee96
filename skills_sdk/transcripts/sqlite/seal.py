"""The seal in each transcript row: its tamper evidence, written by the row's own INSERT.

A row's ``seal`` column is SHA-256 over its id and the keyed digest of its content (HMAC-SHA256
under the database's secret, :func:`chain.insert_digest`), 32 bytes. Without the secret no one can
make a seal for a row, so verify names a row whose content changed (its seal no longer matches),
a row inserted outside the ledger (no seal, or a seal made for another row: the id is in it), and
two rows whose contents (and seals) were swapped. Ids are handed out in order under the write lock
(:data:`next_id_sql`), so every id from ``seal_from`` to the highest ever used is a row or a
tombstone in ``ledger_chain`` (an erasure's, a purge's): a row deleted outside the ledger leaves a
gap, the newest ones included (``sqlite_sequence`` remembers the highest id).

This replaced one ``ledger_chain`` entry per captured row (its head read, its INSERT and one WAL
frame a capture). Rows from before it (``id < seal_from``) keep their ``insert`` entries and are
checked against them as before; ``ledger_chain`` keeps the entries of what the ledger did to rows
afterwards (strip, erase, purge), hash-linked among themselves as before.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .content import define_seal_in_c
from .driver import sqlite3

__all__ = ["SEAL_FROM", "REMOVED_HIGH", "seal_of", "seal_sql", "define_seal", "highest_id", "removed_upto", "next_id_sql", "migrate", "check_sealed", "split_below"]

#: The ``privacy_meta`` name of the first id sealed in its row (rows below it have ``insert`` entries).
SEAL_FROM = "seal_from"
_REMOVED = frozenset({"erase", "purge"})


def seal_of(rid: int, digest: str) -> bytearray:
    """The seal of row ``rid`` whose content has the keyed ``digest``.

    A ``bytearray``: the driver binds one directly, where ``bytes`` goes through its adapter
    registry first (an AttributeError raised and cleared: 7.3 against 3.1 us a statement).
    """
    return bytearray(hashlib.sha256(b"%d|%s" % (rid, digest.encode())).digest())


def seal_sql(rid: int, digest: str | None) -> bytearray | None:
    """``skills_seal(id, digest)`` in SQL (every connection has it): :func:`seal_of`, or NULL for a NULL digest."""
    return None if digest is None else seal_of(rid, digest)


def define_seal(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the SQL function ``skills_seal(id, digest)``, :func:`seal_sql`: in C where ``_content.c`` can.

    The C function spares a capture's INSERT a call back into Python (the GIL, two arguments made
    objects, a hash object, a bytearray: some 11,000 instructions). The first connection of each driver
    checks it against :func:`seal_of` (a mismatch, and that driver's connections get the Python one).
    """
    ok = _c_seal_ok.get(type(conn))
    if ok is not False and define_seal_in_c(conn):
        if ok is None:
            probe = (1234567, hashlib.sha256(b"probe").hexdigest())
            ok = _c_seal_ok[type(conn)] = conn.execute("SELECT skills_seal(?, ?)", probe).fetchone()[0] == seal_of(*probe)
        if ok:
            return
    conn.create_function("skills_seal", 2, seal_sql, deterministic=True)


_c_seal_ok: dict[type, bool] = {}  # by driver, as content_in_python asks


def next_id_sql(conn: sqlite3.Connection) -> str:
    """A statement giving the id the next INSERT will get (AUTOINCREMENT's, never an erased row's id again)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        return ("SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'transcripts'), 0), "
                "coalesce((SELECT max(id) FROM transcripts), 0)) + 1")
    # A table from 0.1 (no AUTOINCREMENT): past the highest id a removal took too (REMOVED_HIGH).
    return ("SELECT max(coalesce((SELECT max(id) FROM transcripts), 0), coalesce((SELECT CAST(value AS INTEGER) "
            f"FROM privacy_meta WHERE name = '{REMOVED_HIGH}'), 0)) + 1")


#: The ``privacy_meta`` name of the highest id an erasure or a purge removed (:func:`removed_upto`).
REMOVED_HIGH = "removed_high"


def removed_upto(conn: sqlite3.Connection, rid: int) -> None:
    """Note that a removal took row ``rid`` (its highest): a 0.1 table's next id stays above it."""
    conn.execute("INSERT INTO privacy_meta (name, value) VALUES (?, CAST(? AS TEXT)) ON CONFLICT (name) DO UPDATE "
                 "SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
                 (REMOVED_HIGH, rid))


def migrate(conn: sqlite3.Connection) -> None:
    """Add the ``seal`` column to a ledger from before it (inside ensure_schema's transaction).

    ``ALTER TABLE ... ADD COLUMN`` rewrites the schema only, never a row: instant at any size.
    Rows already there keep their ``insert`` entries; sealing starts with the next id.
    """
    if any(name == "seal" for (name,) in conn.execute("SELECT name FROM pragma_table_info('transcripts')")):
        return
    conn.execute('ALTER TABLE "transcripts" ADD COLUMN "seal" BLOB')
    conn.execute("INSERT OR IGNORE INTO privacy_meta (name, value) VALUES (?, CAST((" + next_id_sql(conn)
                 + ") AS TEXT))", (SEAL_FROM,))


def highest_id(conn: sqlite3.Connection) -> int:
    """The highest id ever handed out (0 for none)."""
    return int(conn.execute(next_id_sql(conn)).fetchone()[0]) - 1


def split_below(items: Iterator[Sequence[Any]], bound: int, rest: list[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    """The items (in id order) with an id below ``bound``; the first one at or above it is put in ``rest``."""
    for item in items:
        if item[0] >= bound:
            rest.append(item)
            return
        yield item


def _matches(rid: int, content: str, seal: bytes | None, entry: Sequence[Any] | None,
             digest_of: Callable[[str], str]) -> bool:
    """Whether a row is as the ledger left it: its seal, or else the digest of its last ``insert``/``strip`` entry.

    The entry is for a row written above ``seal_from`` by a process still running the code from
    before the seal (an old worker during a deploy): its row has no seal, and its strips do not
    seal again.
    """
    digest = digest_of(content)
    if seal is not None and hmac.compare_digest(seal_of(rid, digest), bytes(seal)):
        return True
    return entry is not None and entry[1] in ("insert", "strip") and hmac.compare_digest(digest, entry[2])


def check_sealed(last: Iterator[Sequence[Any]], rows: Iterator[Sequence[Any]], *, seal_from: int, high: int,
                 digest_of: Callable[[str], str]) -> tuple[str | None, int, int]:
    """Check the sealed rows (``id >= seal_from``) against their seals and the removals' tombstones.

    ``last`` yields each id's last ``ledger_chain`` entry ``(id, event, ...)`` (purge ranges
    expanded), ``rows`` yields ``(id, content, seal)``, both in id order. Returns the first
    problem in words (or None), the rows checked and the tombstones met.
    """
    entry, row = next(last, None), next(rows, None)
    expect, checked, tombstones = seal_from, 0, 0
    while entry is not None or row is not None:
        rid = min(x[0] for x in (entry, row) if x is not None)
        if rid > expect:
            return f"row {expect} was deleted outside the ledger (the chain has no erasure or purge of it)", 0, 0
        here = entry if entry is not None and entry[0] == rid else None
        removed = here is not None and here[1] in _REMOVED
        if row is None or row[0] != rid:
            if not removed:
                return f"row {rid} was deleted outside the ledger (the chain has no erasure or purge of it)", 0, 0
            tombstones += 1
        else:
            seal = row[2]
            if removed:
                return f"row {rid} was {here[1]}d by the ledger but is back: inserted outside the ledger", 0, 0
            if not _matches(rid, row[1], seal, here, digest_of):
                if seal is None and here is None:
                    return f"row {rid} was inserted outside the ledger (it has no seal)", 0, 0
                return f"row {rid} was changed outside the ledger (its content no longer matches its seal)", 0, 0
            checked += 1
            row = next(rows, None)
        if here is not None:
            entry = next(last, None)
        expect = rid + 1
    if high >= expect:
        return f"row {expect} was deleted outside the ledger (the newest ids ever used have no row and no tombstone)", 0, 0
    return None, checked, tombstones
