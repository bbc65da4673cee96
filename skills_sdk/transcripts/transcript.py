"""``Transcript``: the one typed transcript record; its encodings are :mod:`skills_sdk.transcripts.record`'s.

Its own module, loaded on first use: a capture writes rows without it, and creating a dataclass
(its generated methods) cost every process that captures about 1 ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .record import (
    COLUMNS,
    JSON_COLUMNS,
    csv_cells,
    decode,
    encode_json,
    from_export,
    storage_values,
    to_jsonl,
)

__all__ = ["Transcript"]


@dataclass(slots=True, kw_only=True)
class Transcript:
    """One transcript: what a skill said to one user, as the API gives it.

    >>> t = Transcript(developer_id="acme", skill="pizza", user_id="u1", speech="Hi.")
    >>> from skills_sdk.transcripts.record import INSERT_COLUMNS
    >>> Transcript.from_row(dict(zip(["id", *INSERT_COLUMNS], [7, *t.to_row()]))).speech
    'Hi.'

    Values are the API's JSON values (``slots`` a dict, ``end_session`` a bool, ``redacted`` a
    list). The encodings: :meth:`to_row` / :meth:`from_row` (storage), :meth:`to_json` /
    :meth:`from_json` (the API and JSONL export, which an import reads back), :meth:`to_csv`.
    """

    id: int | None = None
    created_at: str | None = None
    developer_id: str
    skill: str
    user_id: str
    session_id: str | None = None
    request_id: str | None = None
    request_type: str | None = None
    intent: str | None = None
    slots: Any = None
    utterance: str | None = None
    speech: str | None = None
    reprompt: str | None = None
    card: Any = None
    directives: Any = None
    end_session: bool | None = None
    transaction: Any = None
    locale: str | None = None
    latency_ms: float | None = None
    status: str | None = None
    error: str | None = None
    redacted: list[str] = field(default_factory=list)
    capture_mode: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Transcript:
        """The record of a stored row (column name to stored value)."""
        return cls(**decode({k: row[k] for k in COLUMNS if k in row}))

    def to_row(self) -> list[Any]:
        """The stored values, in :data:`INSERT_COLUMNS` order (the id is the ledger's to give)."""
        return storage_values(self.to_storage())

    def to_storage(self) -> dict[str, Any]:
        """The stored columns as a dict (JSON columns as canonical text, ``redacted`` as ``A,B``)."""
        out = self.to_json()
        out.pop("id")
        for c in JSON_COLUMNS:
            if out[c] is not None:
                out[c] = encode_json(out[c])
        if out["end_session"] is not None:
            out["end_session"] = int(out["end_session"])
        out["redacted"] = ",".join(out["redacted"]) or None
        return out

    @classmethod
    def from_json(cls, obj: Any) -> Transcript:
        """The record of an exported or API JSON object; ValueError names the field that is wrong."""
        stored = from_export(obj)
        if isinstance(obj, dict) and "id" in obj:
            stored["id"] = obj["id"]
        return cls.from_row(stored)

    def to_json(self) -> dict[str, Any]:
        """The API's JSON object (column order)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_jsonl(self) -> str:
        """One compact JSON line, as ``skills transcripts export`` prints it (no newline)."""
        return to_jsonl(self.to_json())

    def to_csv(self) -> list[Any]:
        """CSV cells in column order, formulas neutralised (see :func:`csv_cells`)."""
        return csv_cells(self.to_json())
