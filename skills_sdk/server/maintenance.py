"""One maintenance process beside gunicorn's workers: the ledger's indexing and checkpoints, so no request pays them.

A started SQLite ledger indexes new rows for full-text search, checkpoints its WAL, writes the WAL
out to its working size and finishes owed erasure scrubs on a background thread. In a gunicorn
worker that thread took the interpreter's lock from the request thread: the slowest 1% of
requests overlapped it 52-70% of the time, against 4-8% of the others (docs/performance.md, "HTTP
under gunicorn"). Under ``gunicorn -c python:skills_sdk.server.gunicorn_hooks`` (as ``skills serve
--workers N`` runs it) the master sets ``SKILLS_BACKGROUND=elsewhere`` before it forks a worker,
so the workers' ledgers start no such thread, and forks one process that loads the same app
(its ledger starts the thread there) and answers no request. The master starts another within a
second if it dies; it stops with the master, and exits by itself if the master is gone.

Nothing durable depends on it: a row is committed by the request that made it. While it is gone
the WAL grows and new rows wait to be indexed (a search indexes what waits before it reads). A
single-process server (``skills serve`` without workers, the Flask dev server, Lambda, tests) keeps
its ledger's own thread. ``SKILLS_BACKGROUND=thread`` set by the operator keeps the thread in each
worker and starts no maintenance process.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from typing import Any

__all__ = ["BACKGROUND", "Maintenance"]

#: The environment variable the SQLite ledger reads (``elsewhere``: start no background thread).
BACKGROUND = "SKILLS_BACKGROUND"


class Maintenance:
    """The master's handle on the maintenance process: :meth:`spawn`, :meth:`check` once a loop, :meth:`stop`."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.pid = 0
        self.stopping = False

    def spawn(self) -> None:
        """Fork the maintenance process (in the master, where gunicorn forks its workers)."""
        pid = os.fork()
        if pid:
            self.pid = pid
            self.server.log.info("Started the ledger's maintenance process (pid: %s)", pid)
            return
        code = 0
        try:
            _run(self.server)
        except BaseException:  # logged, then the master starts another
            self.server.log.exception("The ledger's maintenance process failed")
            code = 1
        finally:
            os._exit(code)

    def check(self) -> None:
        """Start another maintenance process if this one has exited (called from the master's loop)."""
        if self.stopping or not self.pid:
            return
        try:
            gone = os.waitpid(self.pid, os.WNOHANG)[0] == self.pid
        except ChildProcessError:  # already reaped by gunicorn's waitpid(-1), which takes any child
            gone = True
        if gone:
            self.server.log.warning("The ledger's maintenance process (pid: %s) exited; starting another", self.pid)
            _forget_metrics(self.pid)
            self.pid = 0
            self.spawn()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the maintenance process and wait for it (``timeout`` s, then SIGKILL)."""
        self.stopping = True
        pid, self.pid = self.pid, 0
        if not pid:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:
                break
            time.sleep(0.05)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError as exc:
                if exc.errno not in (errno.ESRCH, errno.ECHILD):
                    raise
        _forget_metrics(pid)


def _run(server: Any) -> None:
    """The maintenance process: load the workers' app with its ledger's background thread, wait for the end."""
    stop = threading.Event()
    for sig in server.SIGNALS:  # the master's handlers queue signals for its own loop: not here
        signal.signal(sig, signal.SIG_DFL)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for listener in server.LISTENERS:  # it answers nothing: the connections are the workers'
        os.close(listener.fileno())
    master = os.getppid()
    try:
        from gunicorn import util

        util._setproctitle(f"maintenance [{server.proc_name}]")
    except (ImportError, AttributeError):
        pass
    os.environ.pop(BACKGROUND, None)  # this process's ledger starts its thread
    # It answers no request, so it counts in no metric: the workers' folder holds the workers' files only.
    if "prometheus_client" not in sys.modules:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    app = server.app.wsgi()  # as a worker loads it: the same module, the same ledger
    ext = getattr(app, "extensions", {}).get("skills_sdk")
    store = ext["store"] if ext else None
    timing = None
    if store is not None:
        if os.environ.get("SKILLS_STAGE_LOG"):  # its holds and checkpoints timed (server/stages.py)
            from .stages import time_background

            timing = time_background(store)
        store.start()  # already started by create_app here; after a --preload fork, started anew
    while not stop.wait(1.0):
        if os.getppid() != master:  # the master is gone (killed): so is the server
            break
        if timing is not None:
            timing.flush()  # from here, never inside a hold of the background thread
    if store is not None:
        store.stop()
    if timing is not None:
        timing.flush()  # the process ends in os._exit: no atexit


def _forget_metrics(pid: int) -> None:
    """A maintenance process that exited leaves metric files, as a worker does (gunicorn_hooks.child_exit)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
