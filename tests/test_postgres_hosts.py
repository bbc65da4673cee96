"""Two ``skills serve`` hosts over one PostgreSQL: concurrent load, one SIGKILLed mid-stream and restarted;
every answered request has exactly one row, and each developer key sees only its own rows on either host."""

from __future__ import annotations

import collections
import json
import os
import shutil
import threading
import time
import urllib.request

from _server import free_port, start, stop
from conftest import make_envelope
from test_crash import post

from skills_sdk.transcripts import open_ledger

#: (skill, its developer) of the example skills driven here: their Help intents need no partner API.
SKILLS = (("pizza", "pronto-pizza-labs"), ("ride", "zipride-mobility"))


def _rows_seen(port: int, key: str) -> list[dict]:
    """Every row the developer key reads through /v1/transcripts on the host at ``port``, page by page."""
    rows, cursor = [], None
    while True:
        url = f"http://127.0.0.1:{port}/v1/transcripts?limit=500" + (f"&cursor={cursor}" if cursor else "")
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            page = json.loads(r.read())
        rows += page["transcripts"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def test_two_hosts_one_killed_mid_stream_record_each_answer_once_and_keep_developers_apart(postgres_url, tmp_path):
    key_file = tmp_path / "ledger.key"
    with open_ledger(postgres_url, key_file=str(key_file)) as led:  # the first host made the key file...
        keys = {dev: led.create_key("developer", dev)[1] for _, dev in SKILLS}
    hosts = {}
    for name in ("a", "b"):  # ...and each host gets its own copy, as a deploy would place it
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(key_file, folder / "ledger.key")
        hosts[name] = {"port": free_port(), "env": {**os.environ, "SKILLS_LEDGER_KEY_FILE": str(folder / "ledger.key"),
                                                    "SKILLS_SPOOL": str(folder / "ledger.spool")}}

    def boot(name: str):
        h = hosts[name]
        h["proc"] = start(["serve", "--db", postgres_url], h["port"], env=h["env"], timeout=90,
                          stdout=open(tmp_path / f"{name}.log", "ab"))

    for name in hosts:
        boot(name)
    answered: list[tuple[str, str]] = []  # (request id, developer)
    lock = threading.Lock()
    died: list[BaseException] = []
    restarted = threading.Event()

    def client(n: int) -> None:
        try:
            for i in range(60):
                skill, dev = SKILLS[(n + i) % 2]
                host = hosts["a" if (n + i) % 3 else "b"]
                env = make_envelope(intent="AMAZON.HelpIntent", user_id=f"amzn1.ask.account.C{n}",
                                    session_id=f"c{n}-s{i // 6}")
                if post(host["port"], env, skill):
                    with lock:
                        answered.append((env["request"]["requestId"], dev))
                if i == 30:
                    restarted.wait(120)
        except BaseException as exc:  # shown by the assertion below
            died.append(exc)

    try:
        clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in clients:
            t.start()
        while len(answered) < 40 and any(t.is_alive() for t in clients):
            time.sleep(0.01)
        hosts["a"]["proc"].kill()  # SIGKILL, requests in flight on host a
        hosts["a"]["proc"].wait(10)
        boot("a")
        restarted.set()
        for t in clients:
            t.join(300)
        assert died == [] and not any(t.is_alive() for t in clients)
        assert len(answered) > 120  # both hosts answered most of the 240 requests

        with open_ledger(postgres_url, key_file=str(tmp_path / "a" / "ledger.key")) as led:
            rows = list(led.iter_transcripts())
        per_request = collections.Counter(r["request_id"] for r in rows)
        assert [rid for rid, _ in answered if per_request[rid] != 1] == []

        for dev, key in keys.items():
            mine = {rid for rid, d in answered if d == dev}
            for name in ("a", "b"):
                seen = _rows_seen(hosts[name]["port"], key)
                assert {r["developer_id"] for r in seen} == {dev}, f"{dev}'s key on host {name}"
                assert mine <= {r["request_id"] for r in seen}
                assert len(seen) == len({r["request_id"] for r in seen})
    finally:
        restarted.set()
        for h in hosts.values():
            if "proc" in h:
                stop(h["proc"])
