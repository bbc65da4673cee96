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

    import tempfile

    host = SkillHost([skill], store=open_ledger(tempfile.mkdtemp() + "/t.db"))
    def turn(kind, **extra):
        body = {"version": "1.0", "session": {"new": True, "sessionId": "s1", "user": {"userId": "u1"}},
                "request": {"type": kind, "requestId": "r1", "timestamp": "2026-11-28T09:30:00Z", **extra}}
        return host.handle_json("hello", json.dumps(body))
''')


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", SKILL + textwrap.dedent(code)], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_captured_turn_that_calls_no_partner_imports_only_what_it_needs():
    out = run('''
        turn("LaunchRequest")
        print(sorted(m for m in ("requests", "marshmallow", "flask", "phonenumbers", "sqlite_utils") if m in sys.modules))
    ''')
    assert out == "[]"


def test_ctx_http_is_made_on_first_use_and_is_the_partner_session():
    out = run('''
        said = json.loads(turn("IntentRequest", intent={"name": "PartnerIntent", "slots": {}}))
        print(said["response"]["outputSpeech"]["ssml"], "requests" in sys.modules)
    ''')
    assert out == "<speak>PartnerSession</speak> True"
