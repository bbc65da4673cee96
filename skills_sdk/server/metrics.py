"""``GET /metrics``: what an operator watches (requests, errors, capture, spool, losses, ledger state) for Prometheus.

Built on ``prometheus_client``. Under gunicorn every worker is its own process: with
``PROMETHEUS_MULTIPROC_DIR`` set (``skills serve --workers N`` sets it, and its gunicorn hooks in
:mod:`skills_sdk.server.gunicorn_hooks` forget workers that exit), each worker writes its numbers
to files there and a scrape of any worker reads them all.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = ["register", "bp", "Metrics"]

#: Capture is ~100 us when all is well and waits up to the busy timeout (10 s) behind a lock.
CAPTURE_BUCKETS = (50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 0.01, 0.05, 0.25, 1.0, 2.5, 10.0)


class Metrics:
    """The server's metrics; ``registry`` None (multiprocess mode) writes them to the shared folder only."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.requests = Counter("skills_requests", "HTTP requests answered, by route and status code.",
                                ["route", "status"], registry=registry)
        self.turn_errors = Counter("skills_turn_errors",
                                   "Turns whose handler or middleware raised (the user heard an apology).",
                                   ["skill"], registry=registry)
        self.capture = Histogram("skills_capture_seconds", "Time to commit one transcript row to the store.",
                                 buckets=CAPTURE_BUCKETS, registry=registry)
        self.spooled = Counter("skills_transcripts_spooled",
                               "Rows the store could not take, kept in the spool.", registry=registry)
        self.replayed = Counter("skills_transcripts_replayed",
                                "Spooled rows moved into the store.", registry=registry)
        self.lost = Counter("skills_transcripts_lost",
                            "Rows of answered turns that neither the store nor the spool took (must stay 0).",
                            registry=registry)
        self.refused = Counter("skills_turns_refused",
                               "Turns refused with 503 before their handler ran: the ledger could take no row.",
                               registry=registry)
        self.state = Gauge("skills_ledger_state", "The ledger's state: 0 ok, 1 spooling, 2 refusing "
                           "(the worst of the live workers).", registry=registry, multiprocess_mode="livemax")

    def on_ledger(self, event: str, value: float) -> None:
        """The guard's listener: ``capture`` seconds, counts of rows, and the state's index."""
        if event == "capture":
            self.capture.observe(value)
        elif event == "state":
            self.state.set(value)
        else:
            {"spooled": self.spooled, "replayed": self.replayed, "lost": self.lost,
             "refused": self.refused}[event].inc(value)


class _SpoolCollector(Collector):
    """The spool as the disk holds it, read at scrape time: the same for every worker."""

    def __init__(self, spool: Any) -> None:
        self.spool = spool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("skills_spool_rows", "Rows waiting in the spool for the store.",
                                value=self.spool.pending())
        yield GaugeMetricFamily("skills_spool_refused_rows", "Spooled rows the ledger refused for what they hold, "
                                "kept beside the spool until `skills transcripts replay --refused`.",
                                value=self.spool.refused.count())
        reserve = self.spool.reserve
        if reserve is not None:
            yield GaugeMetricFamily("skills_spool_reserve_bytes", "Disk space the spool's reserve holds now.",
                                    value=reserve.held())
            yield GaugeMetricFamily("skills_spool_reserve_size_bytes", "The reserve's full size.",
                                    value=reserve.size)


class _SettledFiles(MultiProcessCollector):
    """Every process's metric files, less any a process is making at this instant.

    A process makes its file empty, then sizes it: prometheus_client's reader fails on the empty
    file (a scrape answered 500 when a worker or the maintenance process made one meanwhile). An
    empty file holds no sample yet: it is left for the next scrape.
    """

    def collect(self) -> Iterator[Any]:
        files = []
        for path in glob.glob(os.path.join(self._path, "*.db")):
            try:
                if os.stat(path).st_size > 0:
                    files.append(path)
            except FileNotFoundError:  # a dead process's live gauges, removed meanwhile
                pass
        return self.merge(files, accumulate=True)


bp = Blueprint("metrics", __name__)


def register(app: Flask) -> None:
    """Add ``GET /metrics`` and the hooks that count requests, turn errors and the ledger's events.

    ``SKILLS_METRICS=False`` in the app config leaves it out.
    """
    if not app.config.get("SKILLS_METRICS", True):
        return
    ext = app.extensions["skills_sdk"]
    multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    own = None if multiprocess else CollectorRegistry()
    metrics = Metrics(own)
    ext["metrics"] = metrics
    guard = ext.get("guard")
    if guard is not None:
        guard.listeners.append(metrics.on_ledger)
    metrics.state.set(0)
    for name in ext["host"].skills:  # at 0 from the start: an alert on its rate needs the series before the first error
        metrics.turn_errors.labels(name)
    spool = ext.get("spool")

    # Each (route, status) counter is looked up once: ``labels()`` takes a lock and builds a key per call.
    counters: dict[tuple[str, int], Any] = {}

    def count(exchange: Any) -> None:
        key = (exchange.route, exchange.status)
        counter = counters.get(key)
        if counter is None:
            counter = counters[key] = metrics.requests.labels(exchange.route, str(exchange.status))
        counter.inc()
        turn = exchange.turn
        if turn is not None and turn.meta.get("transcript", {}).get("status") == "error":
            metrics.turn_errors.labels(turn.skill.name).inc()

    ext["observers"].append(count)

    if own is not None and spool is not None:
        own.register(_SpoolCollector(spool))
    ext["metrics_registry"] = own
    app.register_blueprint(bp)


@bp.get("/metrics")
def scrape() -> Response:
    ext = current_app.extensions["skills_sdk"]
    registry = ext["metrics_registry"]
    if registry is None:  # every worker's files, read now
        registry = CollectorRegistry()
        _SettledFiles(registry)
        if ext.get("spool") is not None:
            registry.register(_SpoolCollector(ext["spool"]))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
