"""The INSERT statements of a transcript row (every column, or a capture's by its shape), and the progress marks of batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...errors import ProgressTaken
from ..record import INSERT_COLUMNS, picker

__all__ = ["INSERT_SQL", "INSERT_ID_SQL", "insert_by_shape", "save_progress"]

#: The INSERT of a transcript row with every column, the id left to SQLite.
INSERT_SQL = "INSERT INTO transcripts ({}) VALUES ({})".format(
    ", ".join(f'"{c}"' for c in INSERT_COLUMNS), ", ".join("?" for _ in INSERT_COLUMNS))
#: The same with the id first (imports, spool replay): the ledger's next id (``next_id_sql``), so a
#: table from 0.1 (no AUTOINCREMENT) never hands out an erased row's id again either.
INSERT_ID_SQL = 'INSERT INTO transcripts ("id", {}) VALUES (?, {})'.format(
    ", ".join(f'"{c}"' for c in INSERT_COLUMNS), ", ".join("?" for _ in INSERT_COLUMNS))
#: The INSERT of one row naming only the columns it has a value for, and how to pick those values,
#: by the types of its values: the driver binds None through its adapter registry (0.85 us a
#: value, an AttributeError made and cleared on the way), and a capture leaves half its columns
#: empty. Keyed by types (a C-speed ``map``) rather than by which values are None, and picked by
#: an ``itemgetter``: rows of a skill have few shapes, so a capture does no per-column Python.
#: One table of shapes per ``next_id_sql`` (a 0.1 table asks for its next id differently).
_INSERT_BY_SHAPE: dict[str, dict[tuple[type, ...], tuple[str, Callable[[Sequence[Any]], Any]]]] = {}


try:  # the mask of a row's values that are not None, and those values, in one C call (_content.c)
    from . import _content  # type: ignore[attr-defined]

    _present: Callable[[Sequence[Any]], tuple[int, tuple[Any, ...]]] | None = _content.present
except (ImportError, AttributeError):  # pragma: no cover - an install without a C compiler
    _present = None
#: The same statements keyed by that mask, one table per ``next_id_sql``.
_INSERT_BY_MASK: dict[str, dict[int, str]] = {}


def insert_by_shape(values: Sequence[Any], next_id_sql: str) -> tuple[str, tuple[Any, ...]]:
    """The INSERT of one row with ``values`` (:data:`INSERT_COLUMNS` order) and its parameters, None columns left out.

    The statement gives the row the ledger's next id and seals it (:func:`.seal.seal_sql`) with
    its first parameter, the row's digest (:func:`.chain.insert_digest`; None: the row is left
    unsealed, to be sealed read back, :func:`.chain.seal_inserted`), which the caller puts before
    the parameters returned. Asking for the id inside the INSERT saved the capture a statement
    (8,900 instructions; the id is read under the write lock either way).
    """
    if _present is not None:
        mask, params = _present(values)
        by_mask = _INSERT_BY_MASK.get(next_id_sql)
        if by_mask is None:
            by_mask = _INSERT_BY_MASK.setdefault(next_id_sql, {})
        sql = by_mask.get(mask)
        if sql is None:
            sql = _insert_sql([i for i in range(len(values)) if mask >> i & 1], next_id_sql)
            if len(by_mask) < 256:
                by_mask[mask] = sql
        return sql, params
    types = tuple(map(type, values))
    shapes = _INSERT_BY_SHAPE.setdefault(next_id_sql, {})
    found = shapes.get(types)
    if found is None:
        kept = [i for i, t in enumerate(types) if t is not type(None)]
        found = _insert_sql(kept, next_id_sql), picker(kept)
        if len(shapes) < 256:
            shapes[types] = found
    return found[0], found[1](values)


def _insert_sql(kept: Sequence[int], next_id_sql: str) -> str:
    nid = f"({next_id_sql})"
    return 'INSERT INTO transcripts ("id", "seal", {}) VALUES ({}, skills_seal({}, ?), {})'.format(
        ", ".join(f'"{INSERT_COLUMNS[i]}"' for i in kept), nid, nid, ", ".join("?" for _ in kept))


def save_progress(conn: Any, name: str, value: int) -> None:
    """Store ``value`` as ``name``'s progress in the caller's transaction, or raise :class:`ProgressTaken` if it does not advance it.

    Two runs of one import (or copy) at once each read no progress and would each write every row:
    the second to commit a batch finds the mark where it was going, and its batch rolls back.
    """
    if conn.execute("INSERT INTO privacy_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = "
                    "excluded.value WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                    (name, str(value))).rowcount == 0:
        held = conn.execute("SELECT value FROM privacy_meta WHERE name = ?", (name,)).fetchone()[0]
        raise ProgressTaken(name.split(":", 1)[-1], int(held), value)
