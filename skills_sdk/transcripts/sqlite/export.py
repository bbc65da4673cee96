"""The SQLite ledger's JSON-lines export: each batch's lines made in C (``_jsonl.c``), json_object where it cannot.

The text is :func:`.queries.json_select`'s (SQLite's ``json_object``), byte for byte: that
statement is the specification, and runs where the compiled module was not built, with
``SKILLS_EXPORT_PURE=1`` (:data:`PURE_ENV`, the PostgreSQL export's switch too), and for each row
whose values the module does not write itself (see ``_jsonl.c``). The module reads each batch
through the driver's own SQLite without the GIL and returns the batch's lines as one str,
having counted each row's user: no Python object a row.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

from ..audit import jsonl_chunks, tally_jsonl
from ..query import TranscriptFilter
from . import queries
from .driver import library, sqlite3

__all__ = ["PURE_ENV", "available", "chunks", "compiled"]

#: The environment variable that makes the export run its SQL only (json_object for every row).
PURE_ENV = "SKILLS_EXPORT_PURE"

try:
    from . import _jsonl  # type: ignore[attr-defined]

    _jsonl.bind(library())  # the driver's own SQLite
except (ImportError, OSError, KeyError, AttributeError):  # not built, or no SQLite functions to find
    _jsonl: Any = None


def available() -> bool:
    """True when the compiled module was built (and found the driver's SQLite functions)."""
    return _jsonl is not None


def compiled() -> bool:
    """True when the compiled module makes the lines (built, and :data:`PURE_ENV` unset)."""
    return available() and os.environ.get(PURE_ENV) != "1"


def chunks(conn: sqlite3.Connection, f: TranscriptFilter, batch: int, users: Counter[str]
           ) -> Iterator[tuple[str, int]]:
    """The rows ``f`` selects, oldest first, as JSON lines (each ending in a newline), a batch of rows a chunk; with each, its lines.

    Each line's user is counted in ``users`` as its chunk is made. Each batch is one statement
    (a short read, see :func:`.queries.walk`).
    """
    if not compiled() or not isinstance(conn, sqlite3.Connection):  # (the module reads the driver's own object)
        yield from jsonl_chunks((raw[0] for raw in queries.walk(conn, queries.json_select(conn), f, batch, [])), users,
                                batch)
        return
    columns = queries.export_columns(conn)
    heads = tuple(("," if i else "{").encode() + json.dumps(name).encode() + b":" for i, (name, _) in enumerate(columns))
    kinds = bytes(kind for _, kind in columns)
    names = [name for name, _ in columns]
    select = ", ".join('"' + name.replace('"', '""') + '"' for name in names)
    exact_from = queries.exact_latency_from(conn)
    after: tuple[str, int] | None = None
    while True:
        sql, params = queries.batch_statement(f, select, batch, after)
        text, n, at, last_id, stuck = _jsonl.lines(conn, sql, tuple(params), heads, kinds, names.index("user_id"),
                                                   exact_from, users, sqlite3.OperationalError)
        if n:
            after = (at, last_id)
            yield text, n
        if stuck:  # the next row has a value only json_object writes: that one row through it
            raw = conn.execute(*queries.batch_statement(f, queries.json_select(conn), 1, after)).fetchone()
            if raw is None:  # gone meanwhile (erased), and nothing after it
                return
            yield from ((line + "\n", 1) for line in tally_jsonl([raw[0]], users))
            after = (raw[-2], raw[-1])
        elif n < batch:
            return
