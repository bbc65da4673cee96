"""A new ledger file made whole under a temporary name, then linked into place: a file under the ledger's name always opens.

An empty file handed to SQLite cost a new ledger six ``fsync`` s (1.7-82 ms a process on a shared
disk): four for the rollback journal SQLite keeps while it writes the first page that turns the
file to WAL mode (the journal, its folder, the journal again, the database), two for the new WAL
and its folder. Here that first page is written with no journal and no sync into a file only this
process knows, synced once, and linked under the ledger's name: ``link`` never replaces a file, so
when another process made the ledger first, this one uses theirs, and nobody ever sees a file
under that name that is not whole. The WAL's own two syncs stay (at the schema's commit; that
sync of the folder also makes the new name itself durable).

A process killed between making the temporary file and removing it leaves ``<db>-new-<pid>-<hex>``
beside the ledger: never opened by anything, safe to delete.
"""

from __future__ import annotations

import contextlib
import os

from ...errors import StoreError
from .driver import DB_ERRORS, sqlite3

__all__ = ["make_ledger_file", "foreign_tables"]

_sync = getattr(os, "fdatasync", os.fsync)  # the data and the size, as SQLite syncs its files


def make_ledger_file(path: str) -> bool:
    """Make the SQLite file at ``path`` (owner-only, in WAL mode, no tables yet) unless something is there already.

    Returns True when this call put the file in place; False when ``path`` existed, or another
    process linked its own first (then that one is the ledger), or the folder's file system has no
    hard links (then an empty file is left for SQLite to set up, as before, with its journal).
    """
    if os.path.lexists(path):
        return False
    tmp = f"{path}-new-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)  # owner-only whatever the umask
    except OSError as exc:  # named as the ledger the user asked for, not the temporary file
        folder = os.path.dirname(os.path.abspath(path))
        raise StoreError(f"Cannot create transcript database {path!r}: {exc.strerror} in {folder}. Give a --db "
                         "(or SKILLS_DB) in a folder this user can write to.") from None
    try:
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                # No journal (nothing to roll back in a file nobody else sees): the switch to WAL is
                # one write of the first page; synced below, once, before the file has its real name.
                conn.execute("PRAGMA synchronous = OFF")
                conn.execute("PRAGMA journal_mode = OFF")
                conn.execute("PRAGMA journal_mode = WAL")
            finally:
                conn.close()
        except DB_ERRORS as exc:
            raise StoreError(f"Cannot create transcript database {path!r}: {exc}.") from exc
        _sync(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False  # another process made it meanwhile: theirs is whole too
        except OSError:  # no hard links here (EPERM, ENOTSUP): SQLite turns an empty file to WAL itself
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
            return False
        return True
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def foreign_tables(path: str) -> str | None:
    """The tables of the SQLite file at ``path`` when it has some and none is ``transcripts``; else None."""
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return None
    try:
        import pathlib  # for this check only: as_uri() escapes a '?' or '#' in the path

        conn = sqlite3.connect(pathlib.Path(path).absolute().as_uri() + "?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        finally:
            conn.close()
    except DB_ERRORS:  # not a database at all, or locked: the ledger's own open says which
        return None
    if not names or "transcripts" in names:
        return None
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
