"""The INSERT statements of a transcript row: every column (imports, spool replay), or a capture's by its shape."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..record import INSERT_COLUMNS, picker

__all__ = ["INSERT_SQL", "INSERT_ID_SQL", "insert_by_shape"]

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


def insert_by_shape(values: Sequence[Any], next_id_sql: str) -> tuple[str, tuple[Any, ...]]:
    """The INSERT of one row with ``values`` (:data:`INSERT_COLUMNS` order) and its parameters, None columns left out.

    The statement gives the row the ledger's next id and seals it (:func:`.seal.seal_sql`) with
    its first parameter, the row's digest (:func:`.chain.insert_digest`; None: the row is left
    unsealed, to be sealed read back, :func:`.chain.seal_inserted`), which the caller puts before
    the parameters returned. Asking for the id inside the INSERT saved the capture a statement
    (8,900 instructions; the id is read under the write lock either way).
    """
    types = tuple(map(type, values))
    shapes = _INSERT_BY_SHAPE.setdefault(next_id_sql, {})
    found = shapes.get(types)
    if found is None:
        kept = [i for i, t in enumerate(types) if t is not type(None)]
        nid = f"({next_id_sql})"
        sql = 'INSERT INTO transcripts ("id", "seal", {}) VALUES ({}, skills_seal({}, ?), {})'.format(
            ", ".join(f'"{INSERT_COLUMNS[i]}"' for i in kept), nid, nid, ", ".join("?" for _ in kept))
        found = sql, picker(kept)
        if len(shapes) < 256:
            shapes[types] = found
    return found[0], found[1](values)
