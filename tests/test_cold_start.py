"""What a process that answers turns imports: only what the request path needs (every worker and Lambda pays it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SKILL = textwrap.dedent('''
    import json, sys
    from skills_sdk import Skill, SkillHost, say

    skill = Skill("hello", developer_id="acme", invocation_name="hello world")

    @skill.launch
    def hi(ctx):
        return say("Hi.")

    @skill.intent("PartnerIntent", samples=["call the partner"])
    def partner(ctx):
        return say(type(ctx.http).__name__)

    from skills_sdk.transcripts import open_ledger
    from skills_sdk.transcripts.compose import ledger_middleware

    import tempfile

    ledger = open_ledger(tempfile.mkdtemp() + "/t.db")
    host = SkillHost([skill], state=ledger, middleware=ledger_middleware(ledger))
    def turn(kind, **extra):
        body = {"version": "1.0", "session": {"new": True, "sessionId": "s1", "user": {"userId": "u1"}},
                "request": {"type": kind, "requestId": "r1", "timestamp": "2026-11-28T09:30:00Z", **extra}}
        return host.handle_json("hello", json.dumps(body))
''')


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", SKILL + textwrap.dedent(code)], capture_output=True, text=True,
                          check=True).stdout.strip()


#: Never imported by a process that answers captured turns: what only the console, the CLI, erasure,
#: retention, keys, an error's hint or a spool rotation needs (each cost every cold start 1-10 ms).
OFF_THE_COLD_PATH = (
    "requests", "marshmallow", "flask", "phonenumbers", "sqlite_utils",
    "uuid", "platform", "urllib.parse", "ipaddress", "difflib", "secrets", "calendar", "locale",
    "skills_sdk.transcripts.sqlite.erasure", "skills_sdk.transcripts.sqlite.retention",
    "skills_sdk.transcripts.sqlite.keys", "skills_sdk.transcripts.sqlite.sessions",
    "skills_sdk.transcripts.retention", "skills_sdk.transcripts.keys", "skills_sdk.transcripts.sessions",
    "html", "decimal", "click", "prometheus_client", "cryptography", "example_skills",
    "skills_sdk.http", "skills_sdk.server", "skills_sdk.cli", "skills_sdk.simulator", "skills_sdk.verify",
    "skills_sdk.envelope_schema", "csv", "skills_sdk.transcripts.transcript", "glob", "logging", "string",
    "traceback",
)

#: Never imported by a worker of ``skills_sdk.wsgi`` that answers /alexa for skills calling no partner, with
#: verification off: the CLI (and click's commands), the text simulator (its NLU and request builders),
#: requests, marshmallow and the verifier load when something uses them.
OFF_THE_WORKER_PATH = (
    "requests", "urllib3", "marshmallow", "sqlite_utils", "cryptography", "example_skills",
    "skills_sdk.cli", "skills_sdk.http", "skills_sdk.simulator", "skills_sdk.request_builders",
    "skills_sdk.server.bodies", "skills_sdk.verify",
)


def test_a_captured_turn_that_calls_no_partner_imports_only_what_it_needs():
    out = run(f'''
        turn("LaunchRequest")
        turn("IntentRequest", intent={{"name": "AMAZON.HelpIntent", "slots": {{}}}})
        print(sorted(m for m in {OFF_THE_COLD_PATH!r} if m in sys.modules))
    ''')
    assert out == "[]"


def test_a_captured_turn_creates_no_dataclass_that_generates_its_methods():
    # On CPython 3.11 a dataclass compiles each generated method in an exec of its own (about 1 ms a
    # class here, 13 classes were 9% of the cold start): the classes on this path write theirs out
    # (skills_sdk._frozen), or load where they are used.
    out = run('''
        turn("LaunchRequest")
        turn("IntentRequest", intent={"name": "AMAZON.HelpIntent", "slots": {}})
        generated = sorted(
            f"{name}.{cls.__qualname__}"
            for name, module in list(sys.modules.items()) if name.startswith("skills_sdk")
            for cls in vars(module).values()
            if isinstance(cls, type) and cls.__module__ == name and "__dataclass_params__" in vars(cls)
            and any(getattr(cls.__dataclass_params__, p) for p in ("init", "repr", "eq", "frozen")))
        print(generated)
    ''')
    assert out == "[]"


def test_the_redactors_larger_patterns_compile_when_text_needs_them():
    out = run('''
        from skills_sdk.transcripts.redaction import DEFAULT_REDACTOR, emails, numbers
        from skills_sdk.transcripts.redaction.lazy import LazyPattern

        def compiled():
            return sum(bool(vars(value).keys() - {"pattern"}) for module in (emails, numbers)
                       for value in vars(module).values() if isinstance(value, LazyPattern))

        turn("LaunchRequest")
        turn("IntentRequest", intent={"name": "AMAZON.HelpIntent", "slots": {}})
        before = compiled()
        said = DEFAULT_REDACTOR.redact("mail jane at gmail dot com or call four one five, double five five, oh one hundred")
        print(before, compiled() > 0, said.text)
    ''')
    assert out == "0 True mail [EMAIL] or call [PHONE]"


def test_the_ledgers_deferred_parts_load_when_used():
    out = run('''
        turn("LaunchRequest")
        info, key = host.store.create_key("developer", "acme")
        print(host.store.verify_key(key) == info, host.store.purge(default_days=30)["deleted"],
              host.store.erase_user("u1")["transcripts"], host.store.load_session("nope"))
    ''')
    assert out == "True 0 1 (None, [])"


def test_a_ledger_started_as_a_server_starts_it_starts_one_thread():
    # Its own checkpointer and indexer. The process's shared checkpointer, which the connection that
    # made the schema used to start before start() was called, would only stand by (each thread's
    # start waits for it: 0.2-3 ms of a cold start here).
    out = run('''
        import threading
        ledger.start()
        turn("LaunchRequest")
        ledger.save_state("acme", "hello", "u1", {"n": 1})
        print(sorted(t.name for t in threading.enumerate()))
    ''')
    assert out == "['MainThread', 'skills-checkpoint']"


def test_the_write_uri_is_what_urllib_would_quote():
    import os
    import urllib.parse

    from skills_sdk.transcripts.sqlite.connection import open_uri

    for path in ("/tmp/a b/t.db", "/tmp/caf\u00e9/%x?y#z&=;+,~_.-/t.db", "rel/\u4e2d\u6587.db", "/tmp/\U0001f355.db"):
        # then the VFS that gathers a commit's WAL writes, where it is built (tests/test_wal_writes.py)
        assert open_uri(path).split("&vfs=")[0] == "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=rw"


def test_ctx_http_is_made_on_first_use_and_is_the_partner_session():
    out = run('''
        said = json.loads(turn("IntentRequest", intent={"name": "PartnerIntent", "slots": {}}))
        print(said["response"]["outputSpeech"]["ssml"], "requests" in sys.modules)
    ''')
    assert out == "<speak>PartnerSession</speak> True"


def test_a_wsgi_worker_answering_alexa_imports_only_what_it_needs(tmp_path):
    (tmp_path / "hello_skill.py").write_text(textwrap.dedent('''
        from skills_sdk import Skill, say

        skill = Skill("hello", developer_id="acme", invocation_name="hello world")

        @skill.launch
        def hi(ctx):
            return say("Hi.")
    '''))
    code = textwrap.dedent(f'''
        import json, os, sys
        os.environ.update(SKILLS_SKILLS="hello_skill:skill", SKILLS_DB={str(tmp_path / "t.db")!r}, SKILLS_VERIFY="0",
                          SKILLS_LOG_LEVEL="ERROR")
        from skills_sdk.wsgi import app

        body = {{"version": "1.0", "session": {{"new": True, "sessionId": "s1", "user": {{"userId": "u1"}}}},
                "request": {{"type": "LaunchRequest", "requestId": "r1", "timestamp": "2026-11-28T09:30:00Z"}}}}
        reply = app.test_client().post("/alexa/hello", json=body)
        print(reply.status_code, reply.json["response"]["outputSpeech"]["ssml"],
              sorted(m for m in {OFF_THE_WORKER_PATH!r} if m in sys.modules))
    ''')
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "200 <speak>Hi.</speak> []", out.stderr[-2000:]


def test_a_wsgi_worker_keeps_its_startup_objects_out_of_the_collectors_full_scans(tmp_path):
    code = textwrap.dedent(f'''
        import gc, os
        os.environ.update(SKILLS_SKILLS="example_skills:all_skills", SKILLS_DB={str(tmp_path / "t.db")!r},
                          SKILLS_VERIFY="0", SKILLS_LOG_LEVEL="ERROR")
        from skills_sdk.wsgi import app

        built = gc.get_freeze_count()
        scanned = len(gc.get_objects())   # what a full collection walks now

        class Cycle:
            pass

        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        del a, b
        print(built > 10_000, scanned < built // 4, gc.collect() > 0)
    ''')
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    # The app's objects are frozen; what requests make later is still collected.
    assert out.stdout.strip() == "True True True", (out.stdout, out.stderr[-2000:])
