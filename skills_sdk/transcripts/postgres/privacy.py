"""Erasure by key destruction, retention by dropped day partitions, API keys, audit and receipts on PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ...errors import NotFound
from ..audit import _safe_filters, access_entry
from ..keys import PREFIXES, KeyInfo, _hash
from ..manifest import manifest
from ..record import to_iso, utcnow_iso
from ..refused import purge_refused
from ..retention import _NULLED, Policy, expiry, moment, policies
from ..spool import erase_spooled
from . import chain, groups, schema, userdays
from .columns import COPY_COLUMNS, STORED, STORED_USER

__all__ = ["PrivacyMixin"]

_ACTIONS = ("list", "get", "export", "user_list", "erase", "purge", "skill_disabled", "key_create", "key_revoke",
            "consent", "import")



# What a receipt-only row has nulled, as this backend stores it: the clear columns beyond a
# receipt's, and the sealed words with their key and search buckets.
_NULLED_HERE = (*(c for c in _NULLED if c not in ("utterance", "speech", "reprompt", "card", "slots", "error",
                                                   "directives")), "key_id", "sealed", "tokens")
_STRIP = ", ".join(f'"{c}" = NULL' for c in _NULLED_HERE)
# Where the developer and the skill are in a ``RETURNING id, {STORED}`` row.
_DEVELOPER, _SKILL = 1 + COPY_COLUMNS.index("developer_id"), 1 + COPY_COLUMNS.index("skill")


def _skills_present(conn: Any, named: list[str]) -> tuple[list[str], bool]:
    """The skills of ``named`` (those with a policy) that have rows, and whether any other skill has rows.

    Not a walk of every distinct skill: each step of that walk descends every day's ``(skill,
    created_at)`` index, and 1,590 skills over 99 days took 1.2 s of server time before a purge did
    anything. The others' walk stops at the first skill not named.
    """
    present = [r[0] for r in conn.execute("SELECT k FROM unnest(%s::text[]) k WHERE EXISTS "
                                          "(SELECT 1 FROM transcripts WHERE skill = k)", (named,))]
    other = conn.execute(
        "WITH RECURSIVE s(k) AS (SELECT min(skill) FROM transcripts UNION ALL SELECT (SELECT min(skill) FROM "
        "transcripts WHERE skill > s.k) FROM s WHERE s.k = ANY(%s)) SELECT count(*) FROM s "
        "WHERE k IS NOT NULL AND k <> ALL(%s)", (named, named)).fetchone()[0]
    return present, bool(other)


class PrivacyMixin:
    """Erasure, retention, keys, audit and receipts: the part of :class:`~.store.PostgresLedger` that forgets.

    Mixed into the ledger class (its methods use ``connection()``, ``keys``, ``spool()`` and
    ``user_hash()`` of the ledger), so the ledger's module stays about connections, rows and reads.
    """

    def audit(self, actor: str, action: str, filters: Mapping[str, Any] | None = None, rows: int = 0, *,
              users: Mapping[str, int] | None = None, conn: Any = None) -> None:
        """Append one audit row (user ids and search text only as keyed hashes), and whose rows it returned.

        ``users`` (user id: rows returned) feeds each user's :meth:`access_log`; ``conn`` writes
        inside the caller's open transaction.
        """
        if action not in _ACTIONS:
            raise ValueError(f"audit action must be one of {', '.join(_ACTIONS)}, got {action!r}.")
        values = (utcnow_iso(), actor, action, _safe_filters(self, filters), int(rows))
        seen = [(self.user_hash(u), int(n)) for u, n in (users or {}).items() if u and n]
        sql = "INSERT INTO audit_log (at, actor, action, filters, rows) VALUES (%s, %s, %s, %s, %s) RETURNING id"
        with contextlib.ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self.connection())
                stack.enter_context(conn.transaction())
            audit_id = conn.execute(sql, values).fetchone()[0]
            if seen:
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO audit_access (audit_id, user_hash, rows) VALUES (%s, %s, %s)",
                                    [(audit_id, h, n) for h, n in seen])

    def access_log(self, user_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """Every audited read, search and export that returned any of ``user_id``'s rows, newest first."""
        with self.connection() as conn:
            found = conn.execute(
                "SELECT a.at, a.action, a.filters, x.rows, k.kind, k.subject FROM audit_access x "
                "JOIN audit_log a ON a.id = x.audit_id LEFT JOIN api_keys k ON k.id = a.actor "
                "WHERE x.user_hash = %s AND (k.kind IS NULL OR k.kind != 'user') ORDER BY x.audit_id DESC LIMIT %s",
                (self.user_hash(user_id), int(limit))).fetchall()
        return [access_entry(*row) for row in found]

    def iter_audit(self, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Audit rows, newest first (``limit`` of them, or all)."""
        with self.connection() as conn:
            rows = conn.execute("SELECT id, at, actor, action, filters, rows FROM audit_log ORDER BY id DESC LIMIT %s",
                                (limit,)).fetchall()
        for rid, at, actor, action, filters, n in rows:
            yield {"id": rid, "at": at, "actor": actor, "action": action,
                   "filters": json.loads(filters) if filters else None, "rows": n}

    def erase_user(self, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
                   actor: str = "cli", reason: str = "request", check: bool = True, ratchet: bool | None = None
                   ) -> dict[str, Any]:
        """Erase everything recorded about ``user_id`` (every skill, or one) and return the receipt.

        >>> ledger.erase_user("amzn1.ask.account.A")["transcripts"]     # doctest: +SKIP
        3

        In one transaction: the user's data keys are deleted first (a capture holding one share-locks
        it, so the erasure waits for that row's commit and then deletes it too), then their rows,
        their skill state and any erasure scheduled for them, and a receipt is written. Then the
        user's search group is re-keyed in each developer (:mod:`.groups`: its other rows get tokens
        under a new group key, the old key is deleted) and the key file is ratcheted
        (:meth:`PostgresLedger.ratchet`): the wrapped keys that old WAL segments and earlier backups
        still hold, and the tokens made with them, open under no key that remains. ``scrubbed`` in
        the receipt says both ran. They take a while (the re-key re-tokenises 1/8 of the
        developer's rows, the ratchet re-wraps every key), so a started ledger (a server) leaves
        them to its maintenance thread, which scrubs once for the erasures of the next
        ``scrub_delay`` seconds: the receipt then says ``scrubbed: False`` and the stored receipt
        turns True when done. ``ratchet=True`` scrubs before returning, ``ratchet=False`` leaves it
        to :meth:`finish_scrubs` (the next purge, the hourly tick, or the next start after a crash).
        """
        if not user_id:
            raise ValueError("erase_user needs a user id; got an empty one.")
        for name, value in (("skill", skill), ("developer_id", developer_id)):
            if value is not None and not value.strip():
                raise ValueError(f"{name} is empty; pass None to erase across every {name.split('_')[0]}, or name one.")
        where, params = ["user_id = %s"], [user_id]
        for col, value in (("skill", skill), ("developer_id", developer_id)):
            if value:
                where.append(f"{col} = %s")
                params.append(value)
        cond = " AND ".join(where)

        receipt_id = "er_" + secrets.token_hex(8)
        # This host's spooled rows: a whole user's are blanked in place; for one skill or developer
        # the spool is replayed first, so the DELETE below takes exactly those rows.
        spooled = erase_spooled(self, user_id, skill=skill or None, developer_id=developer_id or None)
        with self.connection() as conn, conn.transaction():
            key_ids = [r[0] for r in conn.execute(f"DELETE FROM user_keys WHERE {cond} RETURNING id", params).fetchall()]
            gone = conn.execute(f"DELETE FROM transcripts WHERE {cond} RETURNING id, {STORED}", params).fetchall()
            rows = len(gone)
            # Counted from the deleted rows themselves: a separate count read every day partition again.
            per_skill: dict[str, int] = {}
            developers: set[str] = set()
            for r in gone:
                per_skill[r[_SKILL]] = per_skill.get(r[_SKILL], 0) + 1
                developers.add(r[_DEVELOPER])
            chain.removed(conn, self.secret(), gone, "erase", STORED_USER)
            userdays.prune(conn, gone, STORED_USER)
            # Tokens under the user's search groups: those groups are re-keyed (see groups.py).
            groups.queue(conn, {r[_DEVELOPER] for r in gone if r[-1] is not None}, user_id)
            state_rows = conn.execute(f"DELETE FROM user_state WHERE {cond}", params).rowcount
            conn.execute(f"DELETE FROM pending_erasures WHERE {cond if skill or developer_id else 'user_id = %s'}",
                         params if skill or developer_id else [user_id])
            at = utcnow_iso()
            conn.execute("INSERT INTO erasure_receipts (id, at, user_hash, scope, reason, rows, per_skill, developers, "
                         "state_rows, scrubbed) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, false)",
                         (receipt_id, at, self.user_hash(user_id), json.dumps({"skill": skill, "developer_id": developer_id}),
                          reason, rows, json.dumps(per_skill, sort_keys=True), json.dumps(sorted(developers)), state_rows))
            self.audit(actor, "skill_disabled" if reason == "skill_disabled" else "erase",
                  {"user_id": user_id, "skill": skill, "developer_id": developer_id, "receipt": receipt_id}, rows, conn=conn)
        self.keys.forget(key_ids)
        groups.retire(self)
        if ratchet is None:
            ratchet = not self.scrub_soon()
        scrubbed = self.finish_scrubs() if ratchet else False
        receipt = {"receipt_id": receipt_id, "erased_at": at, "user_hash": self.user_hash(user_id), "skill": skill,
                   "developer_id": developer_id, "transcripts": rows, "per_skill": per_skill,
                   "developers": sorted(developers), "state_rows": state_rows, "spooled": spooled,
                   "scrubbed": scrubbed, "reason": reason}
        receipt["manifest"] = manifest(receipt, shredded=True)
        return receipt

    def finish_scrubs(self) -> bool:
        """Re-key the search groups erasures left and ratchet the key file if any receipt still owes it, and mark
        those receipts scrubbed; True when none owes, False when another host is re-keying now (it marks them)."""
        owed = self._scrubs_owed()
        if not owed:
            return True
        if not groups.rekey(self):
            return False
        self.ratchet()
        with self.connection() as conn:
            conn.execute("UPDATE erasure_receipts SET scrubbed = true WHERE id = ANY(%s)", (owed,))
        return True

    def _scrubs_owed(self) -> list[int]:
        """The receipts whose erasures are not scrubbed yet."""
        with self.connection() as conn:
            return [r[0] for r in conn.execute("SELECT id FROM erasure_receipts WHERE NOT scrubbed").fetchall()]

    def migrate_tokens(self, *, batches: int | None = None, progress: Callable[[int], None] | None = None) -> bool:
        """Re-tokenise the rows written before search groups (resumable; see :func:`.groups.migrate_tokens`).

        True when none is left: the per-developer search keys are then deleted and the key file
        ratcheted, so their copies in old WAL and backups open under no key that remains.
        """
        with self.connection() as conn:
            if groups.legacy_left(conn) is None:
                return True
        done = groups.migrate_tokens(self, batches=batches, progress=progress)
        if done:
            self.ratchet()
        return done

    def receipts(self, *, user_id: str | None = None) -> list[dict[str, Any]]:
        """Stored erasure receipts, newest first (only ``user_id``'s when given)."""
        sql = ("SELECT id, at, user_hash, scope, reason, rows, per_skill, developers, state_rows, scrubbed "
               "FROM erasure_receipts")
        params: list[Any] = []
        if user_id is not None:
            sql += " WHERE user_hash = %s"
            params.append(self.user_hash(user_id))
        with self.connection() as conn:
            found = conn.execute(sql + " ORDER BY at DESC, id", params).fetchall()
        out = []
        for rid, at, uh, scope, reason, rows, per_skill, devs, state_rows, scrubbed in found:
            sc = json.loads(scope)
            out.append({"receipt_id": rid, "erased_at": at, "user_hash": uh, "skill": sc.get("skill"),
                        "developer_id": sc.get("developer_id"), "transcripts": rows, "per_skill": json.loads(per_skill),
                        "developers": json.loads(devs), "state_rows": state_rows, "scrubbed": scrubbed, "reason": reason})
            out[-1]["manifest"] = manifest(out[-1], shredded=True)
        return out

    def schedule_erasure(self, user_id: str, *, skill: str | None = None,
                         developer_id: str | None = None, due: datetime, reason: str = "skill_disabled") -> None:
        """Queue an erasure for ``due``; :func:`run_pending` (every purge) carries it out."""
        with self.connection() as conn:
            conn.execute("INSERT INTO pending_erasures (user_id, developer_id, skill, due_at, reason, created_at) "
                         "VALUES (%s, %s, %s, %s, %s, %s)", (user_id, developer_id, skill, to_iso(due), reason, utcnow_iso()))

    def run_pending(self, *, now: datetime | None = None, actor: str = "purge") -> list[dict[str, Any]]:
        """Carry out the scheduled erasures due at ``now`` (one ratchet for all of them); returns their receipts."""
        with self.connection() as conn:
            due = conn.execute("SELECT id, user_id, developer_id, skill, reason FROM pending_erasures WHERE due_at <= %s "
                               "ORDER BY id", (to_iso(now or datetime.now(UTC)),)).fetchall()
        receipts = [self.erase_user(user, skill=skill, developer_id=dev, actor=actor, reason=reason, ratchet=False)
                    for _, user, dev, skill, reason in due]
        with self.connection() as conn:
            conn.execute("DELETE FROM pending_erasures WHERE id = ANY(%s)", ([d[0] for d in due],))
        return receipts

    def purge(self, skills: Mapping[str, Policy] | Iterable[Any] = (), *, default_days: int | None = None,
              now: datetime | str | None = None, actor: str = "purge",
              progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Expire transcripts by their skill's retention; whole expired days go as dropped partitions. Returns a report.

        A day is dropped whole (``DETACH PARTITION`` + ``DROP TABLE``) when every skill present has a
        retention and the day is past the earliest cutoff (and past any longer receipt retention);
        the rows of the days after that are deleted (or stripped to their receipt) statement by statement.
        """

        now = moment(now)
        table = dict(skills) if isinstance(skills, Mapping) else policies(skills)
        deleted = stripped = 0
        per_skill: dict[str, int] = {}
        with self.connection() as conn:
            named, others = _skills_present(conn, sorted(table))
            whole_before: str | None = None
            steps: list[tuple[str, str, tuple[Any, ...]]] = []
            keep_all = False
            for name, policy in [*((n, table[n]) for n in named), *([(None, None)] if others else [])]:
                exp = expiry(name or "", policy, now, default_days, placeholder="%s", nulled=_NULLED_HERE)
                if exp is None:
                    keep_all = True
                    continue
                if name is None:  # every skill without a policy of its own: one statement, not one per skill
                    steps.append(("delete", "skill <> ALL(%s) AND created_at < %s", (sorted(table), exp.rows_before)))
                else:
                    steps += exp.steps
                whole_before = min(whole_before or exp.rows_before[:10], exp.rows_before[:10])
            with conn.transaction():
                dropped: list[str] = []
                if whole_before and not keep_all:
                    groups.wait_for_rekey(conn)
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (0x534B5054,))
                    held: list[tuple[str, int]] = []
                    for day in schema.partition_days(conn):
                        if day < whole_before:
                            in_day = 0
                            for name, n in conn.execute(f"SELECT skill, count(*) FROM {schema.partition_name(day)} "
                                                        "GROUP BY skill").fetchall():
                                per_skill[name] = per_skill.get(name, 0) + n
                                in_day += n
                            held.append((day, in_day))
                            deleted += in_day
                    dropped = schema.drop_days_before(conn, whole_before)
                    chain.dropped_days(conn, self.secret(), [h for h in held if h[0] in dropped])
                for kind, cond, params in steps:
                    if kind == "strip":
                        found = conn.execute(f"UPDATE transcripts SET {_STRIP} WHERE {cond} RETURNING id, {STORED}",
                                             params).fetchall()
                        stripped += len(found)
                    else:
                        found = conn.execute(f"DELETE FROM transcripts WHERE {cond} RETURNING id, {STORED}",
                                             params).fetchall()
                        deleted += len(found)
                    chain.removed(conn, self.secret(), found, kind if kind == "strip" else "purge", STORED_USER)
                    if kind != "strip":
                        userdays.prune(conn, found, STORED_USER)
                    for r in found:
                        per_skill[r[_SKILL]] = per_skill.get(r[_SKILL], 0) + 1
                self.audit(actor, "purge", {"now": to_iso(now), "default_days": default_days}, deleted + stripped,
                      conn=conn)
        if progress is not None and deleted + stripped:
            progress(deleted + stripped)
        erasures = self.run_pending(now=now, actor=actor)
        # What erasures still owe (their search groups re-keyed: minutes for a big developer's group at 10M
        # rows) goes to a started ledger's maintenance thread, as after an erasure: the purge answers once its
        # days are gone. Without one (the CLI) the purge does it.
        scrubbed = not self._scrubs_owed() or (not self.scrub_soon() and self.finish_scrubs())
        self.make_partitions()
        return {"now": to_iso(now), "deleted": deleted, "stripped": stripped, "per_skill": per_skill,
                "dropped_days": dropped, "erasures": [r["receipt_id"] for r in erasures], "scrubbed": scrubbed,
                "refused_expired": purge_refused(self, table, default_days=default_days, now=now)}

    def create_key(self, kind: str, subject: str, *, actor: str = "cli") -> tuple[KeyInfo, str]:
        """Make a new API key for ``subject``; only its hash is stored. Returns its record and the key (shown once)."""
        if kind not in PREFIXES:
            raise ValueError(f"key kind must be 'developer' or 'user', got {kind!r}.")
        if not subject or not subject.strip():
            raise ValueError(f"a {kind} key needs the {kind} id it belongs to; got {subject!r}.")
        key = PREFIXES[kind] + secrets.token_urlsafe(24)
        info = KeyInfo("key_" + secrets.token_hex(6), kind, subject, utcnow_iso())
        with self.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO api_keys (id, key_hash, kind, subject, created_at) VALUES (%s, %s, %s, %s, %s)",
                         (info.id, _hash(key), kind, subject, info.created_at))
            self.audit(actor, "key_create", {"key": info.id, "kind": kind,
                                               ("developer_id" if kind == "developer" else "user_id"): subject}, 1, conn=conn)
        return info, key

    def verify_key(self, key: str) -> KeyInfo | None:
        """The live key record for ``key``, or None when it is unknown, revoked or malformed."""
        if not key or not key.startswith(tuple(PREFIXES.values())) or len(key) > 200:
            return None
        with self.connection() as conn:
            row = conn.execute("SELECT id, kind, subject, created_at, revoked_at FROM api_keys WHERE key_hash = %s "
                               "AND revoked_at IS NULL", (_hash(key),)).fetchone()
        return KeyInfo(*row) if row else None

    def revoke_key(self, key_or_id: str, *, actor: str = "cli") -> KeyInfo:
        """Revoke a key, named by its id or by the key itself; raises :class:`NotFound` for an unknown one."""
        with self.connection() as conn, conn.transaction():
            row = conn.execute("SELECT id FROM api_keys WHERE id = %s OR key_hash = %s",
                               (key_or_id, _hash(key_or_id))).fetchone()
            if row is None:
                raise NotFound(f"No key {key_or_id[:12]!r}… here; `skills keys list` shows the ids.")
            changed = conn.execute("UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                                   (utcnow_iso(), row[0])).rowcount
            # A revoked key's console sessions end with it (a replayed cookie opens nothing).
            conn.execute("DELETE FROM console_sessions WHERE developer_key_id = %s OR user_key_id = %s",
                         (row[0], row[0]))
            self.audit(actor, "key_revoke", {"key": row[0]}, changed, conn=conn)
        return next(k for k in self.list_keys() if k.id == row[0])

    def list_keys(self) -> list[KeyInfo]:
        """Every key ever made, oldest first."""
        with self.connection() as conn:
            rows = conn.execute("SELECT id, kind, subject, created_at, revoked_at FROM api_keys "
                                "ORDER BY created_at, id").fetchall()
        return [KeyInfo(*r) for r in rows]

