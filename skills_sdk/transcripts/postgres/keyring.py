"""The ledger's keyring on PostgreSQL: the key file bound to the database, data keys made, cached, ratcheted."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...errors import StoreError
from ..record import utcnow_iso
from . import crypto
from .keycache import KeyCache

if TYPE_CHECKING:
    from .store import PostgresLedger

__all__ = ["Keyring", "MAKE", "user_label", "group_label"]

#: Data keys a process keeps unwrapped in memory (least recently used go first).
_CACHE_SIZE = 20_000
#: Key ids a process takes from the database at a time (see :meth:`Keyring.offer`).
_IDS_AHEAD = 32
# A user's data key, or a new one made with the caller's wrapped key when there is none: ``(id,
# epoch, wrapped, made)``. The epoch's row is share-locked (only when a key is made: the NOT EXISTS
# is checked first), so a ratchet cannot re-wrap the keys between it and the insert; no row back
# (a ratchet moved the epoch, or another host is making the same key) sends the caller the long way.
_FIND_OR_MAKE = (
    "WITH old AS (SELECT id, epoch, wrapped FROM user_keys WHERE user_id = %(u)s AND developer_id = %(d)s "
    "AND skill = %(s)s), m AS (SELECT 1 FROM ledger_meta WHERE name = 'kek_epoch' AND value = %(text_epoch)s "
    "FOR SHARE), made AS (INSERT INTO user_keys (developer_id, skill, user_id, epoch, wrapped, created_at) "
    "SELECT %(d)s, %(s)s, %(u)s, %(epoch)s, %(wrapped)s, %(at)s FROM m WHERE NOT EXISTS (SELECT 1 FROM old) "
    "ON CONFLICT (user_id, developer_id, skill) DO NOTHING RETURNING id) "
    "SELECT id, epoch, wrapped, false FROM old UNION ALL SELECT id, NULL, NULL, true FROM made")


#: CTEs that make a user's data key in the capture's own statement (:meth:`Keyring.offer`): ``k``
#: is the key's id when made; when the user has a key already, ``old`` holds it and nothing is
#: made. The epoch's row is share-locked only when a key is made (as in :data:`_FIND_OR_MAKE`); no
#: key made and none old (a ratchet moved the epoch, another host is making this key) sends the
#: caller the long way. The owner is ``%(c1)s, %(c2)s, %(c3)s`` (developer, skill, user).
MAKE = (
    "old AS (SELECT id, epoch, wrapped FROM user_keys WHERE user_id = %(c3)s AND developer_id = %(c1)s "
    "AND skill = %(c2)s), m AS (SELECT 1 FROM ledger_meta WHERE name = 'kek_epoch' AND value = %(key_text_epoch)s "
    "FOR SHARE), k AS (INSERT INTO user_keys (id, developer_id, skill, user_id, epoch, wrapped, created_at) "
    "OVERRIDING SYSTEM VALUE SELECT %(key_id)s, %(c1)s, %(c2)s, %(c3)s, %(key_epoch)s, %(key_wrapped)s, %(key_at)s "
    "FROM m WHERE NOT EXISTS (SELECT 1 FROM old) ON CONFLICT (user_id, developer_id, skill) DO NOTHING RETURNING id), ")


class Keyring:
    """Data keys per (developer, skill, user) and search keys per developer's group, wrapped under the key file's KEK.

    >>> ring = Keyring(ledger, "/etc/skills/ledger.key"); ring.bind()      # doctest: +SKIP
    >>> key_id, key = ring.user_key(conn, "acme", "pizza", "u1")       # doctest: +SKIP

    See :mod:`.crypto` for why the keys are wrapped and the KEK ratchets.
    """

    def __init__(self, ledger: PostgresLedger, key_file: str) -> None:
        self.ledger = ledger
        self.key_file_path = key_file
        self.key_file: crypto.KeyFile  # set by bind()
        self._lock = threading.Lock()
        self._users = KeyCache(_CACHE_SIZE)  # opened data keys, by owner and by id
        self._groups: dict[tuple[str, int], tuple[int, bytes]] = {}
        self._group_by_id: dict[int, bytes] = {}
        self._ids: tuple[int, list[int]] = (0, [])  # key ids taken ahead, and the process they belong to
        #: How many times this process forgot keys (erasures, re-keys): see :meth:`keep`.
        self.forgotten = 0

    def bind(self) -> None:
        """Open the key file and agree with the database on the epoch, or refuse a key file that is not this ledger's."""
        with self.ledger.connection() as conn, conn.transaction():
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
        with self.ledger.connection() as conn:  # so that even the first new user's capture is one statement
            self._next_id(conn, take=False)

    def kek(self, epoch: int) -> bytes:
        with self._lock:
            if epoch > self.key_file.epoch:
                self.key_file.advance_to(epoch)  # another host ratcheted: follow, destroying the old key
            return self.key_file.key_at(epoch)

    def user_key(self, conn: Any, dev: str, skill: str, user: str, *, fresh: bool = False
                  ) -> tuple[int, bytes]:
        """The data key of (developer, skill, user), made on first use; ``(key id, key)``."""
        ident = (dev, skill, user)
        if not fresh:
            hit = self._users.get(ident)
            if hit is not None:
                return hit
        label = user_label(dev, skill, user)
        # One round trip finds the key or makes it, wrapped under the epoch this process knows (autocommit).
        epoch, key = self.key_file.epoch, crypto.new_key()
        row = conn.execute(_FIND_OR_MAKE, {"d": dev, "s": skill, "u": user, "epoch": epoch, "text_epoch": str(epoch),
                                           "wrapped": crypto.wrap(self.kek(epoch), key, label), "at": utcnow_iso()}
                           ).fetchone()
        if row is None:  # a ratchet moved the epoch, or another host is making this key now
            return self._user_key_after_race(conn, ident, label)
        found = (int(row[0]), key) if row[3] else (int(row[0]), crypto.unwrap(self.kek(row[1]), bytes(row[2]), label))
        self.remember(ident, found)
        return found

    def offer(self, conn: Any, dev: str, skill: str, user: str) -> tuple[int, bytes, dict[str, Any] | None]:
        """The data key of (developer, skill, user) if this process holds it, else a new one for the capture to make.

        ``(key id, key, None)`` for a key in memory; else ``(id, key, made)``: a fresh key under an
        id taken ahead from the database's sequence, so the capture seals its words (bound to the
        id) before the key exists, and ``made`` holds the statement parameters that make it
        (``key_epoch``, ``key_text_epoch``, ``key_wrapped``, ``key_at``: see :data:`MAKE`). A new
        user's capture is then one statement, not a key's round trip and then the row's. Give the
        id back with :meth:`unused` when the statement made no key.
        """
        hit = self._users.get((dev, skill, user))
        if hit is not None:
            return hit[0], hit[1], None
        epoch, key = self.key_file.epoch, crypto.new_key()
        wrapped = crypto.wrap(self.kek(epoch), key, user_label(dev, skill, user))
        return self._next_id(conn), key, {"key_epoch": epoch, "key_text_epoch": str(epoch), "key_wrapped": wrapped,
                                          "key_at": utcnow_iso()}

    def made(self, ident: tuple[str, str, str], key_id: int, key: bytes) -> None:
        """The capture's statement made the key :meth:`offer` gave: keep it."""
        self.remember(ident, (key_id, key))

    def existing(self, ident: tuple[str, str, str], key_id: int, epoch: int, wrapped: bytes) -> None:
        """The key the database already had for ``ident`` (the capture's statement made none): keep it, opened."""
        self.remember(ident, (int(key_id), crypto.unwrap(self.kek(epoch), bytes(wrapped), user_label(*ident))))

    def unused(self, key_id: int) -> None:
        """An id from :meth:`offer` that made no key: the next new user takes it."""
        with self._lock:
            if self._ids[0] == os.getpid():
                self._ids[1].append(key_id)

    def _next_id(self, conn: Any, *, take: bool = True) -> int:
        """A user key id nobody else has (taken :data:`_IDS_AHEAD` at a time; a forked process takes its own)."""
        pid = os.getpid()
        with self._lock:
            if self._ids[0] == pid and self._ids[1] and take:
                return self._ids[1].pop()
        got = [int(r[0]) for r in conn.execute("SELECT nextval(pg_get_serial_sequence('user_keys', 'id')) "
                                               "FROM generate_series(1, %s)", (_IDS_AHEAD,)).fetchall()]
        with self._lock:
            if self._ids[0] != pid:
                self._ids = (pid, [])
            self._ids[1].extend(reversed(got[1:] if take else got))
        return got[0]

    def _user_key_after_race(self, conn: Any, ident: tuple[str, str, str], label: str) -> tuple[int, bytes]:
        """:meth:`user_key` the long way: read the key another host made, or make it at the epoch the database has."""
        dev, skill, user = ident
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
                    (dev, skill, user, epoch, crypto.wrap(self.kek(epoch), key, label), utcnow_iso())).fetchone()
            if made is None:  # another host made it first
                return self.user_key(conn, dev, skill, user, fresh=True)
            found = (int(made[0]), key)
        else:
            found = (int(row[0]), crypto.unwrap(self.kek(row[1]), bytes(row[2]), label))
        self.remember(ident, found)
        return found

    def load_many(self, conn: Any, owners: set[tuple[str, str, str]]) -> None:
        """Read, or make, the data keys of many (developer, skill, user) into the cache in a few statements (imports).

        One key per statement made a 100,000-user import wait on 100,000 round trips.
        """
        missing = [o for o in owners if o not in self._users]
        for lo in range(0, len(missing), 5000):
            part = missing[lo:lo + 5000]
            devs, skills, users = ([o[i] for o in part] for i in range(3))
            found = {(d, s, u): (k, e, w) for k, d, s, u, e, w in conn.execute(
                "SELECT k.id, k.developer_id, k.skill, k.user_id, k.epoch, k.wrapped FROM user_keys k JOIN "
                "unnest(%s::text[], %s::text[], %s::text[]) o(d, s, u) ON k.developer_id = o.d AND k.skill = o.s "
                "AND k.user_id = o.u", (devs, skills, users)).fetchall()}
            for owner, (kid, epoch, wrapped) in found.items():
                self.remember(owner, (int(kid), crypto.unwrap(self.kek(epoch), bytes(wrapped), user_label(*owner))))
            new = [o for o in part if o not in found]
            if not new:
                continue
            with conn.transaction():
                epoch = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'kek_epoch' FOR SHARE").fetchone()[0])
                kek, keys = self.kek(epoch), {o: crypto.new_key() for o in new}
                made = conn.execute(
                    "INSERT INTO user_keys (developer_id, skill, user_id, epoch, wrapped, created_at) SELECT d, s, u, %s, "
                    "w, %s FROM unnest(%s::text[], %s::text[], %s::text[], %s::bytea[]) n(d, s, u, w) "
                    "ON CONFLICT (user_id, developer_id, skill) DO NOTHING RETURNING id, developer_id, skill, user_id",
                    (epoch, utcnow_iso(), [o[0] for o in new], [o[1] for o in new], [o[2] for o in new],
                     [crypto.wrap(kek, keys[o], user_label(*o)) for o in new])).fetchall()
            for kid, d, s, u in made:
                self.remember((d, s, u), (int(kid), keys[(d, s, u)]))
            # Owners another host keyed meanwhile are read one by one (rare).

    def remember(self, ident: tuple[str, str, str], found: tuple[int, bytes]) -> None:
        self._users.put(ident, found)

    def forget(self, key_ids: Sequence[int] = (), *, everything: bool = False) -> None:
        with self._lock:
            self.forgotten += 1
            if everything:
                self._users.clear()
            else:
                self._users.forget(key_ids)

    def keep(self, users: Sequence[tuple[tuple[str, str, str], tuple[int, bytes]]],
             groups: Sequence[tuple[tuple[str, int], tuple[int, bytes]]], *, unless_forgotten_since: int) -> int:
        """Keep keys opened ahead (warmkeys.py) that are not held already; how many. None when this process
        forgot keys since :attr:`forgotten` was ``unless_forgotten_since`` (an erasure's, a retired group's)."""
        with self._lock:
            if self.forgotten != unless_forgotten_since:
                return 0
            new = self._users.add_new(users)
            live = [(i, f) for i, f in groups if i not in self._groups]
            self._groups.update(live)
            self._group_by_id.update(f for _, f in live)
        return new + len(live)

    def keys_for(self, conn: Any, key_ids: set[int], *, cache: bool = True) -> dict[int, bytes]:
        """Data keys by id, for reading rows; ids whose key is gone (erased) are left out.

        ``cache=False`` (an export, which keeps the keys it opened itself) leaves this process's
        cache as it was: a walk over every user would only push the capture's keys out of it.
        """
        out = {k: key for k in key_ids if (key := self._users.key(k, touch=cache)) is not None}
        missing = [k for k in key_ids if k not in out]
        if missing:
            keks: dict[int, AESGCM] = {}  # for this call only: a ratchet destroys the old KEK
            for kid, dev, skill, user, epoch, wrapped in conn.execute(
                    "SELECT id, developer_id, skill, user_id, epoch, wrapped FROM user_keys WHERE id = ANY(%s)",
                    (missing,)).fetchall():
                kek = keks.get(epoch) or keks.setdefault(epoch, AESGCM(self.kek(epoch)))
                key = crypto.unwrap(kek, bytes(wrapped), user_label(dev, skill, user))
                if cache:
                    self.remember((dev, skill, user), (int(kid), key))
                out[int(kid)] = key
        return out

    def keys_given(self, wrapped: dict[int, tuple[str, str, str, int, bytes]]) -> dict[int, bytes]:
        """Data keys by id from their stored form ``(developer, skill, user, epoch, wrapped)``, read with the rows."""
        out = {}
        keks: dict[int, AESGCM] = {}  # one per epoch for this call, as in keys_for: a page of a history opens ~7 keys
        for kid, (dev, skill, user, epoch, blob) in wrapped.items():
            key = self._users.key(kid)
            if key is None:
                kek = keks.get(epoch) or keks.setdefault(epoch, AESGCM(self.kek(epoch)))
                key = crypto.unwrap(kek, bytes(blob), user_label(dev, skill, user))
                self.remember((dev, skill, user), (kid, key))
            out[kid] = key
        return out

    def group_key(self, conn: Any, dev: str, grp: int, *, fresh: bool = False) -> tuple[int, bytes]:
        """The live search key of the developer's group ``grp``, made on first use (and after an erasure retired it)."""
        if not fresh:
            hit = self._groups.get((dev, grp))
            if hit is not None:
                return hit
        label = group_label(dev, grp)
        row = conn.execute("SELECT id, epoch, wrapped FROM search_groups WHERE developer_id = %s AND grp = %s "
                           "AND NOT retired", (dev, grp)).fetchone()
        if row is None:
            with conn.transaction():
                epoch = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'kek_epoch' FOR SHARE").fetchone()[0])
                conn.execute("INSERT INTO search_groups (developer_id, grp, epoch, wrapped) VALUES (%s, %s, %s, %s) "
                             "ON CONFLICT (developer_id, grp) WHERE NOT retired DO NOTHING",
                             (dev, grp, epoch, crypto.wrap(self.kek(epoch), crypto.new_key(), label)))
            return self.group_key(conn, dev, grp, fresh=True)
        found = (int(row[0]), self._group_by_id.get(int(row[0])) or crypto.unwrap(self.kek(row[1]), bytes(row[2]), label))
        with self._lock:
            self._groups[(dev, grp)] = found
            self._group_by_id[found[0]] = found[1]
        return found

    def search_keys(self, conn: Any, dev: str) -> tuple[list[bytes], tuple[int, bytes] | None]:
        """Every search key of the developer's groups, live and retired (a re-key moves rows from one to the other),
        and the developer's search key of before search groups with its number (None when none is left): one statement.
        """
        out, legacy = [], None
        for kind, kid, grp, epoch, wrapped in conn.execute(
                "SELECT 0, id, grp, epoch, wrapped FROM search_groups WHERE developer_id = %s UNION ALL "
                "SELECT 1, num, 0, epoch, wrapped FROM search_keys WHERE developer_id = %s ORDER BY 1, 2",
                (dev, dev)).fetchall():
            if kind:
                legacy = int(kid), crypto.unwrap(self.kek(epoch), bytes(wrapped), _search_label(dev))
                continue
            if (key := self._group_by_id.get(int(kid))) is None:
                key = crypto.unwrap(self.kek(epoch), bytes(wrapped), group_label(dev, grp))
                with self._lock:
                    self._group_by_id[int(kid)] = key
            out.append(key)
        return out, legacy

    def forget_groups(self, key_ids: Sequence[int]) -> None:
        """Drop retired or destroyed group keys from this process's memory."""
        gone = set(key_ids)
        with self._lock:
            self.forgotten += 1
            for ident in [i for i, (kid, _) in self._groups.items() if kid in gone]:
                del self._groups[ident]
            for kid in gone:
                self._group_by_id.pop(kid, None)
        crypto.forget_pads()

    def ratchet(self) -> int:
        """Re-wrap every data key under the next KEK and destroy the current one; returns the new epoch.

        Erasure calls it: afterwards no key that remains (in the file, the database or any host's
        memory after its next key read) opens a data key wrapped before, in old WAL or a backup.
        """
        with self.ledger.connection() as conn, conn.transaction():
            epoch = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'kek_epoch' FOR UPDATE").fetchone()[0])
            old, new = self.kek(epoch), self._kek_next(epoch)
            for table, ident, cols, label in (("user_keys", "id", "developer_id, skill, user_id", user_label),
                                              ("search_keys", "developer_id", "developer_id", _search_label),
                                              ("search_groups", "id", "developer_id, grp", group_label)):
                rows = conn.execute(f"SELECT {ident}, wrapped, {cols} FROM {table}").fetchall()
                if rows:
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

def user_label(dev: str, skill: str, user: str) -> str:
    """What a user data key is bound to (AES-GCM associated data): it opens for that owner only.

    ``"user:" + json.dumps([dev, skill, user])``, written with json's own string encoder (a third of the cost).
    """
    return f"user:[{_JSON_STR(dev)}, {_JSON_STR(skill)}, {_JSON_STR(user)}]"


_JSON_STR = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]  # what json.dumps writes a str with


def _search_label(dev: str) -> str:
    return "search:" + json.dumps(dev)


def group_label(dev: str, grp: int) -> str:
    return "group:" + json.dumps([dev, grp])
