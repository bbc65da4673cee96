"""The transcript's columns and encodings (storage row, JSONL, CSV, the API's JSON), which ``Transcript`` uses."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from operator import itemgetter
from typing import Any

from ..envelope import check_json_value
from ..errors import EnvelopeError, InvalidRow

__all__ = ["COLUMNS", "JSON_COLUMNS", "REQUIRED", "INSERT_COLUMNS", "JsonText", "encode_json", "compact_json",
           "decode", "storage_values", "check_types", "picker", "from_export", "csv_cells", "iter_csv", "to_jsonl", "utcnow_iso", "to_iso",
           "parse_iso"]

#: The transcript columns, in order, with their storage types.
COLUMNS: dict[str, type] = {
    "id": int,
    "created_at": str,
    "developer_id": str,
    "skill": str,
    "user_id": str,
    "session_id": str,
    "request_id": str,
    "request_type": str,
    "intent": str,
    "slots": str,
    "utterance": str,
    "speech": str,
    "reprompt": str,
    "card": str,
    "directives": str,
    "end_session": int,
    "transaction": str,
    "locale": str,
    "latency_ms": float,
    "status": str,
    "error": str,
    "redacted": str,
    "capture_mode": str,
}
#: Columns stored as JSON text and given to readers as JSON values.
JSON_COLUMNS = ("slots", "card", "directives", "transaction")
#: Columns every row must have: the owner of the skill, the skill, the user it answered.
REQUIRED = ("developer_id", "skill", "user_id")
#: The columns an insert names (the id is the ledger's to give), in order.
INSERT_COLUMNS = tuple(c for c in COLUMNS if c != "id")
_JSON_INDEXES = tuple(INSERT_COLUMNS.index(c) for c in JSON_COLUMNS)
_LATENCY_INDEX = INSERT_COLUMNS.index("latency_ms")
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_STRICT_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
#: Stored text columns whose exported strings are stored as they are.
_TEXT_COLUMNS = frozenset(c for c, kind in COLUMNS.items() if kind is str) - {*JSON_COLUMNS, "redacted", "created_at"}
#: A cell starting with one of these runs as a formula in a spreadsheet: it gets a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- time: the ledger's one timestamp format ---------------------------------------------------------
def utcnow_iso() -> str:
    """Now, as ISO-8601 UTC with milliseconds and a ``Z``: ``2026-11-28T04:41:41.123Z``."""
    global _second
    ms = int(time.time() * 1000)
    sec, prefix = _second
    if ms // 1000 != sec:  # formatted once a second: strftime was most of a capture's clock
        sec = ms // 1000
        _second = sec, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        prefix = _second[1]
    return f"{prefix}{ms % 1000:03d}Z"


_second: tuple[int, str] = (-1, "")


def to_iso(moment: datetime | str) -> str:
    """``moment`` in the ledger's format (UTC, milliseconds, ``Z``); a naive time or text without a zone is UTC.

    >>> to_iso("2026-11-28")
    '2026-11-28T00:00:00.000Z'

    Raises ValueError for text that is not an ISO-8601 date or time.
    """
    if isinstance(moment, str):
        moment = parse_iso(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    # The year by hand: strftime's %Y gives "1", not "0001", for year 1 on glibc (text no parser takes back).
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """An aware UTC datetime from ISO-8601 text (``Z`` or an offset; no zone means UTC).

    >>> parse_iso("2026-11-28T09:30:00Z").isoformat()
    '2026-11-28T09:30:00+00:00'
    """
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValueError(f"{str(text)[:40]!r} is not an ISO-8601 date or time; use e.g. 2026-11-28 or "
                         "2026-11-28T09:30:00Z.") from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ValueError(f"{str(text)[:40]!r} is out of range: in UTC it falls outside the years 1 to 9999.") from None


def _is_utc_time(text: str) -> bool:
    try:
        moment = datetime.fromisoformat(text[:-1]) if text.endswith("Z") else None
    except ValueError:
        return False
    # Not 9999-12-31: a day's partition ends at the next day, which no date type holds.
    return moment is not None and moment.tzinfo is None and moment.date() < date(9999, 12, 31)


# -- the storage row ---------------------------------------------------------------------------------
class JsonText(str):
    """JSON text the ledger's own encoder wrote (compact, ``ensure_ascii=False``): stored as it is.

    Any other string given for a JSON column is parsed and re-encoded first (text that is not
    JSON is stored as a JSON string), so every stored JSON value has one canonical spelling.
    """

    __slots__ = ()


def encode_json(value: Any) -> JsonText:
    """``value`` as the ledger's canonical JSON text, ready for a JSON column (capture uses it)."""
    return JsonText(compact_json(value))


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


if c_make_encoder is not None:
    # The encoder _DUMPS makes for every call, made once: the same text, without building the
    # encoder per value (2 us of a capture's 3 per JSON column, measured).
    _c_encode = c_make_encoder(None, _no_default, encode_basestring, None, ":", ",", False, False, True)

    def compact_json(value: Any) -> str:
        """``value`` as compact JSON text (``ensure_ascii=False``): what ``_DUMPS`` writes, without its per-call set-up."""
        if isinstance(value, str):
            return encode_basestring(value)
        return "".join(_c_encode(value, 0))
else:  # pragma: no cover - CPython always builds the C encoder
    compact_json = _DUMPS


def canonical_json(text: str) -> str:
    """What :func:`decode` and ``json.dumps`` make of a stored JSON column, as JSON text."""
    try:
        return _STRICT_DUMPS(json.loads(text, parse_constant=_reject))
    except ValueError:  # not JSON (or NaN / Infinity): decode keeps the text as it is
        return _DUMPS(text)


def _reject(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def split_kinds(text: str) -> str:
    """The stored ``redacted`` text (``CARD,PHONE``) as the JSON list readers get."""
    return _DUMPS([k for k in text.split(",") if k])


def storage_values(row: Mapping[str, Any]) -> list[Any]:
    """The INSERT parameters for ``row`` in :data:`INSERT_COLUMNS` order, JSON columns encoded; checks the owners.

    >>> values = storage_values({"developer_id": "d", "skill": "s", "user_id": "u", "slots": {"a": 1}})
    >>> values[INSERT_COLUMNS.index("slots")]
    '{"a":1}'

    This is capture's path (a plain dict in, a list out, no object made per row): it runs on
    every answered turn. Missing columns are None; ``created_at`` defaults to now.
    """
    get = row.get
    values = list(map(get, INSERT_COLUMNS))
    if not values[0]:
        values[0] = utcnow_iso()
    for i in _JSON_INDEXES:
        v = values[i]
        if v is None:
            continue
        if type(v) is JsonText:
            # Bound as a plain str: the driver adapts a str subclass through its adapter registry
            # (1.4 us a value, an AttributeError made and cleared on the way).
            values[i] = str(v)
            continue
        # Stored JSON is always this encoder's compact text, so exports can copy it as it is.
        values[i] = canonical_json(v) if isinstance(v, str) else _DUMPS(v)
    v = values[_LATENCY_INDEX]
    if type(v) is float:  # stored to the microsecond, as capture measures it
        values[_LATENCY_INDEX] = round(v, 3)
    if not (values[1] and values[2] and values[3]):
        missing = next(c for c in REQUIRED if not get(c))
        raise InvalidRow(f"A transcript needs {missing}; got {get(missing)!r}.")
    return values


#: What each stored column takes from a row read back from a file (a spool): JSON columns any JSON value.
_READ_BACK_TYPES: dict[str, tuple[type, ...]] = {
    c: (int, float) if kind is float else (bool, int) if kind is int else (str,)
    for c, kind in COLUMNS.items() if c not in JSON_COLUMNS and c != "id"}


def check_types(row: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidRow` naming the first column whose value the ledger cannot store (a spooled row's check).

    Capture builds its rows itself; a row read back from a file may have been written by another
    version or by hand, and one value of the wrong type must refuse that row alone, not fail the
    replay of every row after it (PostgreSQL's COPY) or be stored as text in a number column (SQLite).
    """
    for column, types in _READ_BACK_TYPES.items():
        value = row.get(column)
        if value is not None and (not isinstance(value, types) or (types[0] is int and type(value) is bool)):
            kind = {int: "a number", bool: "true or false"}.get(types[0], "text")
            raise InvalidRow(f"A transcript's {column} must be {kind}; got {value!r:.60}.")


def picker(indexes: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function giving the values at ``indexes`` as a tuple, at C speed (``itemgetter`` of one index gives it bare)."""
    if len(indexes) > 1:
        return itemgetter(*indexes)
    return (lambda v: ()) if not indexes else (lambda v, i=indexes[0]: (v[i],))


def decode(row: dict[str, Any]) -> dict[str, Any]:
    """Turn a stored row (a dict of column values) into the API's JSON values, in place, and return it.

    JSON columns decoded, ``end_session`` a bool, ``redacted`` a list of kinds.
    """
    for c in JSON_COLUMNS:
        v = row.get(c)
        if isinstance(v, str):
            try:
                row[c] = json.loads(v)
            except ValueError:
                pass
    if "end_session" in row and row["end_session"] is not None:
        row["end_session"] = bool(row["end_session"])
    if "redacted" in row:
        row["redacted"] = [k for k in (row["redacted"] or "").split(",") if k]
    return row


# -- JSONL and the import of an export --------------------------------------------------------------
def to_jsonl(row: Mapping[str, Any]) -> str:
    """One decoded row as the export's compact JSON line (no newline)."""
    return _DUMPS(dict(row))


def from_export(obj: Any) -> dict[str, Any]:
    """One exported transcript object as the row the ledger stores (without its id); ValueError says what is wrong.

    >>> from_export({"developer_id": "d", "skill": "s", "user_id": "u", "end_session": True})["end_session"]
    1
    """
    if not isinstance(obj, dict):
        raise ValueError(f"a JSON {type(obj).__name__} where a transcript object was expected")
    if not obj.keys() <= COLUMNS.keys():
        unknown = next(k for k in obj if k not in COLUMNS)
        raise ValueError(f"unknown key {unknown!r}; a transcript has only {', '.join(COLUMNS)}")
    obj = dict(obj)
    obj.pop("id", None)  # the ledger gives every imported row a new id
    for col in REQUIRED:
        if not isinstance(obj.get(col), str) or not obj[col]:
            raise ValueError(f"{col} must be a non-empty string, got {obj.get(col)!r}")
    try:  # the checks a request's body gets: no NUL, no half surrogate pair, finite numbers, bounded depth
        check_json_value(obj)
    except EnvelopeError as exc:
        where, problems = next(iter(exc.errors.items()))
        raise ValueError(f"{where}: {problems[0]}") from None
    for col, value in obj.items():
        if value is not None and not (type(value) is str and col in _TEXT_COLUMNS):  # most are, as they are
            obj[col] = _stored(col, value)
    return obj


def _stored(col: str, value: Any) -> Any:
    """``value`` (not None) of ``col`` as exported, converted to what the ledger keeps."""
    if col in JSON_COLUMNS:
        # Export decodes these; encoded here, a string reads back as that string (not as JSON text).
        return encode_json(value)
    if col == "end_session":
        if not isinstance(value, bool):
            raise ValueError(f"end_session must be true, false or null, got {value!r}")
        return int(value)
    if col == "redacted":  # a list in the export, "CARD,PHONE" in storage (None for none, as capture writes)
        if not isinstance(value, list) or not all(isinstance(k, str) and k and "," not in k for k in value):
            raise ValueError(f"redacted must be a list of PII kinds such as [\"CARD\", \"PHONE\"], got {value!r}")
        return ",".join(value) or None
    if COLUMNS[col] is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{col} must be a number or null, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{col} must be a string or null, got {value!r}")
    if col == "created_at" and not _is_utc_time(value):
        raise ValueError(f"created_at must be an ISO-8601 UTC time such as 2026-11-28T09:30:00.123Z, got {value!r}")
    return value


# -- CSV ------------------------------------------------------------------------------------------
def csv_cells(row: Mapping[str, Any]) -> list[Any]:
    """One decoded row as CSV cells in column order: JSON values as JSON text, formulas neutralised.

    >>> csv_cells({"developer_id": "d", "utterance": "=1+1"})[10]
    "'=1+1"

    A cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) gets
    a leading ``'``, whoever exports it: the console, the CLI or the API.
    """
    out: list[Any] = []
    for c in COLUMNS:
        v = row.get(c)
        if isinstance(v, (dict, list)):
            v = _DUMPS(v) if v else ""
        if isinstance(v, str) and v.startswith(_FORMULA_START):
            v = "'" + v
        out.append("" if v is None else v)
    return out


def iter_csv(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """CSV text of ``rows`` (decoded), a header line first, one chunk per row (streams)."""
    import csv  # only an export writes CSV: off the cold path

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(list(COLUMNS))
    for row in rows:
        writer.writerow(csv_cells(row))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def __getattr__(name: str) -> Any:
    # ``record.Transcript`` as before; the class lives in .transcript, loaded when first asked for.
    if name == "Transcript":
        from .transcript import Transcript

        return Transcript
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
