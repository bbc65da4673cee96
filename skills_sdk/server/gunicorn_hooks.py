"""gunicorn settings for ``skills_sdk.wsgi:app``: ``gunicorn -c python:skills_sdk.server.gunicorn_hooks ...``.

The ledger's background work (indexing, checkpoints) runs in one maintenance process the master
starts (``when_ready``), not in the workers, which the master tells so by ``SKILLS_BACKGROUND`` before
it forks them (``on_starting``); why, and what happens when it dies: :mod:`.maintenance`.

A worker that exits leaves its metric files in ``PROMETHEUS_MULTIPROC_DIR``; ``child_exit`` tells
prometheus_client, so gauges of live workers only (the ledger's state) forget it. A folder that
``skills serve --workers N`` made for them is removed by ``on_exit`` when gunicorn stops; a folder
the operator gave stays.

gunicorn's own trust of ``X-Forwarded-Proto`` and of ``SCRIPT_NAME`` / ``PATH_INFO`` headers (from
loopback peers, by default) is turned off: which proxies' headers are believed is
``SKILLS_PROXY_HOPS``'s to say (:mod:`.proxy`), alone.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from .maintenance import BACKGROUND, Maintenance

__all__ = ["OWNED_METRICS_DIR", "child_exit", "forwarder_headers", "on_exit", "on_reload", "on_starting",
           "secure_scheme_headers", "when_ready"]

#: gunicorn's setting: no header makes a request https. By default any program on the same host,
#: not only a proxy, could make gunicorn call a request https by sending X-Forwarded-Proto.
secure_scheme_headers: dict[str, str] = {}

#: gunicorn's setting (a comma-separated string; empty, none): no header sets the WSGI environ's
#: ``SCRIPT_NAME`` or ``PATH_INFO``. By default a loopback peer's ``SCRIPT_NAME`` header was believed,
#: and cut from the path the app routes on: ``/alexa/pizza`` became ``/pizza`` to Flask.
forwarder_headers = ""

#: Set by ``skills serve --workers N`` to the metrics folder it made, which is its to remove.
OWNED_METRICS_DIR = "SKILLS_OWNED_METRICS_DIR"

_maintenance: Maintenance | None = None  # the master's, between when_ready and on_exit


def on_starting(server: Any) -> None:
    """gunicorn's hook, run in the master before it forks anything: the workers' ledgers start no background thread.

    An operator's ``SKILLS_BACKGROUND=thread`` keeps today's thread in every worker, and no maintenance process.
    """
    if os.environ.get(BACKGROUND, "elsewhere") == "elsewhere":
        os.environ[BACKGROUND] = "elsewhere"


def when_ready(server: Any) -> None:
    """gunicorn's hook, run in the master once it listens: start the maintenance process, and look after it.

    The master's loop calls ``manage_workers`` about once a second (and at every signal); the
    maintenance process is started again from there when it has exited.
    """
    global _maintenance
    if os.environ.get(BACKGROUND) != "elsewhere" or _maintenance is not None:
        return
    _maintenance = keeper = Maintenance(server)
    keeper.spawn()
    manage_workers = server.manage_workers

    def manage_workers_and_maintenance() -> None:
        manage_workers()
        keeper.check()

    server.manage_workers = manage_workers_and_maintenance


def on_reload(server: Any) -> None:
    """gunicorn's hook, run in the master on SIGHUP (new workers, new code): a new maintenance process too."""
    if _maintenance is not None:
        _maintenance.stop()
        _maintenance.stopping = False
        _maintenance.spawn()


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook, run in the master when a worker has exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """gunicorn's hook, run in the master as it exits: stop the maintenance process, remove the metrics folder ``skills serve`` made.

    Every start of ``skills serve --workers N`` makes a new one (prometheus_client wants it empty at
    start), so without this each restart left a folder of metric files in the temporary directory.
    """
    if _maintenance is not None:
        _maintenance.stop()
    made = os.environ.get(OWNED_METRICS_DIR)
    if made and made == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(made, ignore_errors=True)
