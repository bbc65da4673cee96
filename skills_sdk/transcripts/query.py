"""``TranscriptFilter``: the one filter type of the ledger, its query-string parser, and the one SQL WHERE builder."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .._frozen import RECORD, Frozen, set_field
from ..errors import BadQuery
from .record import to_iso

__all__ = ["TranscriptFilter", "where", "scope_where", "fts_query", "FILTER_FIELDS", "API_FILTERS", "MAX_VALUE", "MAX_LIMIT"]

#: The columns a filter matches by equality, in the order the WHERE builder writes them.
EQUALITY = ("developer_id", "skill", "user_id", "session_id", "request_id", "intent", "status")
#: What a query string may name (the API's filters), besides ``limit`` and ``cursor``.
API_FILTERS = ("skill", "user_id", "session_id", "intent", "status", "since", "until", "has_transaction", "q")
#: What a row's ``status`` may be: answered, the skill failed, or Alexa reported a failure.
STATUSES = ("ok", "error", "alexa_error")
#: The statuses that count as errors (the skill failed, or Alexa reported a failure): the console's
#: "errors only" filter, its export and the dashboard's counts, on every backend.
ERROR_STATUSES = ("error", "alexa_error")
#: :data:`ERROR_STATUSES` as an SQL list, for ``status IN (...)``.
ERROR_STATUSES_SQL = ", ".join(f"'{s}'" for s in ERROR_STATUSES)
#: The longest value a query string may give.
MAX_VALUE = 500
#: The largest page a query returns.
MAX_LIMIT = 500


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class TranscriptFilter(Frozen):
    """Which transcripts: equal columns, a time window, whether a transaction was tagged, words said.

    >>> TranscriptFilter(skill="pizza", since="2026-11-01")
    TranscriptFilter(skill='pizza', since='2026-11-01T00:00:00.000Z')
    >>> TranscriptFilter.of({"skil": "pizza"})
    Traceback (most recent call last):
    ...
    ValueError: unknown filter 'skil'; a transcript filter takes developer_id, skill, user_id, ...

    ``since`` is inclusive and ``until`` exclusive, both normalised to the ledger's ISO-8601 UTC
    text; ``q`` is a full-text query (see :func:`fts_query`). Every field left None matches all.
    """

    developer_id: str | None = None
    skill: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    intent: str | None = None
    status: str | None = None
    since: str | None = None
    until: str | None = None
    has_transaction: bool | None = None
    q: str | None = None

    def __init__(self, developer_id: str | None = None, skill: str | None = None, user_id: str | None = None,
                 session_id: str | None = None, request_id: str | None = None, intent: str | None = None,
                 status: str | None = None, since: str | None = None, until: str | None = None,
                 has_transaction: bool | None = None, q: str | None = None) -> None:
        for name, value in zip(FILTER_FIELDS, (developer_id, skill, user_id, session_id, request_id, intent, status,
                                               since, until, has_transaction, q), strict=True):
            set_field(self, name, value)
        for name in (*EQUALITY, "q"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"filter {name} must be a non-empty string or None, got {value!r}.")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                set_field(self, name, to_iso(value))
        if self.has_transaction is not None and not isinstance(self.has_transaction, bool):
            raise ValueError(f"filter has_transaction must be True, False or None, got {self.has_transaction!r}.")

    def __repr__(self) -> str:
        set_ = ", ".join(f"{k}={v!r}" for k, v in self.items())
        return f"TranscriptFilter({set_})"

    @classmethod
    def of(cls, where: TranscriptFilter | Mapping[str, Any] | None = None, /, **more: Any) -> TranscriptFilter:
        """A filter from another filter, a mapping and/or keywords; an unknown name raises ValueError.

        >>> TranscriptFilter.of({"skill": "pizza"}, user_id="u1").user_id
        'u1'

        None values are left out, so ``of(user_id=None)`` matches every user.
        """
        given: dict[str, Any] = {}
        if isinstance(where, TranscriptFilter):
            given.update(where.items())
        elif where is not None:
            given.update(where)
        given.update(more)
        unknown = sorted(set(given) - set(FILTER_FIELDS))
        if unknown:
            raise ValueError(f"unknown filter {unknown[0]!r}; a transcript filter takes {', '.join(FILTER_FIELDS)}.")
        return cls(**{k: v for k, v in given.items() if v is not None})

    @classmethod
    def from_args(cls, args: Mapping[str, str], *, allowed: tuple[str, ...] = API_FILTERS,
                  also: tuple[str, ...] = ()) -> TranscriptFilter:
        """Check query-string filters and type them; raises :class:`BadQuery` naming the parameter.

        An unknown one is named with those accepted (``allowed``, then ``also``: what the caller
        took out of ``args`` itself, such as paging) and the likely one meant.

        >>> TranscriptFilter.from_args({"skill": "pizza", "has_transaction": "true"})
        TranscriptFilter(skill='pizza', has_transaction=True)
        """
        if unknown := sorted(set(args) - set(allowed)):
            import difflib  # only for this error's hint: off the cold path

            accepted = [*allowed, *also]
            close = difflib.get_close_matches(unknown[0], accepted, n=1)
            raise BadQuery(unknown[0], f"unknown parameter(s) {', '.join(unknown)}; "
                                       f"{f'did you mean {close[0]!r}? ' if close else ''}use {', '.join(accepted)}.")
        out: dict[str, Any] = {}
        for name, value in args.items():
            if len(value) > MAX_VALUE:
                raise BadQuery(name, f"is {len(value)} characters long; at most {MAX_VALUE} are accepted.")
            if name in ("since", "until"):
                try:
                    out[name] = to_iso(value)
                except ValueError as exc:
                    raise BadQuery(name, str(exc)) from None
            elif name == "has_transaction":
                if value.lower() not in ("true", "false", "1", "0"):
                    raise BadQuery(name, f"must be true or false, got {value[:20]!r}.")
                out[name] = value.lower() in ("true", "1")
            elif name == "q":
                out[name] = fts_query(value)
            elif name == "status":
                if value not in STATUSES:
                    raise BadQuery(name, f"must be one of {', '.join(STATUSES)}, got {value[:20]!r}.")
                out[name] = value
            else:
                if not value:
                    raise BadQuery(name, "is empty; leave it out to match every value.")
                out[name] = value
        return cls(**out)

    def items(self) -> list[tuple[str, Any]]:
        """The fields that are set, as ``(name, value)`` pairs in field order."""
        return [(f, getattr(self, f)) for f in FILTER_FIELDS if getattr(self, f) is not None]

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set (for the audit trail and for logs)."""
        return dict(self.items())

    def __bool__(self) -> bool:
        return bool(self.items())

    def replace(self, **changes: Any) -> TranscriptFilter:
        """A copy with ``changes`` (None clears a field)."""
        return TranscriptFilter.of({**self.as_dict(), **changes})


#: Every field of a filter, in order.
FILTER_FIELDS = tuple(f.name for f in fields(TranscriptFilter))


def where(f: TranscriptFilter, *, alias: str = "", placeholder: str = "?") -> tuple[list[str], list[Any]]:
    """The SQL clauses (to join with AND) and parameters that select ``f``'s rows; ``q`` is left to the backend's index.

    >>> where(TranscriptFilter(skill="pizza", has_transaction=True), alias="t")
    (['t.skill = ?', 't."transaction" IS NOT NULL'], ['pizza'])

    ``alias`` qualifies each column (``t`` gives ``t.skill``); ``placeholder`` is the driver's
    (``?`` for sqlite3, ``%s`` for psycopg). Every backend builds its WHERE here, so a filter
    means the same rows everywhere.
    """
    col = f"{alias}." if alias else ""
    clauses: list[str] = []
    params: list[Any] = []
    for name in EQUALITY:
        value = getattr(f, name)
        if value is not None:
            clauses.append(f"{col}{name} = {placeholder}")
            params.append(value)
    if f.since is not None:
        clauses.append(f"{col}created_at >= {placeholder}")
        params.append(f.since)
    if f.until is not None:
        clauses.append(f"{col}created_at < {placeholder}")
        params.append(f.until)
    if f.has_transaction is not None:
        clauses.append(f'{col}"transaction" IS NOT NULL' if f.has_transaction else f'{col}"transaction" IS NULL')
    return clauses, params


def scope_where(f: TranscriptFilter, developer_id: str | None, user_id: str | None, *,
                placeholder: str = "?") -> tuple[list[str], list[Any]]:
    """The clauses of a scoped read on ``transcripts t``: the scope (from the caller's key, never the request) first.

    >>> scope_where(TranscriptFilter(skill="pizza"), "dev-a", None)
    (['t.developer_id = ?', 't.skill = ?'], ['dev-a', 'pizza'])

    ``developer_id`` or ``user_id`` (or both) is required: a read without a scope is refused.
    """
    clauses: list[str] = []
    params: list[Any] = []
    if developer_id is not None:
        clauses.append(f"t.developer_id = {placeholder}")
        params.append(developer_id)
    if user_id is not None:
        clauses.append(f"t.user_id = {placeholder}")
        params.append(user_id)
    if not clauses:
        raise ValueError("search needs a developer_id or a user_id scope.")
    more, more_params = where(f, alias="t", placeholder=placeholder)
    return clauses + more, params + more_params


def fts_query(text: str) -> str:
    """Turn what a person typed into a safe full-text query: each word a quoted term, all of them required.

    >>> fts_query('large "pepperoni" OR')
    '"large" "pepperoni" "OR"'
    """
    words = re.findall(r"\w+", text)
    if not words:
        raise BadQuery("q", f"{text[:40]!r} has no words to search for.")
    return " ".join('"' + w.replace('"', '""') + '"' for w in words[:20])
