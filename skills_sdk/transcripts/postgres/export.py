"""The JSON-lines export on PostgreSQL: one streamed ``COPY``, each user's key opened once, lines spliced, not re-encoded."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..ledger import Where
from ..query import TranscriptFilter
from ..query import where as where_sql
from ..record import split_kinds
from . import schema
from . import sealed as sealed_words

__all__ = ["ExportMixin", "segments"]

# What a line needs, in its key order but for the words (sealed, spliced in after "intent" and
# before "capture_mode"'s neighbours by sealed.fragments).
_COLUMNS = ("id", "created_at", "developer_id", "skill", "user_id", "session_id", "request_id", "request_type",
            "intent", "end_session", "transaction", "locale", "latency_ms", "status", "redacted", "capture_mode",
            "key_id", "sealed")
_TYPES = ["bigint", *["text"] * 8, "boolean", "text", "text", "double precision", "text", "text", "text", "bigint",
          "bytea"]
_SELECT = ", ".join(f't."{c}"' for c in _COLUMNS)
_ENCODE = json.encoder.encode_basestring  # type: ignore[attr-defined]  # json's own (C) string encoder
_BOOL = {True: "true", False: "false", None: "null"}
#: Rows read before the keys they need are looked up (one query per chunk on a second connection).
_CHUNK = 5000
#: Distinct values kept encoded per low-variety column (skills, intents, locales...): a bound for odd data.
_MEMO = 4096


def segments(days: Sequence[str]) -> list[tuple[str | None, str | None]]:
    """``created_at`` ranges ``[lo, hi)`` covering every text, in order: each partition's day, and the gaps between.

    >>> segments(["2026-11-28", "2026-11-29", "2026-12-01"])
    [(None, '2026-11-28'), ('2026-11-28', '2026-11-29'), ('2026-11-29', '2026-11-30'), ('2026-11-30', '2026-12-01'), ('2026-12-01', '2026-12-02'), ('2026-12-02', None)]

    A gap's rows are in the default partition (days without one).
    """
    out: list[tuple[str | None, str | None]] = []
    lo: str | None = None
    for day in days:
        if lo is None or lo < day:
            out.append((lo, day))
        lo = (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()
        out.append((day, lo))
    out.append((lo, None))
    return out


class ExportMixin:
    """``iter_jsonl`` of :class:`~.store.PostgresLedger`: the export's lines, equal to the SQLite ledger's."""

    def iter_jsonl(self: Any, where: Where = None, /, *, batch: int = 10_000, **fields: Any) -> Iterator[str]:
        """Every matching transcript, oldest first (``created_at``, then id), as one compact JSON line each.

        The server sends the stored values (no JSON built there: its JSON functions cost more per
        row than this loop); each line is put together from the clear columns (a skill's, intent's or
        locale's JSON text made once), and the unsealed words spliced in as they are (see
        :mod:`.sealed`). One statement reads the day partitions in order, each sorted alone.
        """
        f = TranscriptFilter.of(where, **fields)
        if f.q is not None:
            raise ValueError("iter_jsonl() does not search text; use iter_query() with q.")
        clauses, params = where_sql(f, placeholder="%s")
        source = "developer_transcripts" if f.developer_id is not None else "transcripts"
        with self.connection() as conn, self.connection() as keys_conn, conn.transaction():
            if f.developer_id is not None:
                conn.execute("SELECT set_config('skills.developer_id', %s, true)", (f.developer_id,))
            # Append keeps its branches' order unless it runs in parallel; a day's sort fits in memory.
            conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            conn.execute("SET LOCAL work_mem = '64MB'")
            branches, args = [], []
            for lo, hi in segments(schema.partition_days(conn)):
                bounds = [*(["t.created_at >= %s"] if lo else []), *(["t.created_at < %s"] if hi else [])]
                branches.append(f"(SELECT {_SELECT} FROM {source} t WHERE " + " AND ".join([*clauses, *bounds] or
                                                                                          ["true"])
                                + " ORDER BY t.created_at, t.id)")
                args += [*params, *([lo] if lo else []), *([hi] if hi else [])]
            with conn.cursor().copy("COPY (" + " UNION ALL ".join(branches) + ") TO STDOUT (FORMAT BINARY)",
                                    args) as cp:
                cp.set_types(_TYPES)
                yield from lines(cp.rows(), lambda ids: self.keys.keys_for(keys_conn, ids))


def lines(rows: Iterable[tuple[Any, ...]], keys_for: Callable[[set[int]], dict[int, bytes]]) -> Iterator[str]:
    """Export lines from rows of ``_COLUMNS``; ``keys_for`` gives the data keys of a set of key ids (erased ones left out)."""
    opened: dict[int, tuple[AESGCM, bytes] | None] = {}
    memo: dict[str | None, str] = {None: "null"}
    kinds: dict[str | None, str] = {None: "[]"}
    encode = _ENCODE
    for chunk in _chunks(rows):
        wanted = {r[16] for r in chunk if r[16] is not None and r[16] not in opened}
        if wanted:
            found = keys_for(wanted)
            for kid in wanted:
                key = found.get(kid)
                opened[kid] = None if key is None else (AESGCM(key), str(kid).encode())
        if len(memo) > _MEMO:
            memo = {None: "null"}
        for (rid, at, dev, skill, user, session, request, rtype, intent, end, txn, locale, latency, status, red,
             mode, kid, sealed) in chunk:
            aead = opened.get(kid) if sealed is not None else None
            if aead is None:
                said, error = sealed_words.NO_WORDS
            else:
                said, error = sealed_words.fragments(aead[0].decrypt(sealed[:12], sealed[12:], aead[1]))
            j = []
            for v in (dev, skill, rtype, intent, locale, status, mode):
                e = memo.get(v)
                if e is None:
                    e = memo[v] = encode(v)
                j.append(e)
            r = kinds.get(red)
            if r is None:
                r = split_kinds(red)
                if len(kinds) < _MEMO:
                    kinds[red] = r
            yield (f'{{"id":{rid},"created_at":{encode(at)},"developer_id":{j[0]},"skill":{j[1]},'
                   f'"user_id":{encode(user)},"session_id":{"null" if session is None else encode(session)},'
                   f'"request_id":{"null" if request is None else encode(request)},"request_type":{j[2]},'
                   f'"intent":{j[3]},{said},"end_session":{_BOOL[end]},"transaction":{txn or "null"},'
                   f'"locale":{j[4]},"latency_ms":{_number(latency)},"status":{j[5]},"error":{error},'
                   f'"redacted":{r},"capture_mode":{j[6]}}}')


def _number(value: float | None) -> str:
    """A float as Python's json writes it (``repr``; NaN and the infinities by their JSON-ish names)."""
    if value is None:
        return "null"
    text = repr(value)
    return text if text[-1].isdigit() else {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[text]


def _chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
