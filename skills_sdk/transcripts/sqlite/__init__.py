"""The SQLite backend of the ledger (the embedded default): ``SQLiteLedger``, and ``open`` for :func:`open_ledger`.

One module per concept: ``connection`` (connections, the write lock, transactions, the background
indexer and checkpointer), ``schema`` (tables and upgrades), ``fts`` (the partitioned full-text
index), ``queries`` (reads), ``erasure``, ``retention``, ``keys``, ``audit``, ``stats``, ``health``,
and ``ledger`` (the class that puts them behind the interface).
"""

from __future__ import annotations

import os
from typing import Any

from .ledger import SQLiteLedger

__all__ = ["SQLiteLedger", "open"]


def open(path: str | os.PathLike[str], **options: Any) -> SQLiteLedger:  # noqa: A001 (the backend protocol's name)
    """The SQLite ledger in file ``path`` (created with its folder) or ``":memory:"``; ``options`` as SQLiteLedger takes."""
    return SQLiteLedger(path, **options)
