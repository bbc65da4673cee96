"""The WAL's frames are copied from a mapping of the file, not read one system call each; a failing disk is still an error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

# Two connections of one process through the ledger's VFS: each commit of the writer empties the
# reader's page cache (another connection committed), so each read after it reads its pages again,
# from the WAL (autocheckpoint off: nothing is copied back into the database file meanwhile).
PAIR = r"""
import os, sys
from skills_sdk.transcripts.sqlite.driver import open_uri, sqlite3

def reads():
    with open("/proc/thread-self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("syscr"))

db = sys.argv[1]
sqlite3.connect(db).close()  # the ledger's URI opens a file that is there (mode=rw)
writer = sqlite3.connect(open_uri(db), uri=True, isolation_level=None)
reader = sqlite3.connect(open_uri(db), uri=True, isolation_level=None)
writer.execute("PRAGMA journal_mode = WAL")
for conn in (writer, reader):
    conn.execute("PRAGMA wal_autocheckpoint = 0")
writer.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, user TEXT, v TEXT)")
writer.execute("CREATE INDEX t_user ON t (user)")
"""

COUNT = PAIR + r"""
mark = reads()
own = reads() - mark  # the read calls of looking at the count itself
calls = 0
for i in range(300):
    writer.execute("INSERT INTO t (user, v) VALUES (?, ?)", (f"u{i % 37}", f"value {i} " + "x" * (i % 900)))
    before = reads()
    got = reader.execute("SELECT v FROM t WHERE k = ?", (i + 1,)).fetchone()[0]
    n = reader.execute("SELECT count(*) FROM t WHERE user = ?", (f"u{i % 37}",)).fetchone()[0]
    calls += reads() - before - own
    assert got.startswith(f"value {i} ") and n == i // 37 + 1, (i, got, n)
assert reader.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
print(calls)
"""

# The WAL cut to nothing behind SQLite's back (what no SQLite connection does while a reader may read
# its frames): the reader's next read of a frame is past the file's end. pread() returns nothing
# there; the mapping raises SIGBUS, which the copy must catch and turn into the same outcome.
CUT = PAIR + r"""
for i in range(50):
    writer.execute("INSERT INTO t (user, v) VALUES (?, ?)", (f"u{i}", "y" * 500))
print(reader.execute("SELECT count(*) FROM t").fetchone()[0], flush=True)  # the reader's frames mapped
writer.execute("INSERT INTO t (user, v) VALUES ('last', 'z')")  # its page cache now stale
os.truncate(db + "-wal", 0)
try:
    print(reader.execute("SELECT count(*), sum(length(v)) FROM t").fetchone())
except sqlite3.DatabaseError as exc:
    print(type(exc).__name__, exc)
print("alive", flush=True)
"""

# A SIGBUS that is not the copy's (a mapping of Python's own, past its file's end) still ends the
# process as it would without the ledger's handler.
FOREIGN = CUT.replace('print("alive", flush=True)', r'''
import mmap
with open(db + ".other", "wb") as f:
    f.write(b"a" * 8192)
f = open(db + ".other", "r+b")
m = mmap.mmap(f.fileno(), 8192)
os.truncate(db + ".other", 0)
print("touching", flush=True)
m[4096]
print("not reached", flush=True)
''')


def child(code: str, db: str, reads: str | None = None, faulthandler: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SKILLS_WAL_READS"}
    if reads is not None:
        env["SKILLS_WAL_READS"] = reads
    flags = ["-X", "faulthandler"] if faulthandler else []
    return subprocess.run([sys.executable, *flags, "-c", code, db], env=env, capture_output=True, text=True, timeout=120)


def test_a_reader_copies_the_frames_another_connection_committed_without_a_read_call_each(vfs, tmp_path):
    mapped = child(COUNT, str(tmp_path / "mapped.db"))
    preads = child(COUNT, str(tmp_path / "pread.db"), reads=" PREAD ")  # read as SKILLS_WAL_WRITES is: any case, spaces
    assert mapped.returncode == 0 and preads.returncode == 0, mapped.stderr + preads.stderr
    # pread(): every page read again is a system call (two lookups after each of 300 commits);
    # mapped: none (the database file's own pages stay in the reader's cache: the WAL holds every change)
    assert int(preads.stdout) >= 600
    assert int(mapped.stdout) <= 10


def test_a_wal_cut_under_a_reader_gives_the_error_pread_gives_not_a_crash(vfs, tmp_path):
    results = []
    for reads in (None, "pread"):
        for faulthandler in (False, True):  # Python's fatal-error handler on SIGBUS before the ledger's
            done = child(CUT, str(tmp_path / f"cut-{reads}-{faulthandler}.db"), reads, faulthandler)
            assert done.returncode == 0, done.stderr
            lines = done.stdout.splitlines()
            assert lines[0] == "50" and lines[-1] == "alive"
            results.append(lines[1])
    assert len(set(results)) == 1, results  # the mapping's outcome is pread()'s
    assert not results[0].startswith("(51,")  # the cut frames were not read as if there


def test_a_sigbus_that_is_not_the_copys_still_ends_the_process(vfs, tmp_path):
    done = child(FOREIGN, str(tmp_path / "foreign.db"))
    assert "touching" in done.stdout and "not reached" not in done.stdout
    assert done.returncode == -signal.SIGBUS, (done.returncode, done.stderr)
    with_handler = child(FOREIGN, str(tmp_path / "foreign-fh.db"), faulthandler=True)
    assert with_handler.returncode == -signal.SIGBUS
    assert "Bus error" in with_handler.stderr  # faulthandler's own report: the chain reached it



# A capturing process, as a gunicorn worker: its ledger's own reads (the capture mode, the state)
# and the pages it reads again after each commit of the other processes come from the mapping.
WRITER = r"""
import os, sys
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger
ledger = SQLiteLedger(sys.argv[1])
name, stop = sys.argv[2], sys.argv[3]
for i in range(10**7):
    if i >= 200 and i % 50 == 0 and os.path.exists(stop):  # until the test has cut the WAL under both often enough
        break
    user = f"u{i % 40}"
    ledger.capture_mode(user)
    rid = ledger.record({"developer_id": f"dev-{i % 3}", "skill": "s", "user_id": user, "session_id": f"{name}{i}",
                         "request_id": f"{name}-{i}", "speech": f"{name} said {i} " + "w" * (i % 1500)})
    print(rid, user, flush=True)
ledger.close()
"""


def test_two_capturing_processes_and_erasures_cutting_the_wal_keep_every_row(vfs, tmp_path):
    from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger

    db = str(tmp_path / "t.db")
    ledger = SQLiteLedger(db)  # the file, its schema, its WAL written out to its working size
    stop = tmp_path / "stop"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db, name, str(stop)], stdout=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    erased: set[str] = set()
    cut_under_writers = 0
    try:
        first = [p.stdout.readline() for p in procs]  # both writing (and their WAL mapped) before the first cut
        # Each erasure ends with a TRUNCATE checkpoint: the WAL cut to nothing while both writers hold
        # mappings of it (the mapping must then copy only frames the cut file holds again). The writers
        # go on until told to stop, so a loaded machine (few scrubs done, slow erasures) still gets
        # its cuts under both: 120 erasures at least, and on until 10 cuts or 120 s.
        deadline, n = time.monotonic() + 120, 0
        while (n < 120 or cut_under_writers < 10) and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), "a writer stopped before it was told to"
            user = f"u{n % 40}"  # each user erased again after more turns were captured
            receipt = ledger.erase_user(user, check=False)
            erased.add(user)
            cut_under_writers += bool(receipt["scrubbed"])
            n += 1
            time.sleep(0.01)
        stop.touch()
        assert cut_under_writers >= 3, f"only {cut_under_writers} WAL cuts while both wrote: the test proves nothing"
        outs = [line + p.stdout.read() for line, p in zip(first, procs, strict=True)]  # what readline() buffered too
        for p in procs:
            p.wait(timeout=300)
        assert [p.returncode for p in procs] == [0, 0]
        replied = [line.split() for out in outs for line in out.splitlines()]
        assert len(replied) >= 400 and all(len(r) == 2 for r in replied)  # 200 each at least, every one told
        kept = {r[0] for r in ledger.conn.execute("SELECT id FROM transcripts")}
        # Every row a writer was told of is there, but those of users erased after it was written.
        missing = {int(rid) for rid, user in replied if int(rid) not in kept and user not in erased}
        assert missing == set()
        assert ledger.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert ledger.verify_chain().ok
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
        ledger.close()


def test_a_skills_wal_reads_value_it_does_not_know_is_refused_naming_the_variable(tmp_path):
    # refused when the ledger opens (a server's start), not at its first capture
    code = "import sys; from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger; SQLiteLedger(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.db")],
                          env=dict(os.environ, SKILLS_WAL_READS="mmap"), capture_output=True, text=True)
    assert done.returncode != 0
    assert "SKILLS_WAL_READS must be 'mapped' or 'pread' ('mapped' is the default), got 'mmap'" in done.stderr
    writes = subprocess.run([sys.executable, "-c", code, str(tmp_path / "w.db")],
                            env=dict(os.environ, SKILLS_WAL_WRITES="one"), capture_output=True, text=True)
    assert writes.returncode != 0  # accepted as the default before, like any word but "each"
    assert "SKILLS_WAL_WRITES must be 'together' or 'each' ('together' is the default), got 'one'" in writes.stderr
    for value in (" Pread ", "mapped", "MAPPED"):  # as SKILLS_WAL_WRITES is read: any case, spaces around
        ok = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"{value.strip()}.db")],
                            env=dict(os.environ, SKILLS_WAL_READS=value), capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr
