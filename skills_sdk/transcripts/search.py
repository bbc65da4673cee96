"""The transcript API's reads: query-string filters, signed page cursors, and scoped pages from the ledger."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import BadQuery
from .query import API_FILTERS, MAX_LIMIT, TranscriptFilter, fts_query

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["search", "iter_search", "parse_filters", "fts_query", "encode_cursor", "decode_cursor", "FILTERS",
           "MAX_LIMIT"]

#: The filters the API takes (besides ``limit`` and ``cursor``).
FILTERS = API_FILTERS
_CURSOR_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


def parse_filters(args: Mapping[str, str], *, allowed: tuple[str, ...] = FILTERS,
                  also: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check query-string filters and turn them into typed values; raises :class:`BadQuery` naming the parameter.

    >>> parse_filters({"skill": "pizza", "has_transaction": "true", "since": "2026-11-01"})
    {'skill': 'pizza', 'since': '2026-11-01T00:00:00.000Z', 'has_transaction': True}

    The parsing is :meth:`TranscriptFilter.from_args`; this gives its fields as a dict.
    """
    return TranscriptFilter.from_args(args, allowed=allowed, also=also).as_dict()


def _sign(ledger: Ledger, scope: str, last_id: int) -> str:
    return hmac.new(ledger.secret(), f"{scope}:{last_id}".encode(), hashlib.sha256).hexdigest()[:16]


def encode_cursor(ledger: Ledger, scope: str, last_id: int) -> str:
    """An opaque page cursor: the last id seen, signed for this scope (a developer, or a user)."""
    raw = f"{last_id}.{_sign(ledger, scope, last_id)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(ledger: Ledger, scope: str, cursor: str) -> int:
    """The last id a cursor stands for; raises :class:`BadQuery` (``cursor``) for anything this server did not make."""
    bad = BadQuery("cursor", "is not a cursor this API returned for this key; start again from the first page.")
    if not _CURSOR_RE.match(cursor):
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    head, _, sig = raw.partition(".")
    if not head.isdigit() or len(head) > 18 or not hmac.compare_digest(sig, _sign(ledger, scope, int(head))):
        raise bad
    return int(head)


def search(ledger: Ledger, filters: TranscriptFilter | Mapping[str, Any], *, developer_id: str | None = None,
           user_id: str | None = None, before_id: int | None = None, limit: int = 50
           ) -> tuple[list[dict[str, Any]], int | None]:
    """:meth:`Ledger.query`: one page of the scope's transcripts, newest first, and the last id for the next page.

    >>> from skills_sdk.transcripts import open_ledger
    >>> ledger = open_ledger(":memory:")
    >>> ledger.record({"developer_id": "pronto-pizza-labs", "skill": "pizza", "user_id": "amzn1.ask.account.A",
    ...                "utterance": "a large pepperoni pizza"})
    1
    >>> rows, last = search(ledger, parse_filters({"q": "pepperoni"}), developer_id="pronto-pizza-labs", limit=20)
    >>> [row["utterance"] for row in rows], last
    (['a large pepperoni pizza'], None)

    ``filters`` come from :func:`parse_filters`. ``last`` is None on the last page.
    """
    return ledger.query(filters, developer_id=developer_id, user_id=user_id, before_id=before_id, limit=limit)


def iter_search(ledger: Ledger, filters: TranscriptFilter | Mapping[str, Any], *, developer_id: str | None = None,
                user_id: str | None = None, batch: int = 500) -> Iterator[dict[str, Any]]:
    """:meth:`Ledger.iter_query`: every transcript :func:`search` would page through, newest first."""
    return ledger.iter_query(filters, developer_id=developer_id, user_id=user_id, batch=batch)
