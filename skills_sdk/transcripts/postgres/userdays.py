"""The days each user has rows in, so that a user's history reads a few day partitions instead of all of them.

A user's newest transcripts, read straight from the partitioned table, are a merge of every day
partition's index scan: ninety days kept cost ninety index descents (and as many plan nodes to
start) for a user who spoke on three of them. ``user_days`` holds one row per (user, day the
user has rows in) with an upper bound of the ids written to that day (``top_id``), kept by a
trigger on every statement that inserts transcripts (``COPY``, moves out of the default
partition: the highest id) and by a capture's own statement (its row's id plus
:data:`.writes.DAY_AHEAD`, so that the user's next turns leave the day's row alone), so that no
writer, old host or ``psql`` session, can leave a day out; the ledger's removals (erasure, row
purges, dropped days) forget the days they leave empty.

:data:`HISTORY` reads a user's days by their ``top_id``, newest first, in batches of days (4, 8,
16…), each batch one statement through the user-scoped view pruned to its days' partitions, and
stops once the page holds ``n`` rows and the next day's ``top_id`` is below the ``n``-th id found:
no later day can hold a row of the page (an upper bound is all this takes).
Ids follow time for live captures, but an import writes old days with new ids; ordering by the
stored ``top_id`` keeps the page exact either way.

``day`` is the first ten characters of ``created_at`` (the UTC day of an ISO time, or whatever a
row's odd text starts with), and ``[day, ledger_after(day))`` is exactly the texts that start with
it, so the same range reaches a day's partition or the default one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["DDL", "DDL_7", "DDL_10", "HISTORY", "prune", "forget"]

DDL = (
    "LOCK TABLE transcripts IN SHARE ROW EXCLUSIVE MODE",  # no row written between the triggers and the backfill
    """CREATE TABLE user_days (user_id text NOT NULL, day text COLLATE "C" NOT NULL, top_id bigint NOT NULL,
        PRIMARY KEY (user_id, day))""",
    "CREATE INDEX user_days_day ON user_days (day)",  # a purge forgets the days it drops
    # The first text after every text that starts with ``d``: '2026-11-28' -> '2026-11-29'.
    """CREATE FUNCTION ledger_after(d text) RETURNS text LANGUAGE sql IMMUTABLE STRICT
        AS $$ SELECT left(d, -1) || chr(ascii(right(d, 1)) + 1) $$""",
    """CREATE FUNCTION user_days_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO user_days (user_id, day, top_id)
            SELECT user_id, left(created_at, 10), max(id) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (user_id, day) DO UPDATE SET top_id = excluded.top_id WHERE user_days.top_id < excluded.top_id;
        RETURN NULL; END $$""",
    # The (user, day) pairs left without rows by a removal (see :func:`prune`).
    """CREATE FUNCTION user_days_prune(uids text[], days text[]) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE g record; BEGIN
        FOR g IN SELECT DISTINCT u, d FROM unnest(uids, days) x(u, d) ORDER BY 1, 2 LOOP
            PERFORM 1 FROM transcripts t WHERE t.user_id = g.u AND t.created_at >= g.d
                AND t.created_at < ledger_after(g.d) LIMIT 1;
            IF NOT FOUND THEN
                DELETE FROM user_days WHERE user_id = g.u AND day = g.d;
            END IF;
        END LOOP; END $$""",
    "CREATE TRIGGER transcripts_user_days_insert AFTER INSERT ON transcripts REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION user_days_insert()",
    "INSERT INTO user_days SELECT user_id, left(created_at, 10), max(id) FROM transcripts GROUP BY 1, 2",
    # A user's rows below ``below``, newest first, ``n`` at least when there are (the caller sorts
    # and cuts): read through user_transcripts, under the user's scope set for this transaction
    # (one statement, no BEGIN, set_config, COMMIT around it), so the scope is checked in SQL as before.
    """CREATE FUNCTION user_history_rows(uid text, below bigint, n integer) RETURNS SETOF transcripts
        LANGUAGE plpgsql AS $$ DECLARE d record; r transcripts; got bigint[] := '{}'; BEGIN
        PERFORM set_config('skills.user_id', uid, true);
        FOR d IN SELECT day, top_id FROM user_days WHERE user_id = uid ORDER BY top_id DESC LOOP
            EXIT WHEN cardinality(got) >= n
                AND d.top_id < (SELECT x FROM unnest(got) x ORDER BY x DESC OFFSET n - 1 LIMIT 1);
            FOR r IN SELECT * FROM user_transcripts t WHERE t.user_id = uid AND t.id < below
                    AND t.created_at >= d.day AND t.created_at < ledger_after(d.day) ORDER BY t.id DESC LIMIT n LOOP
                got := got || r.id;
                RETURN NEXT r;
            END LOOP;
        END LOOP;
        END $$""",
)

# Migration 7: the same page, read in batches of the user's days (4, then 8, 16, 32…, newest
# highest id first), one statement each, instead of one statement per day. Each day's statement cost
# about 0.2 ms whatever it found: planned for its one day each time (plpgsql's plan cache kept
# custom plans, as a generic plan over every partition looks dearer), so a user with rows on 50
# of 90 days took 5-10 ms of server time for a page of 50. A batch is one range of days (its
# partitions pruned as the statement starts) holding only the batch's days, under one generic
# plan made once per connection: that user's page is 6 statements, a user of three days one.
# The stopping rule is the one above (a batch's top ``n`` holds every row of the page in its days).
DDL_7 = (
    """CREATE OR REPLACE FUNCTION user_history_rows(uid text, below bigint, n integer) RETURNS SETOF transcripts
        LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
        DECLARE days text[]; tops bigint[]; i integer := 1; k integer := 4; batch text[]; lo text; hi text;
            r transcripts; got bigint[] := '{}'; BEGIN
        PERFORM set_config('skills.user_id', uid, true);
        SELECT array_agg(day ORDER BY top_id DESC), array_agg(top_id ORDER BY top_id DESC) INTO days, tops
            FROM user_days WHERE user_id = uid;
        WHILE i <= coalesce(cardinality(days), 0) LOOP
            EXIT WHEN cardinality(got) >= n
                AND tops[i] < (SELECT x FROM unnest(got) x ORDER BY x DESC OFFSET n - 1 LIMIT 1);
            batch := days[i:i + k - 1];
            SELECT min(x), ledger_after(max(x)) INTO lo, hi FROM unnest(batch) x;
            FOR r IN SELECT * FROM user_transcripts t WHERE t.user_id = uid AND t.id < below AND t.created_at >= lo
                    AND t.created_at < hi AND left(t.created_at, 10) = ANY(batch) ORDER BY t.id DESC LIMIT n LOOP
                got := got || r.id;
                RETURN NEXT r;
            END LOOP;
            i := i + k;
            k := k * 2;
        END LOOP;
        END $$""",
)

# Migration 10: a batch reads exactly its days' partitions. Its one range, from its oldest day to
# its newest, also reached every day between them (a user of six days over ten weeks: a batch of
# four probed 46 partitions, 150 index pages, for 8 rows). Now each of the batch's days is its own
# range (``_ARMS`` ranges OR-ed, a day left out null), which the server prunes to as the statement
# starts, under the same generic plan; batches of 4, 8, then 16 days.
_DAYS_AT_MOST = 16
_ARMS = " OR ".join(f"(t.created_at >= batch[{j}] AND t.created_at < ledger_after(batch[{j}]))"
                    for j in range(1, _DAYS_AT_MOST + 1))
DDL_10 = (
    f"""CREATE OR REPLACE FUNCTION user_history_rows(uid text, below bigint, n integer) RETURNS SETOF transcripts
        LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
        DECLARE days text[]; tops bigint[]; i integer := 1; k integer := 4; batch text[];
            r transcripts; got bigint[] := '{{}}'; BEGIN
        PERFORM set_config('skills.user_id', uid, true);
        SELECT array_agg(day ORDER BY top_id DESC), array_agg(top_id ORDER BY top_id DESC) INTO days, tops
            FROM user_days WHERE user_id = uid;
        WHILE i <= coalesce(cardinality(days), 0) LOOP
            EXIT WHEN cardinality(got) >= n
                AND tops[i] < (SELECT x FROM unnest(got) x ORDER BY x DESC OFFSET n - 1 LIMIT 1);
            batch := days[i:i + k - 1];
            FOR r IN SELECT * FROM user_transcripts t WHERE t.user_id = uid AND t.id < below AND ({_ARMS})
                    ORDER BY t.id DESC LIMIT n LOOP
                got := got || r.id;
                RETURN NEXT r;
            END LOOP;
            i := i + k;
            k := least(k * 2, {_DAYS_AT_MOST});
        END LOOP;
        END $$""",
)

#: A user's newest rows (parameters: user, below this id, how many), through :data:`DDL`'s function. The
#: page's size is written in (``limit``, an int), not sent: with ``LIMIT $4`` the server's generic plan
#: guessed a tenth of the function's rows and looked dearer than each call's own, so every history was
#: planned again (0 generic plans in 25 calls; planning 9-13% of its server CPU at 1M rows).
HISTORY = "SELECT {columns} FROM user_history_rows(%s::text, %s::bigint, %s::integer) ORDER BY id DESC LIMIT {limit:d}"


def prune(conn: Any, found: Sequence[Sequence[Any]], user_pos: int) -> None:
    """Forget the (user, day) pairs that rows the ledger just deleted leave empty (an erasure, a row purge).

    ``found`` rows are ``(id, *stored)`` as ``DELETE … RETURNING id, <stored columns>`` gives them,
    ``created_at`` first. Called after the rows' chain entries, so a remover takes the rows, then
    their lanes, then their users' days: the order a capture takes its lane and day in (a trigger
    on DELETE would take the days before the lanes, and wait for a capture that waits for it).
    A day left behind by another DELETE (``psql``) only costs a history one empty probe.
    """
    pairs = {(r[1 + user_pos], r[1][:10]) for r in found}
    if pairs:
        conn.execute("SELECT user_days_prune(%s::text[], %s::text[])", ([u for u, _ in pairs], [d for _, d in pairs]))


def forget(conn: Any, days: list[str]) -> None:
    """Forget every user's rows in ``days``, whose partitions were just dropped (no DELETE trigger sees a DROP)."""
    if days:
        conn.execute("DELETE FROM user_days WHERE day = ANY(%s)", (days,))
