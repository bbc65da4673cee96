"""The audit trail: what it records (one word per kind of access) and how filters and users are kept without personal data."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["ACTIONS", "safe_filters", "search_hash", "tally", "tally_jsonl", "audit", "iter_audit", "user_hash",
           "access_log", "access_entry"]

#: What the log records, one word per kind of access.
ACTIONS = ("list", "get", "export", "user_list", "erase", "purge", "skill_disabled", "key_create", "key_revoke",
           "consent", "import")


def check_action(action: str) -> None:
    """Raise ValueError naming the known actions when ``action`` is not one of them."""
    if action not in ACTIONS:
        raise ValueError(f"audit action must be one of {', '.join(ACTIONS)}, got {action!r}.")


def search_hash(ledger: Ledger, text: str) -> str:
    """A keyed hash of search text (HMAC-SHA256 under the ledger's secret), as the audit log keeps it.

    >>> search_hash(ledger, "415 555 0100")      # doctest: +SKIP
    'q:8e07d1…'

    Keyed like user ids: a plain hash of a searched phone number could be reversed by trying them all.
    """
    return "q:" + hmac.new(ledger.secret(), b"q:" + text.encode(), hashlib.sha256).hexdigest()[:32]


def safe_filters(ledger: Ledger, filters: Mapping[str, Any] | None) -> str | None:
    """The filters as JSON, with user ids and search text replaced by keyed hashes (erasure must not leave them here)."""
    if not filters:
        return None
    out: dict[str, Any] = {}
    for k, v in filters.items():
        if v is None:
            continue
        if k in ("user_id", "user") and isinstance(v, str):
            v = ledger.user_hash(v)
        elif k == "q" and isinstance(v, str):
            v = search_hash(ledger, v)
        out[k] = v
    return json.dumps(out, sort_keys=True, separators=(",", ":"), default=str)


def tally(rows: Iterable[Mapping[str, Any]], users: Counter[str]) -> Iterator[Mapping[str, Any]]:
    """Yield ``rows`` unchanged, counting each row's user in ``users`` (for an export's audit row).

    >>> from collections import Counter
    >>> users = Counter()
    >>> list(tally([{"user_id": "u1"}], users))
    [{'user_id': 'u1'}]
    >>> users
    Counter({'u1': 1})
    """
    for row in rows:
        user = row.get("user_id")
        if user:
            users[user] += 1
        yield row


#: A JSON line's user_id (the export's lines are compact JSON objects); the alternatives cannot overlap: linear.
_JSON_USER = re.compile(r'"user_id":"((?:[^"\\]|\\.)*)"')
_USER_KEY = '"user_id":"'


def tally_jsonl(lines: Iterable[str], users: Counter[str]) -> Iterator[str]:
    """Yield JSON ``lines`` (one transcript each) unchanged, counting each line's user in ``users``."""
    for line in lines:
        # str.find first: an export runs this per line, and the pattern alone (its per-character
        # alternation) cost 10 us a line, a third of a 180,000-row export's CPU. Inside a JSON
        # string every quote is escaped, so the first unescaped key is the row's own.
        start = line.find(_USER_KEY)
        if start >= 0:
            raw = line[start + len(_USER_KEY):line.find('"', start + len(_USER_KEY))]
            if "\\" in raw:  # an escape in the id (a quote, a code point): the pattern reads it whole
                m = _JSON_USER.match(line, start)
                raw = json.loads(f'"{m.group(1)}"') if m is not None else ""
            if raw:
                users[raw] += 1
        yield line


def jsonl_chunks(lines: Iterable[str], users: Counter[str] | None, batch: int) -> Iterator[tuple[str, int]]:
    """JSON ``lines`` (no newlines) as text chunks of up to ``batch`` lines each ending in a newline, and each chunk's lines; users counted."""
    counted = lines if users is None else tally_jsonl(lines, users)
    while chunk := list(islice(counted, batch)):
        yield "\n".join(chunk) + "\n", len(chunk)


#: How each audited read is named to the user whose rows it returned.
_READS = {"list": "read a page of transcripts", "get": "read a transcript or conversation",
          "export": "exported transcripts", "user_list": "read a page of transcripts"}


def access_entry(at: str, action: str, filters: str | None, rows: int, kind: str | None,
                 subject: str | None) -> dict[str, Any]:
    """One access-log entry as the user sees it, from an audit row joined to its key (any backend)."""
    entry: dict[str, Any] = {"at": at, "action": action, "what": _READS.get(action, action), "rows": rows}
    if kind == "developer":
        entry.update(by="developer", developer_id=subject)
    else:
        entry["by"] = "operator"
    entry["searched"] = bool(filters) and '"q":' in filters
    return entry


_safe_filters = safe_filters  # the name a backend written before the split imports


# The functional forms, for scripts: each is the ledger's method of the same name.
def audit(ledger: Ledger, actor: str, action: str, filters: Mapping[str, Any] | None = None, rows: int = 0, *,
          users: Mapping[str, int] | None = None) -> None:
    """:meth:`Ledger.audit`: append one audit row.

    >>> audit(ledger, "key_1a2b", "list", {"skill": "pizza"}, rows=12)    # doctest: +SKIP
    """
    ledger.audit(actor, action, filters, rows, users=users)


def iter_audit(ledger: Ledger, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """:meth:`Ledger.iter_audit`: audit rows, newest first."""
    return ledger.iter_audit(limit=limit)


def access_log(ledger: Ledger, user_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """:meth:`Ledger.access_log`: every audited read that returned any of ``user_id``'s rows, newest first."""
    return ledger.access_log(user_id, limit=limit)


def user_hash(ledger: Ledger, user_id: str) -> str:
    """:meth:`Ledger.user_hash`: a salted hash of ``user_id`` for records that must not hold the id."""
    return ledger.user_hash(user_id)
