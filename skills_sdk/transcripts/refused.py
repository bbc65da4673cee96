"""Spooled rows the ledger refused for good: kept beside the spool, never dropped, until retried, erased or expired."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .record import utcnow_iso

__all__ = ["Refused", "REFUSED_SUFFIX", "REFUSAL_KEY", "ROW_REFUSALS", "blank_lines", "expire_refused", "purge_refused"]

#: The refused rows of spool ``x.db.spool`` are in ``x.db.spool.refused``.
REFUSED_SUFFIX = ".refused"
#: The key each refused line carries beside the row's own: when and why the ledger refused it.
REFUSAL_KEY = "_refused"
#: What a ledger raises for a row because of what the row holds (with the backend's constraint errors):
#: a replay keeps such a row aside and goes on. Anything else (unreachable, full, locked) stops it.
ROW_REFUSALS: tuple[type[BaseException], ...] = (ValueError, TypeError, KeyError, OverflowError)
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


class Refused:
    """The file of rows a replay could not insert because of what they hold (a row without its developer, say).

    A replay that meets such a row keeps it here, with the ledger's reason, before it commits past
    it, so a row is never lost to a refusal: it waits for the cause to be fixed and for
    ``skills transcripts replay --refused``, which moves the file back into the spool. Erasure and
    retention reach it as they reach the ledger (:meth:`blank`, :func:`expire_refused`).

    >>> Refused("var/t.db.spool.refused").rows()   # doctest: +SKIP
    [{'request_id': 'R1', ..., '_refused': {'at': '2026-12-04T15:00:00.000Z', 'error': 'A transcript needs developer_id; got None.'}}]
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def keep(self, row: Mapping[str, Any], exc: BaseException) -> None:
        """Append ``row`` with why it was refused, synced to disk; a row already kept is not kept twice.

        Raises OSError when the file cannot be written: the replay must then stop before its
        commit, so the row stays in the spool instead.
        """
        body = _DUMPS({k: v for k, v in row.items() if k not in ("id", REFUSAL_KEY)}).encode()
        why = _DUMPS({"at": utcnow_iso(), "error": f"{exc}" or type(exc).__name__}).encode()
        head = body[:-1] + b',"' + REFUSAL_KEY.encode() + b'":'
        line = (head + why + b"}\n") if body != b"{}" else (b'{"' + REFUSAL_KEY.encode() + b'":' + why + b"}\n")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A replay that died after keeping a row and before its commit refuses the row again.
            with os.fdopen(os.dup(fd), "rb") as f:
                if any(old.startswith(head) for old in f):
                    return
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def rows(self) -> list[dict[str, Any]]:
        """The rows kept here, each with its ``_refused`` reason (erased and expired ones are gone)."""
        return [row for _, _, row in _lines(self.path)]

    def count(self) -> int:
        """How many rows are kept here."""
        return len(self.rows())

    def move_to(self, dest: str) -> bool:
        """Rename the file to ``dest`` (a spool file to replay), under its lock; False when there was none."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits for a keep in flight
            os.rename(self.path, dest)
            return True
        finally:
            os.close(fd)

    def blank(self, drop: Callable[[dict[str, Any]], bool], needle: bytes = b"") -> int:
        """Overwrite in place every row ``drop`` picks; returns how many. The file goes once nothing is left."""
        gone = blank_lines(self.path, drop, needle)
        if gone and not self.rows():
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        return gone


def blank_lines(path: str, drop: Callable[[dict[str, Any]], bool], needle: bytes = b"") -> int:
    """Overwrite with spaces, in place and under the file's lock, every JSON line whose row ``drop`` picks; how many.

    Only lines holding ``needle`` are parsed. The lines keep their length, so a replay's byte
    offsets stay valid, and the words are overwritten where they lay, then synced.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    gone = 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for offset, line, row in _lines(path, needle):
            if drop(row):
                os.pwrite(fd, b" " * (len(line) - 1), offset)
                gone += 1
        if gone:
            os.fsync(fd)
    finally:
        os.close(fd)
    return gone


def expire_refused(refused: Refused | None, expiry_of: Callable[[str], Any]) -> int:
    """Retention for refused rows: drop each one whose words its skill's retention has expired; how many.

    ``expiry_of(skill)`` is the purge's :class:`~skills_sdk.transcripts.retention.Expiry` of that
    skill (None: kept). A refused row is not a receipt in the ledger, so it goes at ``text_before``
    even in a skill that keeps receipts longer.
    """
    if refused is None or not os.path.exists(refused.path):
        return 0
    cuts: dict[str, str | None] = {}

    def expired(row: dict[str, Any]) -> bool:
        skill = str(row.get("skill") or "")
        if skill not in cuts:
            exp = expiry_of(skill)
            cuts[skill] = exp.text_before if exp is not None else None
        cut = cuts[skill]
        return cut is not None and str(row.get("created_at") or "") < cut

    return refused.blank(expired)


def _lines(path: str, needle: bytes = b"") -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """``(offset, line, row)`` of each whole JSON line holding ``needle``; blanked and torn lines are passed over."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        offset = 0
        for line in f:
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n") or needle not in line or not line.strip(b" \0\n"):
                continue
            try:  # zeros first: space an append killed midway allocated, which replay skips too
                row = json.loads(line.lstrip(b"\0"))
            except ValueError:
                continue
            if isinstance(row, dict):
                yield start, line, row



def purge_refused(ledger: Any, table: Mapping[str, Any], *, default_days: int | None, now: Any) -> int:
    """The purge's step for ``ledger``'s refused rows (see :func:`expire_refused`); how many went."""
    from .retention import expiry

    spool = ledger.spool() if not getattr(ledger, "memory", False) else None
    return expire_refused(spool.refused if spool is not None else None,
                          lambda skill: expiry(skill, table.get(skill), now, default_days))
