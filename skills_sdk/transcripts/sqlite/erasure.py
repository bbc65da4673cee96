"""Erasure on SQLite that leaves no byte behind: delete a user's rows, scrub the index and the WAL, write a receipt."""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ...errors import ErasureIncomplete
from ..manifest import manifest
from ..record import to_iso, utcnow_iso
from .audit import audit
from .chain import chain_removed, returning_content
from .driver import FTS5_SECURE_DELETE, Transaction, sqlite3
from .fts import CHANGE_SLICE, apply_fts_changes, fts_tables
from .queries import by_user_first

if TYPE_CHECKING:
    from .ledger import SQLiteLedger as TranscriptStore

__all__ = ["erase_user", "scrub", "schedule_erasure", "run_pending", "iter_receipts", "finish_scrubs"]

log = logging.getLogger("skills_sdk.transcripts")

def scrub(store: TranscriptStore, *, attempts: int = 5, pause: float = 0.05, wait_ms: int = 200,
          conn: sqlite3.Connection | None = None) -> bool:
    """Remove the old bytes of deleted rows from the files; True when nothing of them is left.

    >>> from skills_sdk.transcripts import open_ledger
    >>> scrub(open_ledger(":memory:"))
    True

    Every connection has ``secure_delete`` on, so freed pages are zeroed. What is left is the
    full-text index, whose deletes are tombstones until the index is merged ('optimize'), and the
    ``-wal`` file, which keeps old page images until a ``wal_checkpoint(TRUNCATE)`` completes. A
    checkpoint cannot complete while another connection holds a read transaction; it is retried
    ``attempts`` times (each waiting up to ``wait_ms`` for readers), ``pause`` seconds apart, and
    False is returned if it never completed. ``conn`` is the connection to use (default: this
    thread's).
    """
    conn = conn or store.conn
    if not FTS5_SECURE_DELETE:
        # Without FTS5's secure-delete (SQLite < 3.42) a delete leaves tombstones and the old
        # tokens in the segments until the whole index is merged.
        for name in fts_tables(conn):
            conn.execute(f"INSERT INTO {name} ({name}) VALUES ('optimize')")
    if store.memory:
        return True
    # A short busy timeout per attempt: a long-lived reader must not hold the erasing request for
    # attempts x the store's (long) timeout; the retries and the next purge cover slow readers.
    timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    try:
        for i in range(attempts):
            busy, _, _ = store.checkpoint("TRUNCATE", conn=conn)
            if not busy:
                return True
            time.sleep(pause * (i + 1))
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    return False


def _where(user_id: str, skill: str | None, developer_id: str | None) -> tuple[str, list[Any]]:
    # Through the user's index, as reads that name a user go (by_user_first): without statistics SQLite
    # took the developer's index and read all of that developer's rows (325-470 ms for a 6-row user
    # at 1M rows and 4 developers).
    clauses, params = ["user_id = ?"], [user_id]
    if skill:
        clauses.append("skill = ?")
        params.append(skill)
    if developer_id:
        clauses.append("developer_id = ?")
        params.append(developer_id)
    return " AND ".join(by_user_first(clauses)), params


def erase_user(store: TranscriptStore, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
               actor: str = "cli", reason: str = "request", check: bool = True,
               scrub: bool | None = None) -> dict[str, Any]:
    """Erase everything recorded about ``user_id`` (in every skill, or one) and return the receipt.

    >>> from skills_sdk.transcripts import open_ledger
    >>> store = open_ledger(":memory:")
    >>> ids = [store.record({"developer_id": "acme", "skill": "pizza", "user_id": "amzn1.ask.account.A"})
    ...        for _ in range(3)]
    >>> receipt = erase_user(store, "amzn1.ask.account.A")
    >>> receipt["transcripts"], receipt["scrubbed"]
    (3, True)

    In one transaction: the user's transcripts (and any rows still waiting in the spool), their
    saved skill state and any erasure scheduled for them are deleted and a receipt is written, so
    at the commit no read, export or search of the ledger returns anything of theirs (a search
    joins every full-text match to its row, and the row is gone). The consent row stays: it holds
    no text, and dropping it would silently put the user back on the default capture mode. The
    receipt (stored in ``erasure_receipts`` and returned) holds counts, per-skill numbers, the
    developers involved, when, and a salted hash of the user id — never the id or any text. An
    unknown user gets a receipt with zero rows.

    The scrub follows (:func:`finish_scrubs`): their words leave the full-text index (FTS5's
    secure delete, about 0.3 ms per row: most of an erasure's cost) and the write-ahead log is
    emptied, and ``scrubbed`` turns true. A ledger whose background thread runs in this process
    (a server) leaves the scrub to that thread, which does it at its next tick, half a second at
    most: the receipt then says ``scrubbed: False`` and the stored receipt turns true moments
    later. ``scrub=True`` scrubs before returning (what a ledger without the thread, the CLI, does),
    ``scrub=False`` leaves it to the next tick, purge or erasure. A scrub cut short by a crash is
    finished by the next start. Raises :class:`ErasureIncomplete` (carrying the receipt) when a
    scrub run here could not truncate the WAL yet; pass ``check=False`` to get the receipt instead.
    """
    if not user_id:
        raise ValueError("erase_user needs a user id; got an empty one.")
    for name, value in (("skill", skill), ("developer_id", developer_id)):
        if value is not None and not value.strip():
            raise ValueError(f"{name} is empty; pass None to erase across every {name.split('_')[0]}, or name one.")
    where, params = _where(user_id, skill, developer_id)
    receipt_id = "er_" + secrets.token_hex(8)
    from ..spool import erase_spooled  # here: the spool is off the cold path

    # Rows waiting in the spool (written while the database was unavailable) must not come back later.
    spooled = 0 if store.memory else erase_spooled(store, user_id, skill=skill or None,
                                                   developer_id=developer_id or None)
    with store.transaction() as conn:
        per_skill: dict[str, int] = {}
        developers: set[str] = set()
        for dev, sk, n in conn.execute(
                f"SELECT developer_id, skill, count(*) FROM transcripts WHERE {where} GROUP BY 1, 2", params):
            per_skill[sk] = per_skill.get(sk, 0) + n
            developers.add(dev)
        # Their full-text entries are queued (fts_changes, by trigger) for the scrub; until then
        # they point at rows that no longer exist, which every search joins away.
        gone = conn.execute(f"DELETE FROM transcripts WHERE {where}" + returning_content(conn), params).fetchall()
        rows = len(gone)
        chain_removed(conn, store.secret(), gone, "erase")  # tombstones: id, digest, time; never a word
        state_rows = conn.execute(f"DELETE FROM user_state WHERE {where}", params).rowcount
        pending_where = where if skill or developer_id else "user_id = ?"
        conn.execute(f"DELETE FROM pending_erasures WHERE {pending_where}", params)
        nothing = not rows and not state_rows  # a receipt with nothing to scrub is complete as written
        at = utcnow_iso()
        scope = {"skill": skill, "developer_id": developer_id}
        conn.execute(
            "INSERT INTO erasure_receipts (id, at, user_hash, scope, reason, rows, per_skill, developers, state_rows, "
            "scrubbed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (receipt_id, at, store.user_hash(user_id), json.dumps(scope), reason, rows,
             json.dumps(per_skill, sort_keys=True), json.dumps(sorted(developers)), state_rows, int(nothing)))
        audit(store, actor, "skill_disabled" if reason == "skill_disabled" else "erase",
              {"user_id": user_id, "skill": skill, "developer_id": developer_id, "receipt": receipt_id}, rows,
              conn=conn)
    if scrub is None:
        scrub = not store.scrub_soon()
    # A receipt of nothing still says whether an earlier erasure's scrub is owed.
    scrubbed = finish_scrubs(store) if scrub else nothing and not _owed(store.conn)
    receipt = {"receipt_id": receipt_id, "erased_at": at, "user_hash": store.user_hash(user_id), "skill": skill,
               "developer_id": developer_id, "transcripts": rows, "per_skill": per_skill,
               "developers": sorted(developers), "state_rows": state_rows, "spooled": spooled, "scrubbed": scrubbed,
               "reason": reason}
    receipt["manifest"] = manifest(receipt)
    if scrub and not scrubbed:
        log.warning("erasure %s deleted %d rows but could not truncate the WAL yet", receipt_id, rows)
        if check:
            raise ErasureIncomplete(
                f"Erasure {receipt_id} deleted {rows} transcript(s), but another connection kept the write-ahead log "
                "from being truncated, so their old bytes may remain in the -wal file. Retry the erasure (it is "
                "safe) or run `skills transcripts purge`; the receipt says scrubbed: false until then.", receipt)
    return receipt


def _owed(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM erasure_receipts WHERE scrubbed = 0 LIMIT 1").fetchone() is not None


def finish_scrubs(store: TranscriptStore, *, conn: sqlite3.Connection | None = None, wal: bool = False,
                  yielding: bool = False, attempts: int = 5) -> bool:
    """Finish the scrub of every receipt still marked ``scrubbed: false``; True when none is left owing.

    >>> from skills_sdk.transcripts import open_ledger
    >>> finish_scrubs(open_ledger(":memory:"))
    True

    Applies the full-text deletes the erasures queued (secure delete: no token of them stays in
    the index) in one write transaction (the background thread: :data:`.fts.CHANGE_SLICE` rows per
    transaction, giving way to captures between them), then empties the write-ahead log (:func:`scrub`),
    then marks those receipts scrubbed. ``wal`` scrubs the log even when no receipt owes it (a
    purge). ``conn``, ``yielding`` and ``attempts`` are the background thread's (its own
    connection; it does not count as a waiting writer; one try per tick, so a long reader does not
    hold up its indexing and checkpoints).
    """
    conn = conn or store.conn
    owed = [r[0] for r in conn.execute("SELECT id FROM erasure_receipts WHERE scrubbed = 0").fetchall()]
    if not owed and not wal:
        return True
    applied = True
    while applied:  # the background thread's: a few rows per hold, captures waiting going first between
        with store.writing(yielding=yielding), Transaction(conn):
            applied = apply_fts_changes(conn, rows=CHANGE_SLICE if yielding else None) > 0 and yielding
        if applied:
            store._give_way()
    if not scrub(store, conn=conn, attempts=attempts):
        return False
    if owed:
        with store.writing(yielding=yielding):
            conn.executemany("UPDATE erasure_receipts SET scrubbed = 1 WHERE id = ?", [(rid,) for rid in owed])
    return True


def iter_receipts(store: TranscriptStore, *, user_id: str | None = None) -> list[dict[str, Any]]:
    """Stored erasure receipts, newest first (only ``user_id``'s when given).

    >>> from skills_sdk.transcripts import open_ledger
    >>> store = open_ledger(":memory:")
    >>> store.record({"developer_id": "acme", "skill": "pizza", "user_id": "amzn1.ask.account.A"})
    1
    >>> _ = erase_user(store, "amzn1.ask.account.A")
    >>> [r["transcripts"] for r in iter_receipts(store, user_id="amzn1.ask.account.A")]
    [1]
    """
    sql = "SELECT id, at, user_hash, scope, reason, rows, per_skill, developers, state_rows, scrubbed FROM erasure_receipts"
    params: list[Any] = []
    if user_id is not None:
        sql += " WHERE user_hash = ?"
        params.append(store.user_hash(user_id))
    out = []
    for rid, at, uh, scope, reason, rows, per_skill, devs, state_rows, scrubbed in store.conn.execute(
            sql + " ORDER BY at DESC, id", params).fetchall():
        sc = json.loads(scope)
        out.append({"receipt_id": rid, "erased_at": at, "user_hash": uh, "skill": sc.get("skill"),
                    "developer_id": sc.get("developer_id"), "transcripts": rows, "per_skill": json.loads(per_skill),
                    "developers": json.loads(devs), "state_rows": state_rows, "scrubbed": bool(scrubbed),
                    "reason": reason})
        out[-1]["manifest"] = manifest(out[-1])
    return out


def schedule_erasure(store: TranscriptStore, user_id: str, *, skill: str | None = None,
                     developer_id: str | None = None, due: datetime, reason: str = "skill_disabled") -> None:
    """Queue an erasure for ``due``; :func:`run_pending` (called by every purge) carries it out.

    >>> from datetime import datetime, timezone
    >>> from skills_sdk.transcripts import open_ledger
    >>> schedule_erasure(open_ledger(":memory:"), "amzn1.ask.account.A", skill="pizza", due=datetime.now(timezone.utc))
    """
    store.conn.execute(
        "INSERT INTO pending_erasures (user_id, developer_id, skill, due_at, reason, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)", (user_id, developer_id, skill, to_iso(due), reason, utcnow_iso()))


def run_pending(store: TranscriptStore, *, now: datetime | None = None, actor: str = "purge") -> list[dict[str, Any]]:
    """Carry out the scheduled erasures that are due at ``now``; returns their receipts."""
    cutoff = to_iso(now or datetime.now(UTC))
    due = store.conn.execute(
        "SELECT id, user_id, developer_id, skill, reason FROM pending_erasures WHERE due_at <= ? ORDER BY id",
        (cutoff,)).fetchall()
    receipts = []
    for pid, user_id, developer_id, skill, reason in due:
        receipts.append(erase_user(store, user_id, skill=skill, developer_id=developer_id, actor=actor,
                                   reason=reason, check=False, scrub=False))  # the purge scrubs once, after
        store.conn.execute("DELETE FROM pending_erasures WHERE id = ?", (pid,))
    return receipts
