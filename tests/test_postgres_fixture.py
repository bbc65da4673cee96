"""The tests' throw-away PostgreSQL lives no longer than the pytest that started it, however that pytest ends."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from _postgres import find_bindir
from _server import alive

TESTS = pathlib.Path(__file__).parent

# One test that starts a cluster as the suite's fixture does, says where it is, and waits to be killed.
HOLDER = f'''
import os, pathlib, sys, time
sys.path.insert(0, {str(TESTS)!r})
import pytest
from _postgres import Cluster, find_bindir

@pytest.fixture(scope="session")
def cluster():
    c = Cluster(find_bindir()).start()
    yield c
    c.stop()

def test_hold(cluster):
    at = pathlib.Path(os.environ["HOLD_AT"])
    at.with_suffix(".part").write_text(cluster.data)
    at.with_suffix(".part").replace(at)  # whole or absent: the waiting test may read it at any moment
    time.sleep(300)
'''


@pytest.mark.skipif(find_bindir() is None, reason="PostgreSQL's server programs are not installed")
def test_a_pytest_killed_mid_test_takes_its_postgresql_with_it(tmp_path):
    (tmp_path / "test_hold.py").write_text(HOLDER)
    where = tmp_path / "data-dir"
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                           cwd=tmp_path, env={**os.environ, "HOLD_AT": str(where)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not where.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert where.exists(), "the held test never started its cluster"
        data = pathlib.Path(where.read_text())
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        assert alive(postmaster)
    finally:
        run.send_signal(signal.SIGKILL)  # no teardown runs: only the watchdog can stop the server
        run.wait()
    deadline = time.monotonic() + 60
    while alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(postmaster), "the PostgreSQL server outlived the pytest that started it"
    deadline = time.monotonic() + 60  # the watchdog stops the server first, then removes its folder
    while data.parent.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not data.parent.exists()


def test_each_fresh_database_is_its_own_copy_of_its_template(postgres_cluster):
    import psycopg

    template = postgres_cluster.ledger_template()
    urls = [postgres_cluster.create_database(template=template) for _ in range(3)]
    empty = postgres_cluster.create_database()
    try:
        assert len(set(urls)) == 3 and empty not in urls
        for i, url in enumerate(urls):  # a copy made ahead by the spares' thread, or at once: each its own
            with psycopg.connect(url, autocommit=True) as conn:
                assert conn.execute("SELECT count(*) FROM transcripts").fetchone()[0] == 0
                conn.execute("CREATE TABLE mine (i int)")
                conn.execute("INSERT INTO mine VALUES (%s)", (i,))
        for i, url in enumerate(urls):
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT i FROM mine").fetchall() == [(i,)]
        with psycopg.connect(empty) as conn:  # template0's copies are empty, whatever the ledger's hold
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
        postgres_cluster.drop_database(empty, later=True)  # as the fixtures drop theirs: on the spares' thread
        name = empty.split("/")[3].split("?")[0]
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
            exists = lambda: conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()  # noqa: E731
            deadline = time.monotonic() + 60
            while exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not exists()
    finally:
        for url in [*urls, empty]:
            postgres_cluster.drop_database(url)
