"""Export lines written straight from stored values: what ``to_jsonl`` makes of a decoded row, without the row."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..record import COLUMNS, JSON_COLUMNS

__all__ = ["line_maker"]

_STR = json.encoder.encode_basestring  # the C encoder json.dumps(ensure_ascii=False) uses for strings
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _value(column: str, v: Any) -> str:
    """One stored value as the export writes it (see ``record.decode`` and ``record.to_jsonl``)."""
    if column == "redacted":
        return _DUMPS([k for k in (v or "").split(",") if k])
    if v is None:
        return "null"
    if column in JSON_COLUMNS:
        # Stored JSON is the ledger's compact text (storage_values makes it so): copied as it is,
        # unless it is not JSON at all, which decode leaves a string.
        try:
            json.loads(v)
        except ValueError:
            return _STR(v)
        return v
    kind = type(v)
    if kind is str:
        return _STR(v)
    if kind is bool:
        return "true" if v else "false"
    if kind is float and math.isfinite(v):
        return float.__repr__(v)
    return _DUMPS(v)


def line_maker(clear_columns: Sequence[str]) -> Callable[[Sequence[Any], Mapping[str, Any] | None], str]:
    """A function making the export line of one raw row: ``(id, *clear_columns, key_id, sealed)`` and its unsealed words.

    >>> line = line_maker(CLEAR_COLUMNS)                          # doctest: +SKIP
    >>> line(raw_row, {"speech": "Hi."})                          # doctest: +SKIP
    '{"id":1,"created_at":"2026-11-28T09:00:00.000Z",...,"speech":"Hi.",...}'
    """
    where = {c: i + 1 for i, c in enumerate(clear_columns)}
    plan = [(f'"{c}":', c, where.get(c)) for c in COLUMNS]  # position in the raw row, or None: sealed

    def line(raw: Sequence[Any], words: Mapping[str, Any] | None) -> str:
        parts = []
        for head, column, pos in plan:
            if column == "id":
                v = raw[0]
            elif pos is not None:
                v = raw[pos]
            else:
                v = words.get(column) if words else None
            parts.append(head + _value(column, v))
        return "{" + ",".join(parts) + "}"

    return line
