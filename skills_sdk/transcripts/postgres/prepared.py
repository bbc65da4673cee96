"""The capture's statement run through libpq itself: prepared once per connection, its parameters sent as bytes.

A capture is one statement of some 25 parameters, and psycopg's own path (a cursor made, the
named placeholders mapped, each value's dumper looked up, the result's row maker built) costs
about three times libpq's call for such a statement: 22-39 µs of client CPU against 8-10 µs,
measured side by side in one process. Only the hottest statement goes this way; every other
keeps psycopg's ``execute``.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import pq

__all__ = ["Prepared"]

_NAMED = re.compile(r"%\((\w+)\)s")
_ALREADY = b"42P05"  # duplicate_prepared_statement: prepared there by an earlier run that failed after
_GONE = b"26000"  # invalid_sql_statement_name: deallocated since (psycopg's DEALLOCATE ALL, see Prepared)


class Prepared:
    """A statement written with psycopg's named placeholders, run with :meth:`run` straight through libpq.

    >>> stmt = Prepared("skills_plus_one", "SELECT %(a)s::int + 1")      # doctest: +SKIP
    >>> stmt.run(conn, {"a": 1})                                         # doctest: +SKIP
    [(b'2',)]

    Parameters go as text (``None`` as NULL, ``bool`` as ``t``/``f``), ``bytes`` in binary; the
    server infers each one's type from where it is used, once, when the statement is prepared.
    Result values come back as text bytes (``None`` for NULL). The statement is prepared on each
    connection the first time it runs there (a pool's new connection, a forked worker's), and again
    when the server no longer has it: psycopg sends ``DEALLOCATE ALL`` after any rollback (a
    ``transaction()`` block left by an exception, the pool's reset) and any statement whose status
    is DROP or ALTER on a connection where it prepared statements of its own (``prepare_threshold``),
    which removes this one too. Outside a transaction the run is then repeated at once; inside
    one the transaction has failed, so it raises :class:`psycopg.errors.InvalidSqlStatementName`
    and the next run prepares again. Other errors are psycopg's: the class of the server's
    SQLSTATE, :class:`psycopg.OperationalError` when the connection is lost (the pool then
    discards it).
    """

    def __init__(self, name: str, sql: str) -> None:
        self.names: list[str] = []

        def number(m: re.Match[str]) -> str:
            if m.group(1) not in self.names:
                self.names.append(m.group(1))
            return f"${self.names.index(m.group(1)) + 1}"

        self.sql = _NAMED.sub(number, sql).encode()
        self.name = name.encode()
        self._ready: weakref.WeakSet[Any] = weakref.WeakSet()  # connections it is prepared on

    def run(self, conn: psycopg.Connection[Any], params: Mapping[str, Any]) -> list[tuple[bytes | None, ...]]:
        """Execute on ``conn`` (autocommit, or inside the caller's transaction); the result's rows."""
        if conn not in self._ready:
            self._prepare(conn)
        values: list[bytes | None] = []
        formats: list[int] = []
        value, form = values.append, formats.append
        for name in self.names:  # by exact type first: a capture's 25-28 values, each on the hot path
            v = params[name]
            kind = type(v)
            if kind is str:
                if "\x00" in v:  # libpq sends text up to its first NUL: the value would be stored cut, silently
                    raise psycopg.DataError(f"{name}: PostgreSQL text cannot hold NUL (0x00), as psycopg says of "
                                            "every other statement; the value was not sent.")
                value(v.encode())
                form(0)
            elif v is None:
                value(None)
                form(0)
            elif kind is bytes or isinstance(v, bytes):
                value(v)
                form(1)
            elif kind is bool:
                value(b"t" if v else b"f")
                form(0)
            else:
                value(str(v).encode())
                form(0)
        # libpq waits for the reply with the GIL released; the connection is this thread's until it returns.
        pgconn = conn.pgconn
        res = pgconn.exec_prepared(self.name, values, formats)
        if res.status != pq.ExecStatus.TUPLES_OK and res.error_field(pq.DiagnosticField.SQLSTATE) == _GONE:
            self._ready.discard(conn)
            if pgconn.transaction_status == pq.TransactionStatus.IDLE:  # nothing of the caller's failed: again
                self._prepare(conn)
                res = pgconn.exec_prepared(self.name, values, formats)
        if res.status != pq.ExecStatus.TUPLES_OK:
            _raise(conn, res)
        get, cols = res.get_value, range(res.nfields)
        return [tuple([get(r, c) for c in cols]) for r in range(res.ntuples)]

    def _prepare(self, conn: psycopg.Connection[Any]) -> None:
        res = conn.pgconn.prepare(self.name, self.sql)
        if res.status != pq.ExecStatus.COMMAND_OK and res.error_field(pq.DiagnosticField.SQLSTATE) != _ALREADY:
            _raise(conn, res)
        self._ready.add(conn)


def _raise(conn: psycopg.Connection[Any], res: Any) -> None:
    if conn.pgconn.status == pq.ConnStatus.BAD:
        raise psycopg.OperationalError(res.get_error_message() or "the connection to the server was lost")
    raise psycopg.errors.error_from_result(res, encoding=conn.info.encoding)
