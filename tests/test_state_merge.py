"""Two turns of one user at once (two devices, an audio event beside an intent) keep each other's state changes."""

from __future__ import annotations

import pytest
from conftest import ledger_host, make_envelope

from skills_sdk import Skill, SkillHost, say
from skills_sdk.context import StateChange

USER = "amzn1.ask.account.TWO-DEVICES"


def player(host_of, *, key: str, value, removes: str | None = None, after_other=lambda: None) -> Skill:
    """A skill whose ProgressIntent changes ``key`` and, while it runs, lets the other device's turn run whole
    (then calls ``after_other``: a fault armed for this turn's own write)."""
    skill = Skill("player", developer_id="dev-player", invocation_name="jazz player")

    @skill.intent("ProgressIntent", samples=["progress"])
    def progress(ctx):
        ctx.state[key] = value  # this turn has read the state: what the other turn stores next is news to it
        if removes:
            ctx.state.pop(removes, None)
        host_of[0].handle("player", make_envelope(intent="FavoriteIntent", user_id=USER))
        after_other()
        return say("Saved your place.")

    @skill.intent("FavoriteIntent", samples=["favorite"])
    def favorite(ctx):
        ctx.state["favorite"] = "jazz"
        ctx.state["plays"] = ctx.state.get("plays", 0) + 1
        return say("Jazz it is.")

    return skill


def run(ledger, *, key: str, value, removes: str | None = None, seed: dict | None = None,
        capture: bool = True) -> dict:
    host_of: list = []
    skill = player(host_of, key=key, value=value, removes=removes)
    host = ledger_host([skill], ledger) if capture else SkillHost([skill], state=ledger)
    host_of.append(host)
    if seed is not None:
        ledger.save_state("dev-player", "player", USER, seed)
    host.handle("player", make_envelope(intent="ProgressIntent", user_id=USER))
    return dict(ledger.load_state("dev-player", "player", USER))


def test_each_turn_keeps_the_others_change(ledger):
    got = run(ledger, key="offset", value=1200, seed={"plays": 3, "offset": 0})
    assert got == {"plays": 4, "offset": 1200, "favorite": "jazz"}


def test_a_first_state_stored_by_another_turn_meanwhile_is_kept(ledger):
    assert run(ledger, key="offset", value=1200) == {"plays": 1, "offset": 1200, "favorite": "jazz"}


def test_a_key_both_turns_change_ends_as_the_last_to_commit_left_it(ledger):
    # The other turn committed plays=4 first; this one, which read plays=3, sets it to 10 after.
    assert run(ledger, key="plays", value=10, seed={"plays": 3})["plays"] == 10


def test_a_key_one_turn_removes_stays_removed(ledger):
    got = run(ledger, key="offset", value=5, removes="token", seed={"plays": 3, "token": "t1"})
    assert got == {"plays": 4, "offset": 5, "favorite": "jazz"}


def test_without_capture_the_turns_state_is_merged_too(ledger):
    got = run(ledger, key="offset", value=7, seed={"plays": 1}, capture=False)
    assert got == {"plays": 2, "offset": 7, "favorite": "jazz"}


def test_a_state_saved_whole_replaces_what_was_stored(ledger):
    ledger.save_state("dev-player", "player", USER, {"a": 1, "b": 2})
    ledger.save_state("dev-player", "player", USER, {"a": 3})
    assert ledger.load_state("dev-player", "player", USER) == {"a": 3}


@pytest.mark.parametrize("base, mine, current, merged", [
    ({"a": 1}, {"a": 1, "b": 2}, {"a": 9}, {"a": 9, "b": 2}),          # added a key; another changed a
    ({"a": 1, "b": 2}, {"a": 1}, {"a": 1, "b": 5}, {"a": 1}),          # removed b: removed, whatever it became
    ({"a": {"x": 1}}, {"a": {"x": 2}}, {"a": {"x": 1, "y": 1}}, {"a": {"x": 2}}),  # a value is replaced whole
    ({"a": None}, {"a": None, "b": None}, {}, {"b": None}),            # nulls are values, not removals
])
def test_a_change_merges_key_by_key(base, mine, current, merged):
    assert StateChange("{}", token=None, base=base, mine=mine).merged(current) == merged
