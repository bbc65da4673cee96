"""The SQLite backend of the ledger (the embedded default): ``SQLiteLedger`` and ``open`` for :func:`open_ledger`."""

from __future__ import annotations

import os
from typing import Any

from ..store import TranscriptStore as SQLiteLedger

__all__ = ["SQLiteLedger", "open"]


def open(path: str | os.PathLike[str], **options: Any) -> SQLiteLedger:  # noqa: A001 (the backend protocol's name)
    """The SQLite ledger in file ``path`` (created with its folder) or ``":memory:"``; ``options`` as SQLiteLedger takes."""
    return SQLiteLedger(path, **options)
