"""Every file the ledger makes is readable by its owner only, whatever the umask; the privacy report warns otherwise."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.spool import Spool


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000], indirect=True, ids=["022", "002", "000"])
def test_every_ledger_file_is_0600_whatever_the_umask(tmp_path, umask):
    db = tmp_path / "var" / "t.db"
    store = TranscriptStore(db)
    store.record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."})
    Spool.for_store(store).append({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Later."})
    with store.writing():  # the cross-process lock file
        pass
    files = {name: _mode(name) for name in (f"{db}{s}" for s in ("", "-wal", "-shm", "-lock", ".spool"))}
    assert files == dict.fromkeys(files, 0o600)
    assert _mode(db.parent) & 0o077 == 0  # the folder it made, too
    store.close()


def test_the_privacy_report_warns_about_a_database_others_can_read(tmp_path):
    db = tmp_path / "t.db"
    TranscriptStore(db).record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."})
    quiet = CliRunner().invoke(main, ["privacy", "report", "--db", str(db), "--skills", "_privacy_kit:retention_skills"])
    assert quiet.exit_code == 0 and "WARNING" not in quiet.stderr
    os.chmod(db, 0o644)
    loud = CliRunner().invoke(main, ["privacy", "report", "--db", str(db), "--skills", "_privacy_kit:retention_skills"])
    assert loud.exit_code == 0
    assert f"WARNING: {db} has mode 0644" in loud.stderr and f"chmod 600 {db}" in loud.stderr
    assert "shop (developer dev-b)" in loud.stdout  # the report itself still prints


def test_the_privacy_report_says_when_redaction_runs_its_python_reader(tmp_path, monkeypatch):
    from skills_sdk.transcripts.redaction import speedups

    args = ["privacy", "report", "--db", str(tmp_path / "t.db"), "--skills", "_privacy_kit:retention_skills"]
    if speedups.available():
        compiled = CliRunner().invoke(main, args)
        assert compiled.exit_code == 0 and "pure-Python" not in compiled.stderr
    monkeypatch.setattr(speedups, "compiled", lambda: False)
    pure = CliRunner().invoke(main, args)
    assert pure.exit_code == 0 and "NOTE: redaction runs its pure-Python reader" in pure.stderr
    assert "shop (developer dev-b)" in pure.stdout
