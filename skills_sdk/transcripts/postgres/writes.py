"""The PostgreSQL ledger's writes: a capture in one statement, imports with one ``COPY``."""

from __future__ import annotations

import contextlib
import operator
import time
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import errors, pq

from ...context import StateChange
from ...errors import ProgressTaken, StoreError
from ..record import INSERT_COLUMNS, storage_values, utcnow_iso
from . import chain, crypto, keyring, schema
from . import sealed as sealed_words
from .columns import CLEAR_COLUMNS, COPY_TYPES, SEALED_COLUMNS, STORED, STORED_USER
from .deadline import bounded
from .prepared import Prepared

__all__ = ["WritesMixin"]

_PROGRESS = "progress:"  # record_many's progress marks, beside the ledger's other settings in ledger_meta
_POS = {c: i for i, c in enumerate(INSERT_COLUMNS)}
#: A row's clear values and its words, by position in :func:`.record.storage_values`' list (one C call each).
_CLEAR_OF = operator.itemgetter(*(_POS[c] for c in CLEAR_COLUMNS))
_WORDS_OF = operator.itemgetter(*(_POS[c] for c in SEALED_COLUMNS))
_CLEAR_NAMES = tuple(f"c{i}" for i in range(len(CLEAR_COLUMNS)))
_CLEAR_PARAMS = ", ".join(f"%({n})s" for n in _CLEAR_NAMES)
# A row and its chain entry, in one statement. With words: the user's data key is share-locked by
# the insert, so an erasure that deletes it waits for this commit (then deletes this row too), and
# a key already erased inserts nothing. So is the search group's key the tokens were made with: an
# erasure retiring it waits for this commit (the group's re-key then finds this row), and a key
# retired already inserts nothing (the capture retries with the group's new key).
_ROW = ("INSERT INTO {table} (" + ", ".join(f'"{c}"' for c in CLEAR_COLUMNS) + ", key_id, sealed, tokens) SELECT "
        + _CLEAR_PARAMS + ", k.id, %(sealed)s, %(tokens)s::integer[] FROM k, g "
        "WHERE g.n = 1 OR %(group_id)s::bigint IS NULL RETURNING id")
_KEY = "k AS (SELECT id FROM user_keys WHERE id = %(key_id)s FOR KEY SHARE), "
_GROUP = ("g AS (SELECT count(*) AS n{kept} FROM (SELECT 1 FROM search_groups WHERE id = %(group_id)s AND NOT retired "
          "FOR SHARE) s), ")
# Through the parent table, the group's read also tells the parent's insert trigger, for this
# statement's transaction, that the statement keeps its user's day itself (``ud`` below). Straight
# into a day's partition no statement trigger fires, so the setting is left out: set in a
# transaction, it cost a parse of its value and its undoing at commit (2-3% of the backend's CPU).
_KEPT = f", set_config('{schema.USER_DAYS_KEPT}', 'kept', true)"
#: How far above its row's id a capture sets its user's day's ``top_id``: the day's later rows with ids
#: up to there leave the day's row alone. A day's ``top_id`` is an upper bound of its ids, which is
#: all a history's stopping rule needs (userdays.py); a day's row written at each capture cost a row
#: lock, an update and a page pruned, the largest share of a capture's WAL after a checkpoint
#: (each a full-page image of a page of user_days).
DAY_AHEAD = 10_000
# The user's day (see userdays.py), from the chain entry's CTE so that the lane is locked before the
# day, the order every remover takes them in. A day not there (or deleted since this statement's
# snapshot: ON CONFLICT sees that) is inserted (``ud``); one whose top is at or above the row's id
# in the snapshot is only read (no lock, no write: a day's later turns); any other (a top below the
# row's id, or a day another writer made after the snapshot, which the insert found) is raised if
# its newest version is still below the id (``ul``: ON CONFLICT locks and re-checks that version).
# Two modifying CTEs: a third, an UPDATE for the top below the id, cost a CTE, a scan and an
# index descent at every capture for what ``ul``'s conflict does as well.
_DAY_ROW = f"SELECT %(c3)s, left(%(c0)s, 10), h.id + {DAY_AHEAD} FROM h"
_DAY = (f", ud AS (INSERT INTO user_days (user_id, day, top_id) {_DAY_ROW} ON CONFLICT (user_id, day) DO NOTHING "
        f"RETURNING 1), ul AS (INSERT INTO user_days (user_id, day, top_id) {_DAY_ROW} WHERE NOT EXISTS "
        "(SELECT 1 FROM ud) AND NOT EXISTS (SELECT 1 FROM user_days d WHERE d.user_id = %(c3)s "
        "AND d.day = left(%(c0)s, 10) AND d.top_id >= h.id) ON CONFLICT (user_id, day) DO UPDATE "
        f"SET top_id = excluded.top_id WHERE user_days.top_id < excluded.top_id - {DAY_AHEAD})")
# A stateful turn's state, written by the same statement when (and only when) its row is: one
# round trip, where BEGIN, the row, the state and COMMIT were four. Only over the version the turn
# loaded (its sealed bytes, or none): when another turn of the user stored one meanwhile, ``st``
# writes nothing and the statement fails whole (``_STORED``: a serialization failure), its row
# too. The capture then writes both again with the turn's changes merged over what is stored
# (:meth:`WritesMixin._run_over_state`): a row is never committed without its state change, nor a
# change without its row, as in the SQLite ledger's one transaction. A row committed and its merge
# committed after (two commits) lost the change to a crash between them, and its row was spooled
# and replayed a second time when the merge failed.
_STATE = (", st AS (INSERT INTO user_state (developer_id, skill, user_id, key_id, sealed, updated_at) "
          "SELECT %(c1)s, %(c2)s, %(c3)s, %(key_id)s, %(state)s, %(c0)s FROM h ON CONFLICT (developer_id, skill, "
          "user_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, updated_at = excluded.updated_at "
          "WHERE %(state_whole)s OR user_state.sealed IS NOT DISTINCT FROM %(state_base)s RETURNING 1)")
# In the select list, evaluated only for the row inserted (none inserted: nothing to fail).
_STORED = ", CASE WHEN EXISTS (SELECT 1 FROM st) THEN 1 ELSE ledger_state_moved() END"
# With a new user's key made by the statement (keyring.MAKE): the row's id, or the user's existing key.
_MADE_OR_OLD = "SELECT id, NULL::integer, NULL::bytea FROM c UNION ALL SELECT id, epoch, wrapped FROM old"
#: The capture's statements by (makes the user's key, writes the turn's state, the row's day or None).
_CAPTURE: dict[tuple[bool, bool, str | None], Prepared] = {}
#: Days whose partition a capture found missing, and until when (monotonic) their rows go through the parent.
_NO_PARTITION: dict[str, float] = {}
_RECHECK_S = 60.0


def _capture(made: bool, state: bool, day: str | None) -> Prepared:
    """The capture's statement writing its row into ``day``'s partition, or (None) through the parent table.

    Straight into the day's partition the row skips the parent's routing and its statement
    trigger (``user_days_insert``, which a capture only skips by its WHEN: parsed from text again
    and the row copied to its transition table at every statement): 0.94x the server's
    instructions a capture (docs/performance.md). One statement per day, made on first use.
    """
    stmt = _CAPTURE.get((made, state, day))
    if stmt is None:
        if day is not None and not schema.is_day(day):  # a row's odd time: the parent puts it in the default partition
            return _capture(made, state, None)
        table, tag = ("transcripts", "") if day is None else (schema.partition_name(day), day.replace("-", ""))
        if len(_CAPTURE) > 64:  # yesterday's and older: a process lives for many days
            for key in [k for k in _CAPTURE if k[2] is not None]:
                del _CAPTURE[key]
        stmt = _CAPTURE[made, state, day] = Prepared(
            f"skills_capture_{int(made)}{int(state)}{tag}",
            chain.insert_sql(_ROW.replace("{table}", table),
                             (keyring.MAKE if made else _KEY) + _GROUP.replace("{kept}", _KEPT if day is None else ""),
                             after=_DAY + (_STATE if state else ""),
                             returning=_returning(made, state)))
    return stmt


def _returning(made: bool, state: bool) -> str:
    """The capture's result: the row's id (or the user's existing key), then whether the state was stored."""
    if not made:
        return "SELECT id" + (_STORED if state else "") + " FROM c"
    if not state:
        return _MADE_OR_OLD
    return (f"SELECT id, NULL::integer, NULL::bytea{_STORED} FROM c "
            "UNION ALL SELECT id, epoch, wrapped, 0 FROM old")


def _run_capture(conn: Any, made: bool, state: bool, day: str, params: dict[str, Any]) -> list[Any]:
    """Run the capture's statement for a row of ``day``: into its partition, else (none) through the parent."""
    if _NO_PARTITION and _NO_PARTITION.get(day, 0.0) > time.monotonic():
        return _capture(made, state, None).run(conn, params)
    try:
        return _capture(made, state, day).run(conn, params)
    except errors.UndefinedTable:  # no partition for that day (not made yet, or purged): nothing was written
        _NO_PARTITION[day] = time.monotonic() + _RECHECK_S
        return _capture(made, state, None).run(conn, params)


_INSERT_PLAIN = Prepared("skills_capture_plain", chain.insert_sql(
    "INSERT INTO transcripts (" + ", ".join(f'"{c}"' for c in CLEAR_COLUMNS) + ") VALUES (" + _CLEAR_PARAMS
    + ") RETURNING id"))
_USER = STORED_USER
#: The wrapped key comes back as bytea's text (hex, or the escape format where a server has
#: ``bytea_output = escape``): libpq's own reading of either.
_BYTEA = pq.Escaping()
_END = CLEAR_COLUMNS.index("end_session")
#: Attempts of a capture whose user's key an erasure destroys meanwhile (each makes a new key).
_KEY_RETRIES = 8
#: Runs of a capture whose user's state other turns keep storing under it (each merges over the newest).
_STATE_TRIES = 8


class WritesMixin:
    """``record`` (a capture) and ``record_many`` (imports, the spool's replay: one ``COPY``) of the ledger."""

    def _prepare(self: Any, conn: Any, row: Mapping[str, Any], *, fresh: bool = False
                 ) -> tuple[list[Any], int | None, bytes | None, list[int] | None, int | None]:
        """The clear values, key id, sealed words, search tokens and the id of their group key, of one row."""
        clear, words = _split(row)
        if not words:
            return clear, None, None, None, None
        key_id, key = self.keys.user_key(conn, clear[1], clear[2], clear[3], fresh=fresh)
        return clear, key_id, *self._seal(conn, clear, words, key_id, key, fresh=fresh)

    def _seal(self: Any, conn: Any, clear: list[Any], words: dict[str, Any], key_id: int, key: bytes, *,
              fresh: bool = False) -> tuple[bytes, list[int] | None, int | None]:
        """A row's words sealed under its user's key, their search tokens and the id of the tokens' group key."""
        sealed = crypto.seal(key, sealed_words.plaintext(words), str(key_id).encode())
        terms = crypto.words(words.get("utterance")) | crypto.words(words.get("speech"))
        if not terms:
            return sealed, None, None
        group_id, group_key = self.keys.group_key(conn, clear[1], crypto.group_of(clear[3]), fresh=fresh)
        return sealed, crypto.group_tokens(group_key, terms), group_id

    def record(self: Any, row: Mapping[str, Any], *, state: str | None = None) -> int:
        """Write one transcript row (and, given ``state`` JSON, the user's skill state) and commit; returns its id.

        One statement, so one round trip: the row, its chain entry, the state, and a new user's data
        key (:meth:`.Keyring.offer`) commit together. Waits ``write_timeout`` seconds at most for a
        connection (as do the capture path's reads, :meth:`capture_mode` and :meth:`load_state`), and
        as long again for its statements (:mod:`.deadline`): with the server gone, or a lock on the
        table held by a migration, capture spools the row instead of holding the user's answer.
        """
        secret = self.secret()
        clear, words = _split(row)
        with self.connection(timeout=self.write_timeout) as conn, bounded(conn, self.write_timeout):
            if not words:
                return self._record_plain(conn, clear, state, secret)
            owner = (clear[1], clear[2], clear[3])
            fresh = False
            for _ in range(_KEY_RETRIES):
                made: dict[str, Any] | None = None
                if fresh:
                    key_id, key = self.keys.user_key(conn, *owner, fresh=True)
                else:
                    key_id, key, made = self.keys.offer(conn, *owner)
                sealed, tokens, group_id = self._seal(conn, clear, words, key_id, key, fresh=fresh)
                params: dict[str, Any] = dict(zip(_CLEAR_NAMES, clear, strict=True))
                params.update(chain_lane=chain.lane_of(clear[_USER]), chain_day=clear[0][:10], chain_at=utcnow_iso(),
                              chain_digest=chain.digest_sealed(secret, clear, key_id, sealed, tokens),
                              key_id=key_id, sealed=sealed, tokens=_array(tokens), group_id=group_id)
                if made is not None:
                    params.update(made)
                if state is not None:
                    change = isinstance(state, StateChange)  # else a plain JSON state, stored whole
                    params.update(state=crypto.seal(key, state.encode(), f"state:{key_id}".encode()),
                                  state_whole=not change, state_base=state.token if change else None)
                got = self._run_over_state(conn, made is not None, state, clear[0][:10], params, owner, key_id, key)
                if got and (made is None or got[0][1] is None):
                    if made is not None:
                        self.keys.made(owner, key_id, key)
                    return int(got[0][0])
                if got:  # the user had a key (from before this process, or another host's): use it
                    old_id, epoch, wrapped = got[0][:3]
                    self.keys.unused(key_id)
                    self.keys.existing(owner, int(old_id), int(epoch), _BYTEA.unescape_bytea(wrapped))
                    continue
                # Nothing written: the key was erased meanwhile on some host (a new key), or its group
                # re-keyed, or (a key offered) the epoch moved or another host is making the same key.
                self.keys.forget([key_id])
                self.keys.forget_groups([group_id] if group_id is not None else [])
                fresh = True
        raise StoreError(f"The user's data key was erased {_KEY_RETRIES} times while this row was being written; "
                         "not recorded (the capture spools it).")

    def _run_over_state(self: Any, conn: Any, made: bool, state: str | None, day: str, params: dict[str, Any],
                        owner: tuple[str, str, str], key_id: int, key: bytes) -> list[Any]:
        """Run the capture's statement; when the user's state moved under the turn's change, again with it merged.

        Each run is one statement, so one transaction: the row and the state commit together or
        not at all. The merge is over the version read just before, written only over that version
        (a third turn storing one in between fails the run whole, as a deadlock would), so no lock
        is taken out of the capture's order (key, lane, day, state). Within the capture's deadline
        (:func:`.deadline.bounded`), :data:`_STATE_TRIES` runs at most.
        """
        last: Exception | None = None
        for _ in range(_STATE_TRIES):
            try:
                return _run_capture(conn, made, state is not None, day, params)
            except (errors.SerializationFailure, errors.DeadlockDetected) as exc:  # nothing was written
                last = exc
                if isinstance(state, StateChange):
                    base, merged = self.merged_over_stored(conn, *owner, state)
                    params.update(state=crypto.seal(key, merged.encode(), f"state:{key_id}".encode()),
                                  state_base=base)
        why = ("the user's state changed under this turn's change" if isinstance(last, errors.SerializationFailure)
               else "it met other writes in a deadlock")
        raise StoreError(f"The capture ran {_STATE_TRIES} times and each time {why} (many turns of one user at "
                         "once); not recorded: the capture spools the row with its change, which the replay merges."
                         ) from last

    def _record_plain(self: Any, conn: Any, clear: list[Any], state: str | None, secret: bytes) -> int:
        """A row without words (no key to share-lock) and its chain entry; its state in the same transaction."""
        params: dict[str, Any] = dict(zip(_CLEAR_NAMES, clear, strict=True))
        params.update(chain_lane=chain.lane_of(clear[_USER]), chain_day=clear[0][:10], chain_at=utcnow_iso(),
                      chain_digest=chain.digest(secret, (*clear, None, None, None)))

        def insert() -> int:
            # One statement, so without state it commits on its own (autocommit): one round trip, not three.
            with conn.transaction() if state is not None else contextlib.nullcontext():
                got = _INSERT_PLAIN.run(conn, params)
                if state is not None:
                    self._save_state(conn, clear[1], clear[2], clear[3], state, clear[0])
            return int(got[0][0])

        try:
            return insert()
        except errors.InvalidSqlStatementName:  # deallocated since its last run, inside the transaction (see Prepared)
            return insert()

    def record_many(self: Any, rows: Sequence[Mapping[str, Any]], *, progress: tuple[str, int] | None = None) -> int:
        """Write many rows with one ``COPY`` in one transaction (imports, spool replay); returns how many."""
        with self.connection() as conn:
            prepared = self.prepare_many(conn, rows)
            with conn.transaction():
                self.copy_in(conn, prepared)
                if progress is not None:
                    # Must advance the mark: a second run of the same import or copy at once stops here (rolled back).
                    held = conn.execute("INSERT INTO ledger_meta AS m (name, value) VALUES (%s, %s) ON CONFLICT (name) "
                                        "DO UPDATE SET value = excluded.value WHERE m.value::bigint < "
                                        "excluded.value::bigint RETURNING 1", (_PROGRESS + progress[0], str(progress[1]))
                                        ).fetchone()
                    if held is None:
                        raise ProgressTaken(progress[0], self.progress_in(conn, progress[0]), progress[1])
        return len(prepared)

    def progress(self: Any, name: str) -> int | None:
        with self.connection() as conn:
            return self.progress_in(conn, name)

    def progress_in(self: Any, conn: Any, name: str) -> int | None:
        got = conn.execute("SELECT value FROM ledger_meta WHERE name = %s", (_PROGRESS + name,)).fetchone()
        return None if got is None else int(got[0])

    def forget_progress(self: Any, name: str) -> None:
        with self.connection() as conn:
            conn.execute("DELETE FROM ledger_meta WHERE name = %s", (_PROGRESS + name,))

    def prepare_many(self: Any, conn: Any, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Rows made ready for :meth:`copy_in` (sealed, keyed, tokenised), before its transaction."""
        owners = {(r.get("developer_id"), r.get("skill"), r.get("user_id")) for r in rows
                  if any(r.get(c) is not None for c in SEALED_COLUMNS)}
        self.keys.load_many(conn, {o for o in owners if all(isinstance(v, str) and v for v in o)})
        return [self._prepare(conn, r) for r in rows]

    def copy_in(self: Any, conn: Any, prepared: Sequence[tuple[Any, ...]]) -> None:
        """``COPY`` prepared rows into the ledger inside the caller's transaction, their days' partitions first."""
        days = {c[0][:10] for c, *_ in prepared if _is_day(c[0][:10])}
        if days - set(schema.partition_days(conn)):
            # Another host may be making the same day's partition for its own import: one at a time
            # (the second then finds it made), not a "relation already exists" for the second.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.PARTITION_LOCK,))
            schema.ensure_days(conn, days)
        # Keys erased since they were cached would take rows under a destroyed key (COPY takes no
        # share lock per row): lock them all first, and refuse the batch if one is gone.
        # So are the search group keys of their tokens (a group retired meanwhile re-keys without these rows).
        ids = sorted({p[1] for p in prepared if p[1] is not None})
        groups = sorted({p[4] for p in prepared if p[4] is not None})
        if ids:
            alive = conn.execute("SELECT count(*) FROM (SELECT id FROM user_keys WHERE id = ANY(%s) FOR KEY SHARE) k",
                                 (ids,)).fetchone()[0]
            live = conn.execute("SELECT count(*) FROM (SELECT id FROM search_groups WHERE id = ANY(%s) AND NOT retired "
                                "FOR SHARE) g", (groups,)).fetchone()[0]
            if alive != len(ids) or live != len(groups):
                self.keys.forget(ids)
                self.keys.forget_groups(groups)
                raise StoreError("A user in this batch was erased while it was being written; nothing was written. "
                                 "Write the batch again: its erased user gets a new key.")
        chain.lock_lanes(conn, {c[_USER] for c, *_ in prepared})  # before the COPY's trigger locks their users' days
        # The ids are taken first, so that each row's chain entry can name it (COPY returns nothing).
        ids = [r[0] for r in conn.execute("SELECT nextval('transcripts_id_seq') FROM generate_series(1, %s)",
                                          (len(prepared),)).fetchall()]
        with conn.cursor().copy("COPY transcripts (id, " + STORED + ") FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["bigint", *COPY_TYPES])
            for rid, (clear, key_id, sealed, tokens, _) in zip(ids, prepared, strict=True):
                cp.write_row((rid, *clear, key_id, sealed, tokens))
        secret = self.secret()
        chain.append(conn, ((chain.lane_of(clear[_USER]), rid, clear[0][:10], "insert",
                             chain.digest(secret, (*clear, key_id, sealed, tokens)))
                            for rid, (clear, key_id, sealed, tokens, _) in zip(ids, prepared, strict=True)))


def _split(row: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """A row's clear values (:data:`CLEAR_COLUMNS` order) and its non-empty words, as stored."""
    values = storage_values(row)
    clear = list(_CLEAR_OF(values))
    if clear[_END] is not None:
        clear[_END] = bool(clear[_END])
    return clear, {c: v for c, v in zip(SEALED_COLUMNS, _WORDS_OF(values), strict=True) if v is not None}


def _array(numbers: list[int] | None) -> str | None:
    """An integer array as PostgreSQL's literal (psycopg dumps a list element by element in Python).

    The tokens' list was a tenth of a capture's client CPU under cProfile.
    """
    return None if numbers is None else "{" + ",".join(map(str, numbers)) + "}"

def _is_day(text: str) -> bool:
    try:
        schema.partition_name(text)
        return True
    except ValueError:
        return False
