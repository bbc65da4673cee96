"""A throw-away PostgreSQL cluster for the tests: initdb, pg_ctl, a Unix socket in a temp folder, no TCP."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid

__all__ = ["Cluster", "find_bindir", "search_pages"]

#: Where a cluster's folder goes when it is writable with ROOM free (a tmpfs on Linux), else the temp folder.
MEMORY = "/dev/shm"
#: A run's cluster takes ~100 MB and its WAL may grow to max_wal_size (1 GB): a container's 64 MB
#: /dev/shm would fill, so a smaller one is not used.
ROOM = 2 << 30


def _memory_folder() -> str | None:
    """MEMORY when it is writable and has ROOM free, else None (tempfile's own folder)."""
    try:
        fs = os.statvfs(MEMORY)
    except OSError:
        return None
    return MEMORY if os.access(MEMORY, os.W_OK) and fs.f_bavail * fs.f_frsize >= ROOM else None


def search_pages(ledger, text: str, where=None, **scope) -> list[dict]:
    """Every row ``ledger.search`` finds, page after page (``scope``: developer_id or user_id, limit)."""
    found, before = [], None
    while True:
        rows, before = ledger.search(text, where, before_id=before, **scope)
        found += rows
        if before is None:
            return found


def find_bindir() -> str | None:
    """The folder of PostgreSQL's server programs, or None when none is installed.

    Debian keeps them off PATH (``/usr/lib/postgresql/15/bin``): ``pg_config --bindir`` names the
    folder; without ``pg_config``, the newest ``/usr/lib/postgresql/*/bin``, then PATH.
    """
    found = shutil.which("pg_config")
    if found:
        try:
            out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            out = ""
        if out and os.access(os.path.join(out, "initdb"), os.X_OK):
            return out
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if debian:
        return os.path.dirname(debian[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


class Cluster:
    """One PostgreSQL server in a temp folder, listening only on a Unix socket there.

    >>> cluster = Cluster(find_bindir()).start()      # doctest: +SKIP
    >>> url = cluster.create_database()                # a fresh, empty database's URL

    PostgreSQL refuses to run as root, so under root its programs run as the ``postgres`` user
    (``runuser``) and the folder belongs to that user. ``fsync`` is off: the cluster lives as long
    as the test run, and nothing here tests power loss (a committed row is still committed). For the
    same reason the folder is in memory where Linux offers room (``/dev/shm``): on this disk a copy of
    the ledger's template database (300 files) took 0.8-0.9 s, in memory 0.16-0.3 s, and a test that
    uses PostgreSQL makes one or two.
    """

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.watchdog: subprocess.Popen[bytes] | None = None
        self._spares: _Spares | None = None
        self.root = tempfile.mkdtemp(prefix="skills-pg-", dir=_memory_folder())
        self.data = os.path.join(self.root, "data")
        self.socket_dir = os.path.join(self.root, "sock")
        self.log = os.path.join(self.root, "server.log")
        self.as_root = os.geteuid() == 0
        os.makedirs(self.socket_dir)
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [os.path.join(self.bindir, program), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            log = open(self.log).read()[-3000:] if os.path.exists(self.log) else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{log}")
        return done

    def start(self) -> Cluster:
        """initdb and start the server; returns self once it accepts connections."""
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        options = (f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off -c full_page_writes=off "
                   "-c max_connections=200 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", options, "start")
        self._watch()
        return self

    def _watch(self) -> None:
        """Tie the server's life to this process's: a watchdog stops it when this process dies, however.

        The watchdog reads a pipe whose only writer is this process: the kernel closes it when the
        process ends (a finished run, a timeout's SIGKILL, a crash), and end-of-file stops the server
        and removes its folder. Its own session keeps a terminal's Ctrl-C from reaching it first.
        """
        self.watchdog = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--watch", self.bindir,
                                          self.root, "1" if self.as_root else "0"],
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)

    def url(self, dbname: str = "postgres") -> str:
        """A libpq URL for ``dbname`` over this cluster's socket."""
        return f"postgresql://postgres@/{dbname}?host={self.socket_dir}"

    def create_database(self, name: str | None = None, *, template: str = "template0") -> str:
        """Create a database (a fresh name unless given) as a copy of ``template`` (empty by default); its URL.

        Without a name, the copy is one a thread made while the previous test ran (a copy takes
        0.2-0.3 s, most of a small test's setup), when it is ready; the thread then makes the next.
        """
        if name is None:
            if self._spares is None:
                self._spares = _Spares(self)
            name = self._spares.take(template)
            if name is not None:
                return self.url(name)
        return self.url(self._copy(template, name))

    def _copy(self, template: str, name: str | None = None, conn=None) -> str:
        name = name or "t_" + uuid.uuid4().hex[:12]
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY file_copy', conn)
        return name

    def _admin(self, statement: str, conn=None) -> None:
        """Run ``statement`` on the ``postgres`` database: on ``conn`` when given, else on a connection of its own."""
        import psycopg

        if conn is not None:
            conn.execute(statement)
            return
        with psycopg.connect(self.url(), autocommit=True) as own:
            own.execute(statement)

    def ledger_template(self) -> str:
        """A database holding the ledger's schema and this week's partitions, made once, to copy per test.

        A copy is a file copy; migrating and partitioning each test's database took most of its setup.
        It holds no keys and no secret: every ledger opened on a copy makes its own.
        """
        if getattr(self, "_template", None) is None:
            import psycopg

            from skills_sdk.transcripts.postgres import schema

            url = self.create_database("ledger_template")
            with psycopg.connect(url, autocommit=True) as conn:
                schema.migrate(conn)
                with conn.transaction():
                    schema.ensure_days(conn, schema.ahead())
            self._template = "ledger_template"
        return self._template

    def drop_database(self, url: str, *, later: bool = False) -> None:
        """Drop the database of ``url`` (made by :meth:`create_database`), ending its sessions.

        ``later``: the spares' thread drops it once it has made the next copies (a test's teardown
        need not wait).
        """
        name = url.split("/")[3].split("?")[0]
        if later and self._spares is not None:
            self._spares.drop(name)
            return
        self._drop(name)

    def _drop(self, name: str, conn=None) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', conn)

    def basebackup(self, dest: str) -> str:
        """A base backup (``pg_basebackup``, WAL streamed) of the whole cluster into ``dest``; returns it."""
        subprocess.run([os.path.join(self.bindir, "pg_basebackup"), "-h", self.socket_dir, "-U", "postgres",
                        "-D", dest, "-X", "stream", "-c", "fast", "--no-sync"],
                       check=True, capture_output=True, text=True)
        return dest

    @classmethod
    def from_backup(cls, bindir: str, backup: str) -> Cluster:
        """A second server started on a copy of a base backup (recovery replays the backup's WAL)."""
        cluster = cls(bindir)
        shutil.copytree(backup, cluster.data)
        os.chmod(cluster.data, 0o700)
        if cluster.as_root:
            subprocess.run(["chown", "-R", "postgres:postgres", cluster.data], check=True)
        options = f"-k {cluster.socket_dir} -c listen_addresses='' -c fsync=off"
        cluster._run("pg_ctl", "-D", cluster.data, "-l", cluster.log, "-w", "-t", "60", "-o", options, "start")
        cluster._watch()
        return cluster

    def stop(self) -> None:
        """Stop the server at once and remove its folder (and let its watchdog go)."""
        if self._spares is not None:
            self._spares.close()
        try:
            _stop(self.bindir, self.root, self.as_root)
        finally:
            if self.watchdog is not None:
                self.watchdog.stdin.close()  # type: ignore[union-attr]
                self.watchdog.wait(timeout=30)
                self.watchdog = None


class _Spares:
    """One copy of each template a test asked for, made ahead on a thread, for the next test that asks.

    A test takes the copy and the thread starts the next, so the copy is made while that test runs
    (on the other core, in the server). One copy at a time: a test that asks while its template's
    copy is being made waits for it rather than make a second beside it. A copy that failed is
    made again by the test that asks, which sees the error. Between copies the thread drops the
    databases tests are done with. It keeps one connection open for all of it: a connection closed
    on the thread would free a low descriptor in the middle of a test (one that fills descriptors
    up to 1,100 to get a socket past 1024 was given the freed one).
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.cond = threading.Condition()
        self.ready: dict[str, str] = {}  # template -> a copy's name
        self.wanted: list[str] = []  # templates to copy, in order
        self.making: str | None = None
        self.drops: list[str] = []  # databases to drop when no copy is wanted
        self.closed = False
        self.conn = None  # the thread's one connection, opened at its first task
        self.thread = threading.Thread(target=self._run, name="postgres-spares", daemon=True)
        self.thread.start()

    def take(self, template: str) -> str | None:
        """A ready copy of ``template`` (None when there is none yet); the next copy is wanted."""
        with self.cond:
            while self.making == template:
                self.cond.wait()
            name = self.ready.pop(template, None)
            if template not in self.wanted:
                self.wanted.append(template)
                self.cond.notify_all()
            return name

    def drop(self, name: str) -> None:
        """Drop the database ``name`` on the thread, after the copies wanted."""
        with self.cond:
            self.drops.append(name)
            self.cond.notify_all()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.wanted and not self.drops and not self.closed:
                    self.cond.wait()
                if self.closed:
                    return
                template = self.making = self.wanted.pop(0) if self.wanted else None
                dropping = None if template else self.drops.pop(0)
            if dropping is not None:
                try:
                    self.cluster._drop(dropping, self._connection())
                except Exception:  # the server stopped: nothing is left to drop
                    pass
                continue
            try:
                name = self.cluster._copy(template, conn=self._connection())
            except Exception:  # the server stopped, or the template is in use: the test's own copy says why
                name = None
            with self.cond:
                if name is not None:
                    self.ready[template] = name
                self.making = None
                self.cond.notify_all()

    def _connection(self):
        import psycopg

        if self.conn is None or self.conn.closed:  # first use, or the server ended it
            self.conn = psycopg.connect(self.cluster.url(), autocommit=True)
        return self.conn

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.thread.join(timeout=60)
        if self.conn is not None:
            self.conn.close()


def _stop(bindir: str, root: str, as_root: bool) -> None:
    """Stop the server whose folder is ``root`` (if it runs) at once, and remove the folder."""
    data = os.path.join(root, "data")
    try:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            cmd = [os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]
            subprocess.run(["runuser", "-u", "postgres", "--", *cmd] if as_root else cmd, capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--watch"]:
    # The watchdog (see Cluster._watch): wait for the pipe to close, then stop the server.
    _, _, bindir, root, as_root = sys.argv
    sys.stdin.buffer.read()
    _stop(bindir, root, as_root == "1")
