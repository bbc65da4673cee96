"""The middleware chain: order, short-circuits, and composition once per skill."""

from __future__ import annotations

import pytest
from conftest import make_envelope

from skills_sdk import Skill, SkillHost, compose, say


def test_chain_runs_outer_first_and_unwinds_in_reverse():
    calls = []

    def mw(name):
        def middleware(ctx, call_next):
            calls.append(f"{name} in")
            resp = call_next(ctx)
            calls.append(f"{name} out")
            return resp

        return middleware

    skill = Skill("demo", developer_id="d")
    skill.use(mw("skill"))

    @skill.launch
    def launch(ctx):
        calls.append("handler")
        return say("hi")

    SkillHost([skill], middleware=[mw("server-a"), mw("server-b")]).handle("demo", make_envelope())
    assert calls == ["server-a in", "server-b in", "skill in", "handler", "skill out", "server-b out", "server-a out"]


def test_middleware_can_short_circuit():
    skill = Skill("demo", developer_id="d")
    skill.add_launch(lambda ctx: say("handler"))
    skill.use(lambda ctx, call_next: say("blocked"))
    assert SkillHost([skill]).handle("demo", make_envelope()).response.speech == "blocked"


def test_middleware_may_name_its_parameters_freely():
    def tag(ctx, nxt):
        return nxt(ctx).card("Tagged", ctx.request_type)

    skill = Skill("demo", developer_id="d")
    skill.add_launch(lambda ctx: say("hi"))
    skill.use(tag)
    assert SkillHost([skill]).handle("demo", make_envelope()).response.card_data["content"] == "LaunchRequest"


def test_adding_middleware_after_start_raises():
    skill = Skill("demo", developer_id="d")
    SkillHost([skill])
    with pytest.raises(Exception, match="already started serving"):
        skill.use(lambda ctx, call_next: call_next(ctx))


def test_compose_rejects_non_callables():
    with pytest.raises(TypeError, match="mw\\(ctx, call_next\\)"):
        compose([42], lambda ctx: say("x"))
