"""Shared fixtures: envelope builders, an in-memory store, a small demo skill."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from skills_sdk import Skill, ask, say
from skills_sdk.transcripts import Ledger, TranscriptStore, open_ledger

# CI explores a fixed set of examples, so a run is reproducible; local runs explore new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

FIXTURES = pathlib.Path(__file__).parent / "fixtures"

# A started ledger writes its WAL out to 84 MB (its working size, docs/transcripts.md); the suite's
# hundreds of small ledgers, and the servers it starts, write 512 KB each (tests/test_wal_reserve.py
# sets its own sizes).
os.environ.setdefault("SKILLS_WAL_RESERVE", str(512 * 1024))


@pytest.fixture(autouse=True)
def _forget_modules_written_by_the_test(tmp_path_factory):
    """A module a test wrote into its tmp folder and imported (``--skills bean_skill:skill``) is forgotten after it.

    Left in ``sys.modules``, the next test that writes a module of the same name into its own
    folder would be given this one (its skills, already frozen by serving) instead of its own.
    """
    before = set(sys.modules)
    yield
    written = str(tmp_path_factory.getbasetemp())
    for name in set(sys.modules) - before:
        if (getattr(sys.modules[name], "__file__", None) or "").startswith(written):
            del sys.modules[name]


def make_envelope(
    request_type: str = "LaunchRequest",
    *,
    intent: str | None = None,
    slots: dict[str, Any] | None = None,
    user_id: str = "amzn1.ask.account.USER1",
    session_id: str = "amzn1.echo-api.session.S1",
    attributes: dict[str, Any] | None = None,
    new: bool = False,
    application_id: str = "amzn1.ask.skill.test",
    **request_fields: Any,
) -> dict[str, Any]:
    """A realistic Alexa request envelope as a dict, as the platform would POST it."""
    request: dict[str, Any] = {
        "type": request_type,
        "requestId": f"amzn1.echo-api.request.{uuid.uuid4()}",
        "timestamp": "2026-11-28T09:30:00Z",
        "locale": "en-US",
        **request_fields,
    }
    if intent is not None:
        request["type"] = "IntentRequest"
        request["intent"] = {
            "name": intent,
            "confirmationStatus": "NONE",
            "slots": {
                name: {"name": name, "value": value, "confirmationStatus": "NONE"}
                for name, value in (slots or {}).items()
            },
        }
    return {
        "version": "1.0",
        "session": {
            "new": new,
            "sessionId": session_id,
            "application": {"applicationId": application_id},
            "attributes": attributes or {},
            "user": {"userId": user_id},
        },
        "context": {
            "System": {
                "application": {"applicationId": application_id},
                "user": {"userId": user_id},
                "device": {"deviceId": "amzn1.ask.device.D1", "supportedInterfaces": {}},
                "apiEndpoint": "https://api.amazonalexa.com",
            }
        },
        "request": request,
    }


def json_paths(value: Any, prefix: tuple = ()):
    """Every path into a JSON value (dict keys and list indexes), the empty path first."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_paths(v, (*prefix, i))


@pytest.fixture
def envelope():
    """The envelope builder, as a fixture: ``envelope("LaunchRequest")``, ``envelope(intent="X", slots={...})``."""
    return make_envelope


@pytest.fixture
def order_pizza_body() -> str:
    """The exact bytes of a real OrderPizzaIntent envelope (size=large, topping=pepperoni, COMPLETED)."""
    return (FIXTURES / "order_pizza_envelope.json").read_text()


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throw-away PostgreSQL server for the whole run (skipped where none is installed; in CI, a failure)."""
    from _postgres import Cluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL's server programs are not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI runs the ledger's tests on PostgreSQL too.")
        pytest.skip(message)
    cluster = Cluster(bindir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """The URL of a fresh, empty database on the test run's PostgreSQL server (dropped afterwards, on a thread)."""
    url = postgres_cluster.create_database()
    yield url
    postgres_cluster.drop_database(url, later=True)


@pytest.fixture
def postgres_ledger_url(postgres_cluster) -> str:
    """The URL of a fresh database that already holds the ledger's schema (a copy of a template; dropped afterwards, on a thread)."""
    url = postgres_cluster.create_database(template=postgres_cluster.ledger_template())
    yield url
    postgres_cluster.drop_database(url, later=True)


@pytest.fixture
def vfs() -> str:
    """The name of the ledger's VFS (``_walvfs.c``: a commit's WAL frames in one write, its reads from a mapping)."""
    from skills_sdk.transcripts.sqlite.driver import wal_vfs

    name = wal_vfs()
    if name is None:
        # A checkout's venv made before the module existed has not built it: ./dev rebuilds when a C
        # source changes (as tests/test_compiled_modules.py's modules); then these tests run.
        pytest.skip("SQLite's own WAL writes run here (SKILLS_WAL_WRITES=each, or _walvfs.c not built: run ./dev)")
    return name


@pytest.fixture
def memory_store() -> TranscriptStore:
    """A transcript store in memory."""
    return TranscriptStore(":memory:")


@pytest.fixture
def file_store(tmp_path) -> TranscriptStore:
    """A transcript store in a WAL file under tmp_path."""
    store = TranscriptStore(tmp_path / "transcripts.db")
    yield store
    store.close()


def _sqlite_file(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Ledger:
    return open_ledger(tmp_path / "ledger.db")


def _sqlite_memory(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Ledger:
    return open_ledger(":memory:")


def _postgres(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Ledger:
    url = request.getfixturevalue("postgres_ledger_url")
    return open_ledger(url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "ledger.spool"))


#: Every ledger backend the interface tests run against: ``make(request, tmp_path) -> Ledger``.
#: A backend joins the suite by appending one entry (it may ask ``request`` for its own fixtures).
LEDGER_BACKENDS = [
    pytest.param(_sqlite_file, id="sqlite"),
    pytest.param(_sqlite_memory, id="sqlite-memory"),
    pytest.param(_postgres, id="postgres"),
]


def raw_sql(ledger: Ledger, statement: str, params: tuple = ()) -> list[tuple]:
    """Run SQL on a ledger's own database behind its back (``?`` placeholders), as an operator or attacker could.

    Tests use it to reach what the interface does not show (session rows, a revoked key's column);
    it returns the rows of a SELECT, and commits anything else at once.
    """
    if hasattr(ledger, "connection"):  # PostgreSQL
        with ledger.connection() as conn:
            cur = conn.execute(statement.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []
    cur = ledger.db.conn.execute(statement, params)
    return cur.fetchall() if cur.description else []


@pytest.fixture(params=LEDGER_BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Ledger:
    """A started, empty ledger of each backend in :data:`LEDGER_BACKENDS`, stopped after the test."""
    led = request.param(request, tmp_path)
    led.start()
    yield led
    led.stop()


def example_app(**kwargs: Any):
    """``create_app`` serving the four example skills with their partner stand-ins, as ``skills serve`` does."""
    from example_skills import all_skills, partner_session
    from skills_sdk.server import create_app

    return create_app(all_skills(), http=partner_session(), **kwargs)


def ledger_host(skills, ledger: Ledger, *, middleware=(), **kwargs: Any):
    """A ``SkillHost`` whose turns ``ledger`` keeps, composed as every edge composes it.

    ``ledger_middleware(ledger)`` (forget-on-disable, capture) runs outside ``middleware``;
    other keywords (``http``) go to ``SkillHost``.
    """
    from skills_sdk import SkillHost
    from skills_sdk.transcripts.compose import ledger_middleware

    return SkillHost(skills, state=ledger, middleware=[*ledger_middleware(ledger), *middleware], **kwargs)


def build_greeter() -> Skill:
    """A small skill used across the core tests."""
    skill = Skill("greeter", developer_id="dev-greeter", invocation_name="greeter")
    skill.slot_type("Mood", {"happy": ["glad", "cheerful"], "sad": ["blue"]})

    @skill.launch
    def hello(ctx):
        return ask("Hello! How are you feeling?", "How are you?")

    @skill.intent("MoodIntent", samples=["i am {mood}", "i feel {mood}"], slots={"mood": "Mood"})
    def mood(ctx, mood=None):
        ctx.session["mood"] = mood
        return say(f"Glad to know you are {mood}.").card("Mood", mood or "unknown")

    @skill.intent("CountIntent", samples=["count to {n}"], slots={"n": "AMAZON.NUMBER"})
    def count(ctx, n: int = 3):
        return say(", ".join(str(i) for i in range(1, n + 1)))

    @skill.intent("BoomIntent", samples=["explode"])
    def boom(ctx):
        raise RuntimeError("card number 4111 1111 1111 1111 leaked")

    return skill


@pytest.fixture
def greeter() -> Skill:
    """A fresh greeter skill."""
    return build_greeter()


def loads(body: str | bytes) -> Any:
    """json.loads, for brevity in tests."""
    return json.loads(body)


def mounted_tmpfs(tmp_path: pathlib.Path, size: str) -> Iterator[pathlib.Path]:
    """A tmpfs of ``size`` (``"4m"``) at ``tmp_path/fs`` while the generator runs; the test is skipped without root.

    Fixtures yield from it: ``yield from mounted_tmpfs(tmp_path, "16m")``.
    """
    mnt = tmp_path / "fs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs root: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MB tmpfs, mounted for the test (root only, as the suite runs in CI)."""
    yield from mounted_tmpfs(tmp_path, "4m")


#: A skill module whose BookIntent delegates its dialog to Alexa (SKILL_RESPONSE) until it completes.
DELEGATING_SKILL = """
from skills_sdk import Skill, empty, say
from skills_sdk.dialog import required
skill = Skill("booker", developer_id="d", invocation_name="table booker")
skill.slot_type("Area", {"terrace": [], "window": []})
@skill.intent("BookIntent", samples=["book a table on the {area}"], delegation="SKILL_RESPONSE",
              slots={"area": required("Area", "Terrace or window?"), "people": required("AMAZON.NUMBER", "How many?")})
def book(ctx, area=None, people: int = 0):
    if ctx.dialog_state != "COMPLETED":
        return empty().delegate(ctx.request.intent)
    return say(f"Booked {people} at the {area}.")
"""
