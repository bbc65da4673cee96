"""Search groups on PostgreSQL: an erasure's re-key of its group, and the migration from per-developer buckets.

A developer's users fall into :data:`~.crypto.GROUPS` groups by user id; a row's search tokens are
keyed hashes of its words under its group's key. Erasing a user *retires* the key of their group in
every developer they had rows with (captures then make a new one) and queues a re-key: the group's
remaining rows get their tokens again under the live key, a batch per transaction, each batch
chained (``rekey``) and its progress stored, so a re-key interrupted by a crash resumes where it
stopped. Then the retired key is deleted and the key file ratcheted (:meth:`~.privacy.PrivacyMixin.finish_scrubs`):
the erased user's tokens, in old WAL segments and earlier backups, were made with a key that no
longer exists anywhere, so no remaining key maps them to a word.

Why retiring happens after the erasure's commit, in its own transaction: a capture share-locks its
user's data key and its group's key in one statement, in an order of the planner's choosing; an
erasure locking both in one transaction could wait for such a capture while the capture waits for
it. Queued in the erasure's transaction, retired just after (or by the re-key, after a crash), the
re-key cannot be lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import chain, crypto
from . import sealed as sealed_words
from .columns import STORED, STORED_USER

__all__ = ["queue", "retire", "wait_for_rekey", "rekey", "migrate_tokens", "legacy_left"]

#: Rows re-tokenised per transaction.
BATCH = 2000
_REKEY_LOCK = 0x534B524B  # "SKRK": one host re-keys at a time
_STORED_T = ", ".join(f"t.{c}" for c in STORED.split(", "))
# The rows of the queued groups, found by their users: the group (SHA-256 of the user id) is
# computed for each user key of those developers, not for each of their rows (SHA-256 in SQL
# for each of 1M rows took 11 s; a hash join on the users, 3 s).
_IN_GROUPS = ("t.developer_id = ANY(%s) AND (t.developer_id, t.user_id) IN (SELECT k.developer_id, k.user_id FROM "
              "user_keys k JOIN unnest(%s::text[], %s::integer[]) q(dev, grp) ON k.developer_id = q.dev AND "
              f"{crypto.GROUP_SQL.replace('user_id', 'k.user_id')} = q.grp)")
# Its plan: one hash join over the rows, planned for the whole result (not a cursor's first rows),
# without JIT (a second to compile). The planner guesses a few hundred users where a group has
# thousands, and probed every day's index once per user (20 s at 1M rows against 3-5 s).
_HASH_JOIN = ("plan_cache_mode = force_custom_plan", "cursor_tuple_fraction = 1", "jit = off", "enable_nestloop = off")


def queue(conn: Any, developers: Iterable[str], user_id: str) -> None:
    """Queue the re-key of ``user_id``'s group in each of ``developers`` (in the erasure's transaction)."""
    devs = sorted(set(developers))
    if devs:
        conn.execute("INSERT INTO search_rekeys (developer_id, grp) SELECT d, %s FROM unnest(%s::text[]) d",
                     (crypto.group_of(user_id), devs))


# Every queued group's retirement, one transaction each, in one statement sent once: each group's
# live key retired and its job told which key it re-keys from; a job whose group has no live key
# is dropped (the group's key was retired since its erasure committed, and that re-key covers this
# one; or the group never had one), never one that another host's retirement gave a key meanwhile
# (``key_id IS NULL`` is checked again on the row as that host committed it: its re-key would be
# lost). A DO block run outside a transaction may COMMIT between groups.
_RETIRE = """DO $$ DECLARE j record; g bigint; BEGIN
    FOR j IN SELECT id, developer_id, grp FROM search_rekeys WHERE key_id IS NULL ORDER BY id LOOP
        g := NULL;
        UPDATE search_groups SET retired = true WHERE developer_id = j.developer_id AND grp = j.grp AND NOT retired
            RETURNING id INTO g;
        IF g IS NULL THEN
            DELETE FROM search_rekeys WHERE id = j.id AND key_id IS NULL;
        ELSE
            UPDATE search_rekeys SET key_id = g WHERE id = j.id;
        END IF;
        COMMIT;
    END LOOP; END $$"""


def retire(ledger: Any) -> None:
    """Retire the live key of every queued group that has not been yet (each its own short transaction).

    Each group is its own transaction, whose UPDATE waits for the captures holding the key (their
    rows are then committed, and re-keyed): an erasure never holds one group's key while waiting
    for another's. The server runs them one after the other in one statement (:data:`_RETIRE`): a
    heavy user's erasure (about 270-300 developers at 1M and 10M rows) waited for four round trips
    per group (BEGIN, two statements, COMMIT), about 300 ms in all on a loaded machine.
    """
    with ledger.connection() as conn:
        if not conn.execute("SELECT EXISTS (SELECT 1 FROM search_rekeys WHERE key_id IS NULL)").fetchone()[0]:
            return
        conn.execute(_RETIRE)
        # Every key a re-key waits for is retired: this process forgets them all (others' too: harmless).
        retired = [int(r[0]) for r in conn.execute("SELECT DISTINCT key_id FROM search_rekeys "
                                                   "WHERE key_id IS NOT NULL").fetchall()]
    if retired:
        ledger.keys.forget_groups(retired)


def wait_for_rekey(conn: Any) -> None:
    """Wait, in the caller's transaction, until no re-key or token migration runs, and keep them from starting.

    A purge calls it before it detaches a day. A re-key's reading pass holds its transaction open
    while its batches UPDATE on another connection: a DETACH queued for the table's lock behind
    that reader would make each UPDATE queue behind the DETACH, and the three would wait for each
    other for ever (the server cannot see that the reader waits for its own process's writer).
    """
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REKEY_LOCK,))


def rekey(ledger: Any, progress: Callable[[int], None] | None = None) -> bool:
    """Carry out every queued re-key, then delete the retired keys; False when another host is doing it now.

    The caller ratchets the key file afterwards (the deleted keys stay in WAL, wrapped under the current KEK).
    """
    with ledger.connection() as conn:
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (_REKEY_LOCK,)).fetchone()[0]:
            return False
        try:
            retire(ledger)
            # Every queued group in one pass over the table (the groups a user's erasure queues share
            # their number, one per developer), each group once however many keys it lost meanwhile.
            jobs = conn.execute("SELECT id, developer_id, grp, key_id, done_below FROM search_rekeys "
                                "WHERE key_id IS NOT NULL").fetchall()
            if jobs:
                devs, grps = zip(*sorted({(dev, grp) for _, dev, grp, _, _ in jobs}), strict=True)
                _retokenise(ledger, conn, _IN_GROUPS, [list(devs), list(devs), list(grps)], min(j[4] for j in jobs),
                            progress, "UPDATE search_rekeys SET done_below = %s WHERE id = ANY(%s)",
                            [[j[0] for j in jobs]], plan=_HASH_JOIN)
                key_ids = [j[3] for j in jobs]
                with conn.transaction():
                    conn.execute("DELETE FROM search_groups WHERE id = ANY(%s)", (key_ids,))
                    conn.execute("DELETE FROM search_rekeys WHERE id = ANY(%s)", ([j[0] for j in jobs],))
                ledger.keys.forget_groups(key_ids)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_REKEY_LOCK,))
    return True


def legacy_left(conn: Any) -> tuple[int, int] | None:
    """``(done up to id, end id)`` of the migration from per-developer buckets; None when there is nothing (left) to do."""
    meta = dict(conn.execute("SELECT name, value FROM ledger_meta WHERE name IN ('legacy_tokens_end', "
                             "'legacy_tokens_done')").fetchall())
    if "legacy_tokens_end" not in meta:
        return None
    return int(meta.get("legacy_tokens_done", 0)), int(meta["legacy_tokens_end"])


def migrate_tokens(ledger: Any, *, batches: int | None = None, progress: Callable[[int], None] | None = None
                   ) -> bool:
    """Re-tokenise the rows written before search groups under their group's key; True when none is left.

    Resumable: each batch commits with its progress. The last deletes the per-developer search
    keys (the caller ratchets, so that their wrapped copies in WAL open under no key left).
    ``batches`` stops after that many (tests; a deploy runs it to the end). False also when
    another host is re-keying now.
    """
    with ledger.connection() as conn:
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (_REKEY_LOCK,)).fetchone()[0]:
            return False
        try:
            left = legacy_left(conn)
            if left is None:
                return True
            done, end = left
            if _retokenise(ledger, conn, "t.id <= %s", [end], done, progress,
                           "INSERT INTO ledger_meta (name, value) VALUES ('legacy_tokens_done', %s::text) "
                           "ON CONFLICT (name) DO UPDATE SET value = excluded.value", [], batches=batches) is not None:
                return False
            with conn.transaction():
                conn.execute("DELETE FROM search_keys")
                conn.execute("DELETE FROM ledger_meta WHERE name IN ('legacy_tokens_end', 'legacy_tokens_done')")
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_REKEY_LOCK,))


def _retokenise(ledger: Any, conn: Any, where: str, params: list[Any], after: int,
                progress: Callable[[int], None] | None, save: str, save_params: list[Any], *,
                batches: int | None = None, plan: tuple[str, ...] = ()) -> int | None:
    """Give the rows (``where``, id above ``after``) tokens under their group's live key, :data:`BATCH` per transaction.

    Returns None when every row is done, else (after ``batches`` batches) the last id done. One
    statement reads the rows, in id order, through a server-side cursor on a second connection:
    a statement per batch scanned all the developer's remaining rows again to keep one in eight
    (a group) and sorted them, 270 ms a batch at 1M rows, more than the batch's writing. ``plan``:
    settings for that statement.
    """
    with ledger.connection() as reader, reader.transaction(), reader.cursor("skills_retokenise") as cur:
        for setting in plan:
            reader.execute(f"SET LOCAL {setting}")
        cur.execute(f"SELECT t.id, t.created_at, t.developer_id, t.user_id, t.key_id, t.sealed FROM transcripts t "
                    f"WHERE {where} AND t.id > %s AND t.tokens IS NOT NULL ORDER BY t.id", [*params, after])
        while batches is None or batches > 0:
            batch = cur.fetchmany(BATCH)
            if not batch:
                return None
            _rewrite(ledger, conn, batch, progress, save, save_params)
            after = int(batch[-1][0])
            batches = None if batches is None else batches - 1
        return after


def _rewrite(ledger: Any, conn: Any, batch: list[Any], progress: Callable[[int], None] | None, save: str,
             save_params: list[Any]) -> None:
    """Write one batch's tokens under their group's live key, in one transaction with its chain entries and progress.

    The words are unsealed with each row's data key (a row whose key is erased meanwhile keeps its
    tokens: it is being deleted). In one transaction the live group keys are share-locked (a
    retirement waits for this batch), the tokens written, each changed row chained as ``rekey``
    with its new digest, and the progress stored (``save``, given the last id and ``save_params``).
    """
    keys = ledger.keys.keys_for(conn, {r[4] for r in batch if r[4] is not None})
    terms: dict[int, tuple[str, str, str, frozenset[str]]] = {}
    for rid, created, dev, user, kid, sealed in batch:
        key = keys.get(kid)
        if key is not None and sealed is not None:
            said = sealed_words.words(crypto.unseal(key, bytes(sealed), str(kid).encode()))
            terms[rid] = (created, dev, user, frozenset(crypto.words(said.get("utterance"))
                                                        | crypto.words(said.get("speech"))))
    with conn.transaction():
        live: dict[tuple[str, int], bytes] = {}
        for _, dev, user, _ in terms.values():
            ident = (dev, crypto.group_of(user))
            if ident not in live:
                gid, gkey = ledger.keys.group_key(conn, *ident, fresh=True)
                conn.execute("SELECT 1 FROM search_groups WHERE id = %s FOR SHARE", (gid,))
                live[ident] = gkey
        ids = list(terms)
        # Not remembered: a re-key hashes the words of a whole group once, and would only crowd out the capture's.
        tokens = ["{" + ",".join(map(str, crypto.group_tokens(live[(d, crypto.group_of(u))], w, remember=False)))
                  + "}" for _, d, u, w in terms.values()]
        # The batch's time range lets the plan skip the other days' partitions (it hashed all of them: 4 s a batch).
        days = [terms[i][0] for i in ids]
        changed = conn.execute(
            f"UPDATE transcripts t SET tokens = n.tokens::integer[] FROM unnest(%s::bigint[], %s::text[], %s::text[]) "
            f"n(id, created_at, tokens) WHERE t.id = n.id AND t.created_at = n.created_at AND t.tokens IS NOT NULL "
            f"AND t.created_at >= %s AND t.created_at <= %s RETURNING t.id, {_STORED_T}",
            (ids, days, tokens, min(days, default=""), max(days, default=""))).fetchall()
        secret = ledger.secret()
        chain.append(conn, ((chain.lane_of(r[1 + STORED_USER]), r[0], r[1][:10], "rekey", chain.digest(secret, r[1:]))
                            for r in sorted(changed, key=lambda r: r[0])))
        conn.execute(save, [batch[-1][0], *save_params])
    if progress is not None:
        progress(len(changed))
