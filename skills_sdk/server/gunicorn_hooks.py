"""gunicorn settings for ``skills_sdk.wsgi:app``: ``gunicorn -c python:skills_sdk.server.gunicorn_hooks ...``.

A worker that exits leaves its metric files in ``PROMETHEUS_MULTIPROC_DIR``; ``child_exit`` tells
prometheus_client, so gauges of live workers only (the ledger's state) forget it.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["child_exit"]


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook, run in the master when a worker has exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
