"""Opt-in stage times of every Alexa request, and of the ledger's background work: where the slowest wait.

Off unless ``SKILLS_STAGE_LOG`` names a folder when the app is built: then nothing here is imported
and no request pays for it. On, each serving process appends one line per request to
``DIR/worker-<pid>.jsonl`` (in batches, and when it exits) with, in nanoseconds of the system's
monotonic clock (``time.perf_counter_ns``, the same in every process)::

    [start, wall, read, answer, handle, record, lock_wait, lock_held, respond, observe,
     cpu, gc, gc_generation, voluntary_switches, involuntary_switches, gap, lock_at, others]

``answer`` is the body parsed, checked and the turn handled (``handle``: the envelope loaded, the
skill, the row built and ``record``: the row's digest, its wait for the write lock ``lock_wait``
and the transaction under it ``lock_held``, its ``COMMIT`` and WAL write among it); ``respond`` the
reply encoded and its status line started; ``observe`` the access line and the metrics. ``cpu`` is
the thread's CPU, ``gc`` the cyclic collector's time inside the request (its oldest generation, -1
for none), the switches the thread's (``getrusage``), ``gap`` the time since this process's last
request ended (gunicorn's accept and parse, and time off the CPU), ``lock_at`` when it took the
write lock (0: it did not), ``others`` the CPU of the process's other threads meanwhile (the
guard's probe, the write lock's waiting thread, a checkpointer).

The maintenance process (server/maintenance.py) writes ``DIR/background-<pid>.jsonl``, once a
second and at exit: one ``[kind, start, wall, cpu, what]`` per write-lock hold (``lock``:
an indexing slice, a scrub, the WAL bound's checkpoint; ``what`` is the function and line that
took it) and per checkpoint (``checkpoint``).
``bench/http_stages.py`` runs gunicorn with it and says what the slowest requests overlapped.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ENV", "enabled", "StageLog", "timed_endpoint", "time_background"]

#: The environment variable that turns the stage times on: the folder they are written to.
ENV = "SKILLS_STAGE_LOG"


def enabled() -> bool:
    return bool(os.environ.get(ENV))


class StageLog:
    """One process's records, appended to ``DIR/<role>-<pid>.jsonl`` every ``batch`` records and at exit."""

    def __init__(self, role: str, batch: int = 2000) -> None:
        self.folder = os.environ[ENV]
        self.role = role
        self.batch = batch
        self.rows: list[list[Any]] = []
        self.pid = os.getpid()
        self.lock = threading.Lock()
        atexit.register(self.flush)

    def add(self, row: list[Any]) -> None:
        with self.lock:
            if os.getpid() != self.pid:  # a fork's child writes its own file
                self.rows, self.pid = [], os.getpid()
            self.rows.append(row)
            full = len(self.rows) >= self.batch
        if full:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            rows, self.rows = self.rows, []
        if rows and os.getpid() == self.pid:
            os.makedirs(self.folder, exist_ok=True)
            with open(os.path.join(self.folder, f"{self.role}-{self.pid}.jsonl"), "a") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)


class _Now:
    """What the request running in this process has accumulated so far (one request at a time: sync workers)."""

    __slots__ = ("gc", "gc_gen", "gc_t", "lock_wait", "lock_held", "held_at", "handle", "record", "last_end", "lock_at")

    def __init__(self) -> None:
        self.reset()
        self.last_end = 0

    def reset(self) -> None:
        self.gc = self.lock_wait = self.lock_held = self.handle = self.record = 0
        self.gc_gen, self.gc_t, self.held_at, self.lock_at = -1, 0, 0, 0


def _wrap_timed(obj: Any, name: str, add: Callable[[int], None]) -> None:
    """Replace ``obj.name`` (a method) on the instance with one that adds its wall time through ``add``."""
    inner = getattr(obj, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return inner(*args, **kwargs)
        finally:
            add(time.perf_counter_ns() - t0)

    setattr(obj, name, timed)


def timed_endpoint(endpoint: Any, ext: dict[str, Any]) -> Callable[..., Iterable[bytes]]:
    """``endpoint`` (an :class:`~.alexa.AlexaEndpoint`) with each request's stages timed into ``worker-<pid>.jsonl``."""
    log = StageLog("worker", batch=200_000)  # written at exit: no request waits for the file
    now = _Now()
    main = threading.get_ident()

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if threading.get_ident() != main:
            return
        if phase == "start":
            now.gc_t = time.perf_counter_ns()
        elif now.gc_t:
            now.gc += time.perf_counter_ns() - now.gc_t
            now.gc_gen = max(now.gc_gen, info["generation"])

    gc.callbacks.append(on_gc)

    def add_handle(ns: int) -> None:
        now.handle += ns

    def add_record(ns: int) -> None:
        now.record += ns

    _wrap_timed(ext["host"], "handle", add_handle)
    if ext.get("guard") is not None:
        _wrap_timed(ext["guard"], "record", add_record)
    _time_write_lock(ext["store"], now, main)
    marks: dict[str, int] = {}
    answer = endpoint.answer

    def timed_answer(*args: Any, **kwargs: Any) -> Any:
        marks["answer"] = time.perf_counter_ns()
        try:
            return answer(*args, **kwargs)
        finally:
            marks["answered"] = time.perf_counter_ns()

    endpoint.answer = timed_answer

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def started(*args: Any, **kwargs: Any) -> Any:
            marks["responded"] = time.perf_counter_ns()
            return start_response(*args, **kwargs)

        now.reset()
        marks.clear()
        r0 = resource.getrusage(resource.RUSAGE_THREAD)
        t0, c0, p0 = time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()
        out = endpoint(environ, started)
        t1, c1, p1 = time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()
        r1 = resource.getrusage(resource.RUSAGE_THREAD)
        if "answered" in marks and "responded" in marks:  # an Alexa request (anything else went on to Flask)
            a0, a1, responded = marks["answer"], marks["answered"], marks["responded"]
            log.add([t0, t1 - t0, a0 - t0, a1 - a0, now.handle, now.record, now.lock_wait, now.lock_held,
                     responded - a1, t1 - responded, c1 - c0, now.gc, now.gc_gen, r1.ru_nvcsw - r0.ru_nvcsw,
                     r1.ru_nivcsw - r0.ru_nivcsw, t0 - now.last_end if now.last_end else 0, now.lock_at,
                     (p1 - p0) - (c1 - c0)])
        now.last_end = t1
        return out

    app.stage_log = log  # type: ignore[attr-defined]
    return app


def _time_write_lock(store: Any, now: _Now, thread: int) -> None:
    """Time a request's wait for the ledger's write lock and the transaction it holds it for (SQLite ledgers).

    Only ``thread``'s (the requests'): the ledger's own threads (a checkpoint, the indexer) take the
    same lock meanwhile, and their waits are not the request's.
    """
    take, release = getattr(store, "take_write_lock", None), getattr(store, "release_write_lock", None)
    if take is None or release is None:
        return

    def timed_take(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != thread:
            return take(*args, **kwargs)
        t0 = time.perf_counter_ns()
        fd = take(*args, **kwargs)
        now.held_at = time.perf_counter_ns()
        now.lock_wait += now.held_at - t0
        now.lock_at = now.lock_at or now.held_at
        return fd

    def timed_release(fd: int) -> None:
        try:
            release(fd)
        finally:
            if now.held_at and threading.get_ident() == thread:
                now.lock_held += time.perf_counter_ns() - now.held_at
                now.held_at = 0

    store.take_write_lock, store.release_write_lock = timed_take, timed_release


def time_background(store: Any) -> StageLog:
    """Record each write-lock hold and checkpoint of ``store``'s background work into ``background-<pid>.jsonl``."""
    # Written by the caller (the maintenance process, once a second and at exit), never from the
    # background thread: a file write there could fall inside a hold and lengthen what is measured.
    log = StageLog("background", batch=1 << 62)
    take, release, checkpoint = (getattr(store, n, None) for n in ("take_write_lock", "release_write_lock", "checkpoint"))
    held: dict[int, tuple[int, int, str]] = {}

    if take is not None and release is not None:
        def timed_take(*args: Any, **kwargs: Any) -> Any:
            fd = take(*args, **kwargs)
            held[threading.get_ident()] = (time.perf_counter_ns(), time.thread_time_ns(), _taker(sys._getframe(1)))
            return fd

        def timed_release(fd: int) -> None:
            try:
                release(fd)
            finally:
                got = held.pop(threading.get_ident(), None)
                if got is not None:
                    log.add(["lock", got[0], time.perf_counter_ns() - got[0], time.thread_time_ns() - got[1], got[2]])

        store.take_write_lock, store.release_write_lock = timed_take, timed_release
    if checkpoint is not None:
        def timed_checkpoint(*args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            try:
                return checkpoint(*args, **kwargs)
            finally:
                log.add(["checkpoint", t0, time.perf_counter_ns() - t0, time.thread_time_ns() - c0,
                         _taker(sys._getframe(1))])

        store.checkpoint = timed_checkpoint
    return log


def _taker(frame: Any) -> str:
    """``function:line`` of the ledger's code that took the lock or checkpointed: past ``writing`` and contextlib."""
    while frame is not None and (frame.f_code.co_name == "writing" or frame.f_code.co_filename.endswith("contextlib.py")):
        frame = frame.f_back
    return f"{frame.f_code.co_name}:{frame.f_lineno}" if frame is not None else "?"
