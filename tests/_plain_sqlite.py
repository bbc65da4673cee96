"""Plain sqlite3 in a process of its own: what an operator or a script reaches for, beside a running ledger."""

from __future__ import annotations

import ast
import subprocess
import sys

__all__ = ["plain"]

#: What a curious operator runs: Python's own sqlite3 in a process of its own. In this process it
#: would be a second copy of SQLite beside the store's (pysqlite3), and two copies in one process do
#: not see each other's file locks: closing its connection could truncate the shared-memory file
#: the store's checkpoint thread has mapped (a SIGBUS), as docs/privacy.md warns users.
_PLAIN = """
import ast, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = []
for sql, params in ast.literal_eval(sys.stdin.read()):
    rows = conn.execute(sql, params).fetchall()
conn.commit()
conn.close()
print(repr(rows))
"""


def plain(path, *statements: tuple[str, tuple]) -> list[tuple]:
    """Run ``(sql, params)`` statements with plain sqlite3 in another process, behind the ledger's back; the last one's rows."""
    done = subprocess.run([sys.executable, "-c", _PLAIN, str(path)], input=repr(list(statements)),
                          capture_output=True, text=True, check=True)
    return ast.literal_eval(done.stdout)
