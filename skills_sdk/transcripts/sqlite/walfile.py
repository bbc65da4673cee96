"""The ``-wal`` file written out to its working size before the captures that would grow it, one slice at a time.

A frame written past the WAL's end made its commit pay the file system for a new block and a new
file size: 40-100 us of system CPU a capture at 1M rows for the first ~2,300 captures after the
file is made, which is at every start (SQLite deletes the file when its last connection closes)
and after an erasure's TRUNCATE checkpoint. Written out first with zeros (real blocks: neither a
sparse file nor ``fallocate``'s unwritten extents, whose first write costs as much), the file is
written over instead. SQLite reads no frame past the last one committed: recovery stops at the
first frame whose salt and checksum do not match the header, and a zeroed frame never matches (its
page number, 0, is not even valid). Nothing cuts the file back but the close of the last
connection and a TRUNCATE checkpoint (``journal_size_limit`` is left unset), after which the
ledger's background thread writes it out again (:meth:`.connection.Connection.reserve_wal`).

It also sets the WAL's space aside. On a disk with less than twice the bytes still to write free,
nothing is written; a write that finds no room gives back its slice. Either way captures go on.
"""

from __future__ import annotations

import contextlib
import os

from ..._logs import LazyLogger
from .checkpoints import WAL_BOUND_FRAMES

__all__ = ["WAL_RESERVE_FRAMES", "RESERVE_SLICE", "configured_reserve", "reserve_slice", "settle", "working_size"]

log = LazyLogger("skills_sdk.transcripts")

#: The ``-wal`` file's working size in frames: the bound at which a checkpoint lets the WAL start
#: over, plus the frames captures add while that checkpoint copies (the file reached 74-88 MB in
#: 2,000 captures at 1M rows, against the bound's 67.5 MB). ``SKILLS_WAL_RESERVE`` (bytes) overrides it.
WAL_RESERVE_FRAMES = WAL_BOUND_FRAMES + WAL_BOUND_FRAMES // 4
#: Bytes written out per hold of the write lock: a capture that arrives meanwhile waits for one slice.
RESERVE_SLICE = 256 * 1024
_ZEROS = bytes(RESERVE_SLICE)


def configured_reserve() -> int | None:
    """``SKILLS_WAL_RESERVE`` in bytes (0: none), else None (:func:`working_size`)."""
    configured = os.environ.get("SKILLS_WAL_RESERVE", "").strip()
    if not configured:
        return None
    if not configured.isdigit():
        from ...errors import SettingError

        raise SettingError(f"SKILLS_WAL_RESERVE must be a number of bytes (0 for none), got {configured!r}; unset it "
                           "for the default (the WAL's working size).")
    return int(configured)


def working_size(page_size: int) -> int:
    """:data:`WAL_RESERVE_FRAMES` frames of ``page_size`` pages in bytes: the WAL's header, then frames of a header and a page."""
    return 32 + WAL_RESERVE_FRAMES * (24 + page_size)


def reserve_slice(db: str, target: int, *, check_room: bool) -> bool | None:
    """One slice of the write-out of ``db``'s WAL to ``target`` bytes, under both write locks.

    Returns True (the file has that size), False (given up: no room, or the file failing) or None
    (more to write). ``check_room``: the first slice looks at the disk's free space first.
    """
    path = db + "-wal"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)  # made by SQLite: never created here
    except OSError as exc:
        log.warning("the WAL of %s is not written out: %s", db, exc)
        return False
    try:
        size = begun = os.fstat(fd).st_size
        if size >= target:
            return True
        free = os.statvfs(path) if check_room else None
        if free is not None and free.f_bavail * free.f_frsize < 2 * (target - size):
            log.info("the WAL of %s is not written out to %d bytes: %d bytes free on its disk",
                     db, target, free.f_bavail * free.f_frsize)
            return False
        end = min(target, size + RESERVE_SLICE)
        try:
            while size < end:
                size += os.pwrite(fd, _ZEROS[:end - size], size)
        except OSError:  # no room (ENOSPC, EDQUOT, EFBIG past RLIMIT_FSIZE), or failing
            with contextlib.suppress(OSError):
                os.ftruncate(fd, begun)  # no frame was written past it: this slice's zeros only
            raise
        return None
    except OSError as exc:
        log.warning("the WAL of %s is not written out to %d bytes (%s): it grows as captures come", db, target, exc)
        return False
    finally:
        os.close(fd)


def settle(db: str) -> None:
    """Flush the written-out zeros of ``db``'s WAL to the disk now, holding no lock.

    Left to the kernel, they were flushed by the first checkpoint's ``fsync`` of the WAL, 84 MB
    that checkpoint waited for, and the one that holds writers off at the bound with it.
    """
    try:
        fd = os.open(db + "-wal", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fdatasync(fd)
    except OSError as exc:  # the write-out stands; a checkpoint's fsync will flush it
        log.debug("the WAL of %s written out, not flushed: %s", db, exc)
    finally:
        os.close(fd)
