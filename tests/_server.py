"""Running ``skills serve`` in a subprocess on a free loopback port, for the end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The ``skills`` script of the venv running the tests.
SKILLS = str(pathlib.Path(sys.executable).with_name("skills"))


def alive(pid: int) -> bool:
    """True while a process ``pid`` exists (a zombie too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Sets a file-size limit, then becomes the command: a limit set by the child before exec, not by a
# ``preexec_fn``, which can deadlock in a child forked from the test process's many threads.
_WITH_FSIZE = ("import os, resource, sys; "
               "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY)); "
               "os.execv(sys.argv[2], sys.argv[2:])")


def start(args: list[str], port: int, *, env: Mapping[str, str] | None = None, timeout: float = 30,
          cwd: os.PathLike[str] | str | None = None, fsize_limit: int | None = None,
          **popen: Any) -> subprocess.Popen:
    """Start ``skills <args> --port PORT`` (in ``cwd``) and wait until /healthz answers; raise with its output if it dies.

    ``fsize_limit`` caps, in bytes, any file the server writes (``RLIMIT_FSIZE``: past it a write
    fails with EFBIG). ``popen`` goes to :class:`subprocess.Popen` (``user=``, ``stdout=`` a file for
    a server that logs more than a pipe holds).
    """
    out = popen.pop("stdout", subprocess.PIPE)
    command = [SKILLS, *args, "--port", str(port)]
    if fsize_limit is not None:
        command = [sys.executable, "-c", _WITH_FSIZE, str(fsize_limit), *command]
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                            env={**(env if env is not None else os.environ), "PYTHONUNBUFFERED": "1"}, cwd=cwd,
                            **popen)
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                said = proc.stdout.read().decode() if proc.stdout else f"(its output went to {out})"
                raise RuntimeError(f"skills {' '.join(args)} did not start: {said}") from None
            time.sleep(0.1)


def wait_until(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something true, and return that; past ``timeout`` s, fail naming ``what``.

    A test waits on the event it needs this way, never on a fixed sleep: no flake under load, no time lost.
    """
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.01)
    return found


class Done:
    """A finished ``skills`` command: its exit status and what it printed (stdout, then stderr)."""

    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.returncode, self.out = proc.returncode, proc.stdout + proc.stderr


def command(args: list[str], env: Mapping[str, str] | None = None) -> Done:
    """Run ``skills <args>`` to its end in a process of its own, as an operator would.

    Not in the test's process: a ledger a command leaves open there shares the process's POSIX
    locks with the test's own sqlite3 connections, and closing one of those drops them all.
    """
    return Done(subprocess.run([SKILLS, *args], capture_output=True, text=True, env=env, timeout=600))


def stop(proc: subprocess.Popen) -> None:
    """Terminate ``proc`` (SIGTERM, then SIGKILL after 10 s) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def serving(db: os.PathLike[str] | str, *, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """``skills serve --db DB`` on a free port for the ``with`` block; yields its base URL."""
    port = free_port()
    proc = start(["serve", "--db", str(db)], port, env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def post(url: str, body: bytes) -> tuple[int, dict]:
    """POST JSON bytes; returns the status and the decoded JSON answer (errors included)."""
    import json
    import urllib.error

    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Partner(ThreadingHTTPServer):
    """A partner API on loopback: answers POST /v1/orders with a fresh order id and remembers what it was sent."""

    daemon_threads = True

    def __init__(self) -> None:
        self.orders: list[dict] = []
        super().__init__(("127.0.0.1", 0), _PartnerHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _PartnerHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.orders.append({"path": self.path, **body})
        out = json.dumps({"id": f"B-{len(self.server.orders)}"}).encode()
        self.send_response(201 if self.path == "/v1/orders" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def loopback_partner() -> Iterator[Partner]:
    """A :class:`Partner` serving on a thread for the ``with`` block."""
    server = Partner()
    # It checks for shutdown() every 0.05 s, not socketserver's 0.5 s, which each test's teardown waited out.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
