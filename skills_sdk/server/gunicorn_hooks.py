"""gunicorn settings for ``skills_sdk.wsgi:app``: ``gunicorn -c python:skills_sdk.server.gunicorn_hooks ...``.

A worker that exits leaves its metric files in ``PROMETHEUS_MULTIPROC_DIR``; ``child_exit`` tells
prometheus_client, so gauges of live workers only (the ledger's state) forget it. A folder that
``skills serve --workers N`` made for them is removed by ``on_exit`` when gunicorn stops; a folder
the operator gave stays.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

__all__ = ["OWNED_METRICS_DIR", "child_exit", "on_exit"]

#: Set by ``skills serve --workers N`` to the metrics folder it made, which is its to remove.
OWNED_METRICS_DIR = "SKILLS_OWNED_METRICS_DIR"


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook, run in the master when a worker has exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """gunicorn's hook, run in the master as it exits: remove the metrics folder ``skills serve`` made.

    Every start of ``skills serve --workers N`` makes a new one (prometheus_client wants it empty at
    start), so without this each restart left a folder of metric files in the temporary directory.
    """
    made = os.environ.get(OWNED_METRICS_DIR)
    if made and made == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(made, ignore_errors=True)
