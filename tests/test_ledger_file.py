"""A new SQLite ledger file: whole and in WAL mode before it has its name, one ledger however many processes make it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite import dbfile

ROW = {"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."}


def _leftovers(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if "-new-" in name)


def test_a_new_ledger_file_is_whole_and_in_wal_mode_before_it_has_its_name(tmp_path, monkeypatch):
    seen = []
    link = os.link

    def looked_at(src, dst):
        with open(src, "rb") as f:
            header = f.read(100)
        # SQLite's magic, then the read and write versions 2 (WAL): a file that opens as a ledger.
        seen.append((header[:16], header[18], header[19], os.stat(src).st_size, oct(os.stat(src).st_mode & 0o777)))
        link(src, dst)

    monkeypatch.setattr(os, "link", looked_at)
    db = tmp_path / "t.db"
    store = TranscriptStore(db)
    store.record(ROW)
    assert seen == [(b"SQLite format 3\x00", 2, 2, 4096, "0o600")]
    assert store.count() == 1 and _leftovers(tmp_path) == []
    store.close()


def test_a_ledger_file_another_process_put_in_place_first_is_the_one_used(tmp_path, monkeypatch):
    theirs = tmp_path / "theirs.db"
    other = TranscriptStore(theirs)
    other.record({**ROW, "speech": "Theirs."})
    other.close()
    db = tmp_path / "t.db"
    link = os.link

    def beaten(src, dst):  # the other process links its file between our check and our link
        shutil.copyfile(theirs, dst)
        link(src, dst)

    monkeypatch.setattr(os, "link", beaten)
    store = TranscriptStore(db)
    store.record(ROW)
    assert [r["speech"] for r in store.user_history("u1")] == ["Hi.", "Theirs."]
    assert _leftovers(tmp_path) == []
    store.close()


def test_a_folder_without_hard_links_still_gets_its_ledger(tmp_path, monkeypatch):
    def refused(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", refused)
    store = TranscriptStore(tmp_path / "t.db")
    store.record(ROW)
    assert store.count() == 1 and store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert _leftovers(tmp_path) == []
    store.close()


def test_an_existing_file_is_left_to_sqlite(tmp_path):
    db = tmp_path / "t.db"
    db.touch()  # empty: SQLite makes it a database, as before
    assert dbfile.make_ledger_file(str(db)) is False
    store = TranscriptStore(db)
    store.record(ROW)
    assert store.count() == 1
    store.close()


START_TOGETHER = textwrap.dedent('''
    import os, sys, time
    from skills_sdk.transcripts import TranscriptStore
    db, go, name = sys.argv[1:]
    while not os.path.exists(go):
        time.sleep(0.0005)
    store = TranscriptStore(db)
    store.record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": name})
    store.close()
''')


def test_processes_that_make_the_same_new_ledger_at_once_end_with_one_they_all_wrote_to(tmp_path):
    db, go = tmp_path / "t.db", tmp_path / "go"
    names = [f"p{i}" for i in range(6)]
    procs = [subprocess.Popen([sys.executable, "-c", START_TOGETHER, str(db), str(go), name]) for name in names]
    go.touch()
    assert [p.wait(timeout=60) for p in procs] == [0] * len(names)
    store = TranscriptStore(db)
    assert sorted(r["speech"] for r in store.user_history("u1", limit=50)) == names
    assert _leftovers(tmp_path) == []
    store.close()


COUNT_SYNCS = textwrap.dedent('''
    import os, sys
    from skills_sdk.transcripts import TranscriptStore
    store = TranscriptStore(sys.argv[1])
    store.record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."})
    os._exit(0)  # before the close, whose checkpoint syncs the WAL and the file
''')


def test_a_new_ledger_and_its_first_capture_cost_three_syncs_not_six(tmp_path):
    # The file's own (before its link), the WAL's header and the WAL's folder: SQLite's rollback
    # journal, which turned an empty file to WAL mode, synced four more times. The capture syncs nothing.
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    out = tmp_path / "trace"
    run = subprocess.run(["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(out), sys.executable, "-c",
                          COUNT_SYNCS, str(tmp_path / "t.db")], capture_output=True, text=True)
    if run.returncode and "ptrace" in run.stderr:
        pytest.skip(f"strace cannot trace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    syncs = [line for line in out.read_text().splitlines() if "sync(" in line]
    assert len(syncs) == 3, syncs
