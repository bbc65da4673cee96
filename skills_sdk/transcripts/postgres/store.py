"""``PostgresStore``: the transcript ledger on PostgreSQL (psycopg 3, a connection pool), words sealed per user."""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ...errors import StoreError
from ..store import _INSERT_COLUMNS, COLUMNS, _values, decode_row, utcnow_iso
from . import crypto, schema

__all__ = ["PostgresStore", "SEALED_COLUMNS"]

#: What a user said and heard: sealed together under the user's data key, never stored in clear.
SEALED_COLUMNS = ("utterance", "speech", "reprompt", "card", "slots", "error", "directives")
#: Columns stored as they are (metadata: who, when, which skill and intent, how it went).
CLEAR_COLUMNS = tuple(c for c in _INSERT_COLUMNS if c not in SEALED_COLUMNS)
_POS = {c: i for i, c in enumerate(_INSERT_COLUMNS)}
_SELECT = ", ".join(f'"{c}"' for c in ("id", *CLEAR_COLUMNS)) + ", key_id, sealed"
_INSERT = ("WITH k AS (SELECT id FROM user_keys WHERE id = %s FOR KEY SHARE) INSERT INTO transcripts ("
           + ", ".join(f'"{c}"' for c in CLEAR_COLUMNS) + ", key_id, sealed, tokens) SELECT "
           + ", ".join("%s" for _ in CLEAR_COLUMNS) + ", k.id, %s, %s FROM k RETURNING id")
_INSERT_PLAIN = ("INSERT INTO transcripts (" + ", ".join(f'"{c}"' for c in CLEAR_COLUMNS) + ") VALUES ("
                 + ", ".join("%s" for _ in CLEAR_COLUMNS) + ") RETURNING id")
_COPY_COLUMNS = (*CLEAR_COLUMNS, "key_id", "sealed", "tokens")
_COPY_TYPES = ["text", "text", "text", "text", "text", "text", "text", "text", "boolean", "text", "text",
               "double precision", "text", "text", "text", "bigint", "bytea", "integer[]"]
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_CACHE_SIZE = 20_000
#: Attempts of a capture whose user's key an erasure destroys meanwhile (each makes a new key).
_KEY_RETRIES = 8


class PostgresStore:
    """The ledger on PostgreSQL: many skill servers on many hosts share one database.

    >>> store = PostgresStore("postgresql://skills@db.internal/ledger", key_file="/etc/skills/ledger.key")   # doctest: +SKIP
    >>> store.record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."})
    1

    Every write commits before it returns (synchronous_commit as the server has it: on by
    default). The schema is created and migrated by the ledger itself (:meth:`migrate`). What a
    user said and heard is sealed with AES-GCM under a data key of its own per (developer, skill,
    user), kept wrapped under the key file's key; see :mod:`.crypto` for why erasure then reaches
    the WAL and earlier backups.
    """

    def __init__(self, url: str, *, key_file: str, min_size: int = 1, max_size: int = 8,
                 migrate: bool = True, timeout: float = 10.0) -> None:
        self.url = url
        self.key_file_path = key_file
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=False, timeout=timeout,
                                   kwargs={"autocommit": True})
        self._lock = threading.Lock()
        self._user_keys: collections.OrderedDict[tuple[str, str, str], tuple[int, bytes]] = collections.OrderedDict()
        self._keys_by_id: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self._search_keys: dict[str, tuple[int, bytes]] = {}
        # Named as the SQLite store names it, so audit.user_hash() salts with it on either backend.
        self._privacy_secret: bytes | None = None
        try:
            self.pool.open(wait=True, timeout=timeout)
        except psycopg.Error as exc:
            raise StoreError(f"Cannot reach the PostgreSQL ledger: {exc}.") from exc
        except Exception as exc:  # PoolTimeout: the server is down or refuses us
            self.pool.close()
            raise StoreError(f"Cannot reach the PostgreSQL ledger ({exc}); is the server up and the URL right?") from exc
        if migrate:
            self.migrate()
        self._bind_key_file()
        self.secret  # noqa: B018 - loaded once, before user_hash() reads it
        self.make_partitions()

    # -- lifecycle -----------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Bring the schema to this version's (``skills ledger migrate``); returns the migrations applied."""
        with self.pool.connection() as conn:
            return schema.migrate(conn)

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool.close()

    def _bind_key_file(self) -> None:
        """Open the key file and agree with the database on the epoch, or refuse a key file that is not this ledger's."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("LOCK TABLE ledger_meta IN SHARE ROW EXCLUSIVE MODE")
            meta = dict(conn.execute("SELECT name, value FROM ledger_meta WHERE name IN ('kek_epoch', 'kek_check', "
                                     "'secret')").fetchall())
            kf = crypto.KeyFile.open(self.key_file_path, create="kek_epoch" not in meta)
            if "kek_epoch" not in meta:
                conn.execute("INSERT INTO ledger_meta (name, value) VALUES ('kek_epoch', %s), ('kek_check', %s), "
                             "('secret', %s)", (str(kf.epoch), kf.check_value(), crypto.new_key().hex()))
            else:
                epoch = int(meta["kek_epoch"])
                if kf.epoch > epoch:
                    raise StoreError(
                        f"The key file {self.key_file_path!r} is at epoch {kf.epoch} but the database at {epoch}: this "
                        "database was restored from before a key ratchet (its erased users stay unreadable, as do "
                        "the words of everyone else recorded before the backup). Restore a newer backup.")
                kf.advance_to(epoch)
                if kf.check_value() != meta["kek_check"]:
                    raise StoreError(f"The key file {self.key_file_path!r} is not this ledger's: its key does not "
                                     "match the database. Copy the right file from another host of this ledger.")
        self.key_file = kf

    def make_partitions(self, days: Sequence[str] | None = None) -> list[str]:
        """Make the day partitions for ``days`` (default: yesterday to a week ahead); returns those made."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (0x534B5054,))
            return schema.ensure_days(conn, list(days) if days is not None else schema.ahead())

    # -- keys ------------------------------------------------------------------------------
    def _kek(self, epoch: int) -> bytes:
        with self._lock:
            if epoch > self.key_file.epoch:
                self.key_file.advance_to(epoch)  # another host ratcheted: follow, destroying the old key
            return self.key_file.key_at(epoch)

    def _user_key(self, conn: psycopg.Connection, dev: str, skill: str, user: str, *, fresh: bool = False
                  ) -> tuple[int, bytes]:
        """The data key of (developer, skill, user), made on first use; ``(key id, key)``."""
        ident = (dev, skill, user)
        if not fresh:
            hit = self._user_keys.get(ident)
            if hit is not None:
                return hit
        label = _user_label(dev, skill, user)
        row = conn.execute("SELECT id, epoch, wrapped FROM user_keys WHERE user_id = %s AND developer_id = %s "
                           "AND skill = %s", (user, dev, skill)).fetchone()
        if row is None:
            with conn.transaction():
                # FOR SHARE: a ratchet (FOR UPDATE) cannot re-wrap the keys between our read of the epoch and our insert.
                epoch = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'kek_epoch' FOR SHARE").fetchone()[0])
                key = crypto.new_key()
                made = conn.execute(
                    "INSERT INTO user_keys (developer_id, skill, user_id, epoch, wrapped, created_at) VALUES "
                    "(%s, %s, %s, %s, %s, %s) ON CONFLICT (user_id, developer_id, skill) DO NOTHING RETURNING id",
                    (dev, skill, user, epoch, crypto.wrap(self._kek(epoch), key, label), utcnow_iso())).fetchone()
            if made is None:  # another host made it first
                return self._user_key(conn, dev, skill, user, fresh=True)
            found = (int(made[0]), key)
        else:
            found = (int(row[0]), crypto.unwrap(self._kek(row[1]), bytes(row[2]), label))
        self._remember(ident, found)
        return found

    def _remember(self, ident: tuple[str, str, str], found: tuple[int, bytes]) -> None:
        with self._lock:
            self._user_keys[ident] = found
            self._keys_by_id[found[0]] = found[1]
            for cache in (self._user_keys, self._keys_by_id):
                while len(cache) > _CACHE_SIZE:
                    cache.popitem(last=False)

    def _forget_keys(self, key_ids: Sequence[int] = (), *, everything: bool = False) -> None:
        with self._lock:
            if everything:
                self._user_keys.clear()
                self._keys_by_id.clear()
                return
            gone = set(key_ids)
            for ident in [i for i, (kid, _) in self._user_keys.items() if kid in gone]:
                del self._user_keys[ident]
            for kid in gone:
                self._keys_by_id.pop(kid, None)

    def _keys_for(self, conn: psycopg.Connection, key_ids: set[int]) -> dict[int, bytes]:
        """Data keys by id, for reading rows; ids whose key is gone (erased) are left out."""
        out = {k: self._keys_by_id[k] for k in key_ids if k in self._keys_by_id}
        missing = [k for k in key_ids if k not in out]
        if missing:
            for kid, dev, skill, user, epoch, wrapped in conn.execute(
                    "SELECT id, developer_id, skill, user_id, epoch, wrapped FROM user_keys WHERE id = ANY(%s)",
                    (missing,)).fetchall():
                key = crypto.unwrap(self._kek(epoch), bytes(wrapped), _user_label(dev, skill, user))
                self._remember((dev, skill, user), (int(kid), key))
                out[int(kid)] = key
        return out

    def search_key(self, conn: psycopg.Connection, dev: str) -> tuple[int, bytes]:
        """The developer's search key and index number, made on first use."""
        hit = self._search_keys.get(dev)
        if hit is not None:
            return hit
        label = _search_label(dev)
        row = conn.execute("SELECT num, epoch, wrapped FROM search_keys WHERE developer_id = %s", (dev,)).fetchone()
        if row is None:
            with conn.transaction():
                epoch = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'kek_epoch' FOR SHARE").fetchone()[0])
                key = crypto.new_key()
                conn.execute("INSERT INTO search_keys (developer_id, epoch, wrapped) VALUES (%s, %s, %s) "
                             "ON CONFLICT (developer_id) DO NOTHING",
                             (dev, epoch, crypto.wrap(self._kek(epoch), key, label)))
            return self.search_key(conn, dev)
        found = (int(row[0]), crypto.unwrap(self._kek(row[1]), bytes(row[2]), label))
        self._search_keys[dev] = found
        return found

    def ratchet(self) -> int:
        """Re-wrap every data key under the next KEK and destroy the current one; returns the new epoch.

        Erasure calls it: afterwards no key that remains (in the file, the database or any host's
        memory after its next key read) opens a data key wrapped before, in old WAL or a backup.
        """
        with self.pool.connection() as conn, conn.transaction():
            epoch = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'kek_epoch' FOR UPDATE").fetchone()[0])
            old, new = self._kek(epoch), self._kek_next(epoch)
            for table, ident, cols in (("user_keys", "id", "developer_id, skill, user_id"),
                                       ("search_keys", "developer_id", "developer_id")):
                rows = conn.execute(f"SELECT {ident}, wrapped, {cols} FROM {table}").fetchall()
                if rows:
                    label = _user_label if table == "user_keys" else _search_label
                    conn.execute("CREATE TEMP TABLE _rewrap (k text, wrapped bytea) ON COMMIT DROP")
                    with conn.cursor().copy("COPY _rewrap (k, wrapped) FROM STDIN") as cp:
                        for k, wrapped, *names in rows:
                            lab = label(*names)
                            cp.write_row((str(k), crypto.wrap(new, crypto.unwrap(old, bytes(wrapped), lab), lab)))
                    conn.execute(f"UPDATE {table} t SET wrapped = r.wrapped, epoch = %s FROM _rewrap r "
                                 f"WHERE t.{ident}::text = r.k", (epoch + 1,))
                    conn.execute("DROP TABLE _rewrap")
            check = crypto.KeyFile("", epoch + 1, new).check_value()
            conn.execute("UPDATE ledger_meta SET value = %s WHERE name = 'kek_epoch'", (str(epoch + 1),))
            conn.execute("UPDATE ledger_meta SET value = %s WHERE name = 'kek_check'", (check,))
        # Committed: now the file may forget the old key (a crash before this line is caught up at the next open).
        with self._lock:
            self.key_file.advance_to(epoch + 1)
        return epoch + 1

    def _kek_next(self, epoch: int) -> bytes:
        with self._lock:
            return self.key_file.key_at(epoch + 1)

    @property
    def secret(self) -> bytes:
        """This ledger's random secret (salts user-id hashes in receipts and audit rows, signs page cursors)."""
        if self._privacy_secret is None:
            with self.pool.connection() as conn:
                self._privacy_secret = bytes.fromhex(conn.execute(
                    "SELECT value FROM ledger_meta WHERE name = 'secret'").fetchone()[0])
        return self._privacy_secret

    # -- writing ---------------------------------------------------------------------------
    def _prepare(self, conn: psycopg.Connection, row: Mapping[str, Any], *, fresh: bool = False
                 ) -> tuple[list[Any], int | None, bytes | None, list[int] | None]:
        """The clear values, key id, sealed words and search tokens of one row."""
        values = _values(row)
        clear = [values[_POS[c]] for c in CLEAR_COLUMNS]
        i = CLEAR_COLUMNS.index("end_session")
        if clear[i] is not None:
            clear[i] = bool(clear[i])
        words = {c: values[_POS[c]] for c in SEALED_COLUMNS if values[_POS[c]] is not None}
        if not words:
            return clear, None, None, None
        dev, skill, user = values[_POS["developer_id"]], values[_POS["skill"]], values[_POS["user_id"]]
        key_id, key = self._user_key(conn, dev, skill, user, fresh=fresh)
        sealed = crypto.seal(key, _DUMPS(words).encode(), str(key_id).encode())
        terms = crypto.words(words.get("utterance")) | crypto.words(words.get("speech"))
        tokens = None
        if terms:
            num, skey = self.search_key(conn, dev)
            tokens = crypto.token_buckets(skey, num, terms)
        return clear, key_id, sealed, tokens

    def record(self, row: Mapping[str, Any], *, state: str | None = None) -> int:
        """Write one transcript row (and, given ``state`` JSON, the user's skill state) and commit; returns its id."""
        with self.pool.connection() as conn:
            for attempt in range(_KEY_RETRIES):
                clear, key_id, sealed, tokens = self._prepare(conn, row, fresh=attempt > 0)
                with conn.transaction():
                    if key_id is None:
                        got = conn.execute(_INSERT_PLAIN, clear).fetchone()
                    else:
                        # The key row is share-locked by the insert: an erasure that deletes it waits for
                        # this commit, then deletes this row too; a key already erased inserts nothing.
                        got = conn.execute(_INSERT, [key_id, *clear, sealed, tokens]).fetchone()
                    if got is not None:
                        if state is not None:
                            self._save_state(conn, clear[1], clear[2], clear[3], state, clear[0])
                        return int(got[0])
                self._forget_keys([key_id])  # erased meanwhile on some host: a new key
        raise StoreError(f"The user's data key was erased {_KEY_RETRIES} times while this row was being written; "
                         "not recorded (the capture spools it).")

    def record_many(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write many rows with one ``COPY`` in one transaction (imports, spool replay); returns how many."""
        with self.pool.connection() as conn:
            prepared = [self._prepare(conn, r) for r in rows]
            with conn.transaction():
                days = {c[0][:10] for c, *_ in prepared if _is_day(c[0][:10])}
                schema.ensure_days(conn, days)
                # Keys erased since they were cached would be lost silently by COPY (no share lock):
                # lock them all first, and refuse the batch if one is gone.
                ids = sorted({k for _, k, _, _ in prepared if k is not None})
                if ids:
                    alive = conn.execute("SELECT count(*) FROM (SELECT id FROM user_keys WHERE id = ANY(%s) "
                                         "FOR KEY SHARE) k", (ids,)).fetchone()[0]
                    if alive != len(ids):
                        self._forget_keys(ids)
                        raise StoreError("A user in this batch was erased while it was being written; retry.")
                cur = conn.cursor()
                with cur.copy("COPY transcripts (" + ", ".join(f'"{c}"' for c in _COPY_COLUMNS)
                              + ") FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(_COPY_TYPES)
                    for clear, key_id, sealed, tokens in prepared:
                        cp.write_row((*clear, key_id, sealed, tokens))
        return len(prepared)

    # -- reading -----------------------------------------------------------------------------
    def decode(self, conn: psycopg.Connection, raw: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """Rows as ``SELECT {_SELECT}`` returns them, unsealed and decoded like the SQLite ledger's."""
        keys = self._keys_for(conn, {r[-2] for r in raw if r[-2] is not None})
        out = []
        for r in raw:
            row = dict.fromkeys(COLUMNS)
            row["id"] = r[0]
            for c, v in zip(CLEAR_COLUMNS, r[1:-2], strict=True):
                row[c] = v
            if row["end_session"] is not None:
                row["end_session"] = int(row["end_session"])
            key_id, sealed = r[-2], r[-1]
            if sealed is not None:
                key = keys.get(key_id)
                if key is not None:
                    row.update(json.loads(crypto.unseal(key, bytes(sealed), str(key_id).encode())))
            out.append(decode_row(row))
        return out

    def _rows(self, conn: psycopg.Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.decode(conn, conn.execute(sql, params).fetchall())

    def get(self, transcript_id: int) -> dict[str, Any] | None:
        """One transcript by id, or None."""
        with self.pool.connection() as conn:
            rows = self._rows(conn, f"SELECT {_SELECT} FROM transcripts WHERE id = %s", (transcript_id,))
        return rows[0] if rows else None

    def user_history(self, user_id: str, *, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
        """A user's transcripts across every skill, newest first (read through the user-scoped view)."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('skills.user_id', %s, true)", (user_id,))
            return self._rows(conn, f"SELECT {_SELECT} FROM user_transcripts WHERE user_id = %s AND id < %s "
                                    "ORDER BY id DESC LIMIT %s", (user_id, before_id or 2**63 - 1, limit))

    def session_turns(self, session_id: str) -> list[dict[str, Any]]:
        """Every turn of one session, in order."""
        with self.pool.connection() as conn:
            return self._rows(conn, f"SELECT {_SELECT} FROM transcripts WHERE session_id = %s ORDER BY id",
                              (session_id,))

    def count(self, **where: Any) -> int:
        """How many transcripts match equality filters, e.g. ``count(user_id="u1")``; an unknown column is an error."""
        unknown = sorted(set(where) - set(CLEAR_COLUMNS) - {"id"})
        if unknown:
            raise ValueError(f"count() cannot filter on {', '.join(unknown)}; use one of {', '.join(CLEAR_COLUMNS)}.")
        sql = "SELECT count(*) FROM transcripts" + (
            " WHERE " + " AND ".join(f'"{k}" = %s' for k in where) if where else "")
        with self.pool.connection() as conn:
            return int(conn.execute(sql, list(where.values())).fetchone()[0])

    def iter_transcripts(self, *, developer_id: str | None = None, skill: str | None = None,
                         user_id: str | None = None, session_id: str | None = None, since: str | None = None,
                         until: str | None = None, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every matching transcript, oldest first (``created_at``, then id), streamed with ``COPY ... TO STDOUT``.

        A developer's export reads through the developer-scoped view, in one read transaction.
        """
        clauses, params = [], []
        for col, val in (("developer_id", developer_id), ("skill", skill), ("user_id", user_id),
                         ("session_id", session_id)):
            if val is not None:
                clauses.append(f"{col} = {_literal(val)}")
        if since:
            clauses.append(f"created_at >= {_literal(since)}")
        if until:
            clauses.append(f"created_at < {_literal(until)}")
        source = "developer_transcripts" if developer_id is not None else "transcripts"
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self.pool.connection() as conn, conn.transaction():
            if developer_id is not None:
                conn.execute("SELECT set_config('skills.developer_id', %s, true)", (developer_id,))
            cur = conn.cursor()
            with cur.copy(f"COPY (SELECT {_SELECT} FROM {source}{where} ORDER BY created_at, id) TO STDOUT "
                          "(FORMAT BINARY)") as cp:
                cp.set_types(["bigint", *_COPY_TYPES[:-1]])
                chunk: list[tuple[Any, ...]] = []
                for raw in cp.rows():
                    chunk.append(raw)
                    if len(chunk) >= batch:
                        yield from self.decode(conn, chunk)
                        chunk = []
                if chunk:
                    yield from self.decode(conn, chunk)

    def iter_jsonl(self, **filters: Any) -> Iterator[str]:
        """The rows ``iter_transcripts`` yields, each as one compact JSON line (no newline), as the SQLite ledger writes them."""
        for row in self.iter_transcripts(**filters):
            yield _DUMPS(row)

    # -- consent and state -------------------------------------------------------------------
    def capture_mode(self, user_id: str) -> str:
        """What this user lets us record: ``full``, ``redacted`` (the default) or ``metadata``."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT mode FROM consent WHERE user_id = %s", (user_id,)).fetchone()
        return row[0] if row else "redacted"

    def set_capture_mode(self, user_id: str, mode: str) -> None:
        """Set what is recorded for ``user_id`` from now on."""
        if mode not in ("full", "redacted", "metadata"):
            raise ValueError(f"capture mode must be 'full', 'redacted' or 'metadata', got {mode!r}.")
        with self.pool.connection() as conn:
            conn.execute("INSERT INTO consent (user_id, mode, updated_at) VALUES (%s, %s, %s) ON CONFLICT (user_id) "
                         "DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at",
                         (user_id, mode, utcnow_iso()))

    def load_state(self, developer_id: str, skill: str, user_id: str) -> dict[str, Any]:
        """The persistent attributes of ``user_id`` in ``skill`` (empty dict if none)."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT key_id, sealed FROM user_state WHERE developer_id = %s AND skill = %s AND "
                               "user_id = %s", (developer_id, skill, user_id)).fetchone()
            if row is None:
                return {}
            key = self._keys_for(conn, {row[0]}).get(row[0])
        if key is None:
            return {}
        return json.loads(crypto.unseal(key, bytes(row[1]), f"state:{row[0]}".encode()))

    def save_state(self, developer_id: str, skill: str, user_id: str, state: Mapping[str, Any]) -> None:
        """Replace the persistent attributes of ``user_id`` in ``skill``."""
        with self.pool.connection() as conn, conn.transaction():
            self._save_state(conn, developer_id, skill, user_id, json.dumps(dict(state), separators=(",", ":")),
                             utcnow_iso())

    def _save_state(self, conn: psycopg.Connection, dev: str, skill: str, user: str, state: str, at: str) -> None:
        key_id, key = self._user_key(conn, dev, skill, user)
        conn.execute("INSERT INTO user_state (developer_id, skill, user_id, key_id, sealed, updated_at) "
                     "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (developer_id, skill, user_id) DO UPDATE SET "
                     "key_id = excluded.key_id, sealed = excluded.sealed, updated_at = excluded.updated_at",
                     (dev, skill, user, key_id, crypto.seal(key, state.encode(), f"state:{key_id}".encode()), at))


def _user_label(dev: str, skill: str, user: str) -> str:
    """What a user data key is bound to (AES-GCM associated data): it opens for that owner only."""
    return "user:" + json.dumps([dev, skill, user])


def _search_label(dev: str) -> str:
    return "search:" + json.dumps(dev)


def _is_day(text: str) -> bool:
    try:
        schema.partition_name(text)
        return True
    except ValueError:
        return False


def _literal(value: str) -> str:
    """A SQL string literal (COPY takes no parameters): quotes doubled, NULs refused."""
    if "\x00" in value:
        raise ValueError("a filter value cannot contain a NUL character.")
    return "'" + value.replace("'", "''") + "'"
