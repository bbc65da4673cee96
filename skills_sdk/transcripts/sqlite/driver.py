"""The SQLite driver of the store: the one sqlite-utils uses (a bundled recent SQLite where installed)."""

from __future__ import annotations

import os
import sqlite3 as _stdlib
import sys
from typing import Any

from ..._logs import LazyLogger

# pysqlite3 (a current SQLite, bundled by the pysqlite3-binary wheel) when it is installed, else the
# standard library's module: the choice sqlite-utils makes (sqlite_utils.utils), so both use the very
# same module (exceptions of one are not instances of the other's classes). Imported here directly:
# sqlite-utils itself (and the plugin scan it runs) is for schema work, not for every process start.
try:
    import pysqlite3.dbapi2 as sqlite3
except ImportError:  # pragma: no cover - the wheel is not built for every platform
    import sqlite3

__all__ = ["sqlite3", "DB_ERRORS", "FTS5_SECURE_DELETE", "Transaction", "is_busy", "configured_wal_reads", "configured_wal_writes", "configured_io", "library", "open_uri", "pid", "wal_vfs"]

#: Catch these for "the database failed" (both drivers' errors, whichever raised).
DB_ERRORS: tuple[type[BaseException], ...] = tuple({sqlite3.Error, _stdlib.Error})

#: FTS5's 'secure-delete' option (SQLite 3.42+): a delete removes the tokens from the index at once,
#: so erasing one user costs what that user had, not a rewrite of the whole index.
FTS5_SECURE_DELETE = sqlite3.sqlite_version_info >= (3, 42, 0)


log = LazyLogger("skills_sdk.transcripts")

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def pid() -> int:
    """This process's id, kept across ``fork()``: ``os.getpid()`` is a system call, and a capture asked it three times."""
    return _pid


def library() -> str:
    """The file of the driver's own SQLite, where the compiled modules find its functions (``dlsym``).

    The standard library's ``_sqlite3`` links it; pysqlite3's module has it inside. KeyError or
    AttributeError where neither is loaded as a file.
    """
    return sys.modules["pysqlite3._sqlite3" if sqlite3.__name__.startswith("pysqlite3") else "_sqlite3"].__file__  # type: ignore[return-value]


def is_busy(exc: BaseException) -> bool:
    """True when ``exc`` says another connection holds the database's lock ("database is locked/busy")."""
    return isinstance(exc, DB_ERRORS) and any(w in str(exc).lower() for w in ("database is locked", "busy"))


#: What ``urllib.parse.quote`` leaves as is (its default ``safe="/"``); every other UTF-8 byte is %XX.
_URI_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/")


def configured_wal_reads() -> str:
    """``SKILLS_WAL_READS``: ``mapped`` (the default: WAL frames copied from a mapping) or ``pread``; else SettingError."""
    return _choice("SKILLS_WAL_READS", ("mapped", "pread"))


def configured_wal_writes() -> str:
    """``SKILLS_WAL_WRITES``: ``together`` (the default: a commit's frames in one write) or ``each``; else SettingError."""
    return _choice("SKILLS_WAL_WRITES", ("together", "each"))


def configured_io() -> tuple[str, str]:
    """``(SKILLS_WAL_READS, SKILLS_WAL_WRITES)``, each checked: what a ledger asks before it opens."""
    return configured_wal_reads(), configured_wal_writes()


def _choice(name: str, values: tuple[str, ...]) -> str:
    """The environment's ``name``, one of ``values`` (any case, spaces around; unset or empty: the first)."""
    got = os.environ.get(name, "").strip().lower() or values[0]
    if got not in values:
        from ...errors import SettingError

        raise SettingError(f"{name} must be {' or '.join(map(repr, values))} ({values[0]!r} is the default), got "
                           f"{os.environ[name]!r}; unset it for the default.")
    return got


def wal_vfs() -> str | None:
    """The name of the VFS the ledger's connections open with (``_walvfs.c``), or None: SQLite's default.

    It is SQLite's default VFS with a commit's WAL frames written by one system call instead of
    two a frame (a capture's ten frames: one ``pwrite`` in place of twenty), each commit's frames
    in the file before SQLite publishes them, as SQLite's own; and the WAL's frames read by
    copying them from a read-only mapping of the file instead of one ``pread`` each
    (``SKILLS_WAL_READS=pread`` keeps the ``pread``; ``mapped``, the default). None where the
    module is not built or ``SKILLS_WAL_WRITES=each`` asks for SQLite's own writes.
    """
    global _vfs
    if _vfs is None:
        mapped = configured_wal_reads() == "mapped"  # a value it does not know raises before anything is set
        _vfs = ""
        if configured_wal_writes() != "each":
            try:
                from . import _walvfs  # type: ignore[attr-defined]

                _vfs = _walvfs.register(library(), mapped)
            except (ImportError, OSError, KeyError, AttributeError) as exc:
                log.debug("WAL frames written one by one: %s", exc)
    return _vfs or None


_vfs: str | None = None


def sync_files(conn: sqlite3.Connection) -> bool:
    """``fsync`` the database file and WAL that ``conn`` has open, through SQLite's descriptors; False where it cannot.

    Only for a connection opened through :func:`wal_vfs`'s VFS and used by the calling thread alone
    (a checkpointer's own). A descriptor of Python's own on the file would do the same, but closing
    it drops every POSIX lock the process holds on the file, SQLite's included. It never raises:
    the checkpointing threads expect SQLite's errors only, and an ``OSError`` would end them.
    """
    if wal_vfs() is None or not isinstance(conn, sqlite3.Connection):
        return False
    from . import _walvfs  # type: ignore[attr-defined]

    sync = getattr(_walvfs, "sync", None)  # None: a module built before it (./dev rebuilds it)
    if sync is None:
        return False
    try:
        return bool(sync(conn))
    except OSError as exc:  # a failing disk: the checkpoint's own fsync meets it next and says so as SQLite does
        log.debug("the ledger's files not synced before the checkpoint: %s", exc)
        return False


def open_uri(path: str) -> str:
    """The URI that opens the existing database file at ``path`` for writing, never creating one."""
    # urllib.parse.quote's result, spelled here: importing urllib.parse (and the ipaddress module it
    # loads) cost every worker's cold start ~7 ms for this one call.
    quoted = "".join(chr(b) if b in _URI_SAFE else f"%{b:02X}" for b in os.path.abspath(path).encode())
    vfs = wal_vfs()
    return "file:" + quoted + "?mode=rw" + ("" if vfs is None else "&vfs=" + vfs)


class Transaction:
    """``with Transaction(conn) as conn:`` is one immediate transaction, committed or rolled back."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            # A full disk or an I/O error may have rolled the transaction back already; a ROLLBACK then
            # fails with "no transaction is active", which would replace the error that says why.
            self.conn.execute("ROLLBACK")
