"""The PostgreSQL ledger's key file shared by a host's processes: never an earlier key put back, never a stray copy."""

from __future__ import annotations

import json
import os
import subprocess

from _server import SKILLS

from skills_sdk.transcripts import open_ledger
from skills_sdk.transcripts.postgres import crypto


def _on_disk(path) -> tuple[int, str]:
    data = json.loads(path.read_text())
    return data["epoch"], data["key"]


def test_a_process_behind_another_never_writes_an_earlier_key_over_a_later_one(tmp_path):
    path = tmp_path / "ledger.key"
    slow = crypto.KeyFile.open(str(path), create=True)  # two processes of one host, each with the file open
    fast = crypto.KeyFile.open(str(path), create=False)
    fast.advance_to(2)  # a ratchet, then another, by the second process
    slow.advance_to(1)  # the first one's own ratchet, written late
    assert _on_disk(path) == (2, fast.key.hex())
    assert crypto.KeyFile.open(str(path), create=False).key_at(2) == slow.key_at(2)


def test_a_new_key_file_made_by_another_process_meanwhile_is_kept(tmp_path):
    path = tmp_path / "ledger.key"
    there = crypto.KeyFile(str(path), 0, crypto.new_key())
    there._write()
    mine = crypto.KeyFile(str(path), 0, crypto.new_key())._write(first=True)
    assert mine.key == there.key and _on_disk(path) == (0, there.key.hex())


def test_two_ratchets_at_once_leave_the_file_at_the_databases_epoch_and_no_stray_key(postgres_ledger_url, tmp_path):
    key_file = tmp_path / "ledger.key"
    env = {**os.environ, "SKILLS_LEDGER_KEY_FILE": str(key_file), "SKILLS_SPOOL": str(tmp_path / "ledger.spool")}
    with open_ledger(postgres_ledger_url, key_file=str(key_file)) as led:
        led.record_many([{"developer_id": "d", "skill": "s", "user_id": f"u{i}", "speech": f"said {i}"}
                         for i in range(20)])
    # What a process killed between writing its new file and renaming it leaves: a whole key.
    leftover = tmp_path / "ledger.key.4242.tmp"
    leftover.write_text(json.dumps({"epoch": 1, "key": crypto.new_key().hex()}))
    ratchets = [subprocess.Popen([SKILLS, "ledger", "ratchet", "--db", postgres_ledger_url], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    said = [(p.wait(timeout=300), p.stdout.read()) for p in ratchets]
    assert [code for code, _ in said] == [0, 0], said
    assert [name for name in os.listdir(tmp_path) if name.startswith("ledger.key.")] == []
    with open_ledger(postgres_ledger_url, key_file=str(key_file)) as led:
        assert sorted(r["speech"] for r in led.iter_transcripts()) == sorted(f"said {i}" for i in range(20))
        with led.connection() as conn:
            epoch = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'kek_epoch'").fetchone()[0])
    assert epoch == 2 and _on_disk(key_file)[0] == 2
