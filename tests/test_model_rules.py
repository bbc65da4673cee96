"""Alexa's model rules: a skill breaking each one is refused, naming the rule, the text and the fix."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from example_skills import all_skills
from skills_sdk import Skill, SlotValue, say
from skills_sdk.cli import main
from skills_sdk.dialog import has_entity_resolution_match, is_greater_than, is_in_duration, optional, required
from skills_sdk.errors import ModelError
from skills_sdk.model_rules import LIMITS, ModelRuleError, check_export, check_model
from skills_sdk.nlu import export_model


def handler(ctx, **slots):
    return say("ok")


def coffee(**kwargs) -> Skill:
    return Skill("coffee", developer_id="dev-coffee", invocation_name=kwargs.pop("invocation", "coffee corner"),
                 **kwargs)


def intent(skill: Skill, name="OrderIntent", samples=("order a coffee",), slots=None, **kw) -> Skill:
    skill.add_intent(name, handler, samples=list(samples), slots=slots, **kw)
    return skill


# Rules refused the moment the text is registered: (build, rule, offending text, words of the fix).
AT_REGISTRATION = [
    (lambda: coffee(invocation="Alexa Coffee"), "invocation-name.characters", "Alexa Coffee", "'alexa coffee'"),
    (lambda: coffee(invocation="alexa coffee"), "invocation-name.wake-word", "alexa coffee", "drop them"),
    (lambda: coffee(invocation="coffee app"), "invocation-name.wake-word", "coffee app", "drop them"),
    (lambda: coffee(invocation="coffee corner 2"), "invocation-name.characters", "coffee corner 2", "'coffee corner'"),
    (lambda: coffee(invocation="ask coffee corner"), "invocation-name.launch-phrase", "ask coffee corner", "drop it"),
    (lambda: intent(coffee(), name="Order Coffee"), "intent-name", "Order Coffee", "'OrderCoffee'"),
    (lambda: intent(coffee(), name="Order2Intent"), "intent-name", "Order2Intent", "rename it"),
    (lambda: intent(coffee(), samples=["order {drink}"], slots={"the drink": "AMAZON.SearchQuery"}),
     "slot-name", "the drink", "'TheDrink'"),
    (lambda: intent(coffee(), samples=["Order 2 lattes"]), "sample.digits", "Order 2 lattes", "2 as 'two'"),
    (lambda: intent(coffee(), samples=["coffee & cake"]), "sample.symbols", "coffee & cake", "'and'"),
    (lambda: intent(coffee(), samples=["what's new?"]), "sample.symbols", "what's new?", "remove the symbols"),
    (lambda: intent(coffee(), samples=["order a " + "very " * 50 + "big coffee"]), "sample.length",
     "order a very", "shorten it"),
    (lambda: intent(coffee(), samples=["order a {size} coffee"], slots={"cup": "AMAZON.NUMBER"}),
     "sample.undeclared-slot", "order a {size} coffee", "declare it"),
    (lambda: coffee().slot_type("Cup Size", ["small"]), "slot-type-name", "Cup Size", "'CupSize'"),
    (lambda: coffee().slot_type("CupSize", [SlotValue("small", synonyms=("little",)), SlotValue("Small")]),
     "slot-value.duplicate", "Small", "declare it once"),
    (lambda: coffee().slot_type("CupSize", ["small", "x" * 141]), "slot-value.length", "xxxx", "shorten it"),
    (lambda: coffee().slot_type("CupSize", ["small", " "]), "slot-value.empty", " ", "remove it"),
    (lambda: intent(coffee(), samples=["order {size}"], slots={"size": required("AMAZON.NUMBER")}),
     "dialog.elicitation-prompt", "size", "What size would you like?"),
    (lambda: intent(coffee(), samples=["order {size}"],
                    slots={"size": required("AMAZON.NUMBER", "How many for {name}?")}),
     "dialog.prompt-slot", "How many for {name}?", "use one of ['size']"),
    (lambda: intent(coffee(), samples=["order {size}"],
                    slots={"size": required("AMAZON.NUMBER", "How many?", samples=["make it so"])}),
     "dialog.slot-sample", "make it so", "include {size}"),
    (lambda: intent(coffee(), samples=["order {drink}"],
                    slots={"drink": optional("AMAZON.SearchQuery", validations=[is_greater_than(0, "More.")])}),
     "dialog.validation-type", "isGreaterThan", "AMAZON.NUMBER"),
    (lambda: intent(coffee(), samples=["order {n}"],
                    slots={"n": optional("AMAZON.NUMBER", validations=[has_entity_resolution_match("Which?")])}),
     "dialog.validation-type", "hasEntityResolutionMatch", "slot_type"),
    (lambda: intent(coffee(), samples=["on {day}"],
                    slots={"day": optional("AMAZON.DATE", validations=[is_in_duration("today", "P7D", "Sooner.")])}),
     "dialog.validation-duration", "today", "'P7D'"),
    (lambda: intent(coffee(), delegation="SOMETIMES"), "dialog.delegation", "SOMETIMES", "ALWAYS"),
]


@pytest.mark.parametrize("build, rule, text, fix", AT_REGISTRATION, ids=[r[1] + ":" + r[2][:20] for r in AT_REGISTRATION])
def test_text_breaking_a_rule_is_refused_at_registration(build, rule, text, fix):
    with pytest.raises(ModelRuleError) as info:
        build()
    problem = next((p for p in info.value.problems if p.rule == rule), None)
    assert problem is not None, f"expected rule {rule}, got {[p.rule for p in info.value.problems]}"
    assert problem.text.startswith(text) and fix in problem.fix
    assert f"[{rule}]" in str(info.value) and "Fix:" in str(info.value)


def _with_ok_intent(skill: Skill) -> Skill:
    return intent(skill)


# Rules only the whole skill shows, refused by export (and so by `skills package`).
ON_EXPORT = [
    (lambda: _with_ok_intent(coffee(invocation="coffee")), "invocation-name.words", "coffee", "'coffee shop'"),
    (lambda: _with_ok_intent(coffee(invocation="the coffee")), "invocation-name.article", "the coffee", "third word"),
    (lambda: intent(_with_ok_intent(coffee()), name="TipIntent", samples=()), "intent.samples", "TipIntent",
     "add samples=[...]"),
]


@pytest.mark.parametrize("build, rule, text, fix", ON_EXPORT, ids=[r[1] for r in ON_EXPORT])
def test_whole_skill_breaking_a_rule_is_refused_on_export(build, rule, text, fix):
    skill = build()
    problems = [p for p in check_model(skill.model) if p.rule == rule]
    assert problems and problems[0].text.startswith(text) and fix in str(problems[0])
    with pytest.raises(ModelError, match=rf"\[{rule}\]"):
        export_model(skill.model)


def test_duplicate_sample_across_intents_is_refused_when_registered():
    skill = intent(coffee())
    with pytest.raises(ModelError, match="is the same as sample 'order a coffee' of intent 'OrderIntent'"):
        intent(skill, name="OtherIntent")


def test_exported_model_without_required_builtins_is_refused():
    data = {"interactionModel": {"languageModel": {"invocationName": "coffee corner", "intents": [
        {"name": "AMAZON.StopIntent", "samples": []}, {"name": "OrderIntent", "samples": ["order"]}]}}}
    missing = {p.text for p in check_export(data)}
    assert missing == {"AMAZON.CancelIntent", "AMAZON.HelpIntent", "AMAZON.NavigateHomeIntent"}
    # The SDK's own export always carries them, so a skill cannot leave them out.
    assert check_export(export_model(intent(coffee()).model)) == []


def test_size_limits_are_alexas():
    assert LIMITS == {"sample_chars": 200, "slot_value_chars": 140, "slot_type_values": 50_000, "intents": 250}


@pytest.mark.parametrize("skill", all_skills(), ids=lambda s: s.name)
def test_every_example_skill_passes_every_rule(skill):
    assert check_model(skill.model) == []
    assert check_export(export_model(skill.model)) == []


def test_a_built_in_list_slot_type_may_be_extended_with_values_of_its_own():
    from skills_sdk import SlotValue
    from skills_sdk.testing import SkillClient

    skill = Skill("pets", developer_id="d", invocation_name="pet match")
    skill.slot_type("AMAZON.Animal", [SlotValue("mythical creature", synonyms=("unicorn", "dragon"))])

    @skill.intent("MatchIntent", samples=["i want a {pet}"], slots={"pet": "AMAZON.Animal"})
    def match(ctx, pet=None):
        return say(f"{pet}: {pet.id}" if pet.matched else f"A {pet}, then.")

    client = SkillClient(skill)
    assert client.say("i want a unicorn").speech == "mythical creature: MYTHICAL_CREATURE"
    assert client.say("i want a cat").speech == "A cat, then."   # any animal still fills it, unresolved
    check_model(skill.model)
    assert export_model(skill.model)["interactionModel"]["languageModel"]["types"] == [
        {"name": "AMAZON.Animal", "values": [{"id": "MYTHICAL_CREATURE", "name": {
            "value": "mythical creature", "synonyms": ["unicorn", "dragon"]}}]}]


@pytest.mark.parametrize("name", ["AMAZON.NUMBER", "AMAZON.SearchQuery", "AMAZON.date"])
def test_a_built_in_that_is_no_list_cannot_be_extended(name):
    skill = Skill("pets", developer_id="d", invocation_name="pet match")
    with pytest.raises(ModelRuleError, match="not a list of values.*a name of your own"):
        skill.slot_type(name, ["eleventy"])


def test_german_invocation_name_may_be_one_word():
    from skills_sdk.model_rules import check_invocation

    assert check_invocation("wetterbericht", "de-DE", whole=True) == []
    assert [p.rule for p in check_invocation("wetterbericht", "en-US", whole=True)] == ["invocation-name.words"]


BROKEN = textwrap.dedent('''
    from skills_sdk import Skill, say

    skill = Skill("cafe", developer_id="me", invocation_name="cafe")

    @skill.intent("OrderIntent", samples=["order a latte"])
    def order(ctx):
        return say("ok")

    @skill.intent("TipIntent")
    def tip(ctx):
        return say("thanks")
''')


def test_cli_export_exits_non_zero_naming_each_rule_and_lenient_exports(tmp_path, monkeypatch):
    (tmp_path / "broken_cafe.py").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    strict = CliRunner().invoke(main, ["model", "export", "cafe", "--skills", "broken_cafe:skill"])
    assert strict.exit_code == 1 and strict.stdout == ""
    assert "error: [invocation-name.words]" in strict.stderr and "error: [intent.samples]" in strict.stderr
    assert "breaks 2 of Alexa's rules" in strict.stderr and "--lenient" in strict.stderr
    lenient = CliRunner().invoke(main, ["model", "export", "cafe", "--skills", "broken_cafe:skill", "--lenient"])
    assert lenient.exit_code == 0 and "warning: [intent.samples]" in lenient.stderr
    assert json.loads(lenient.stdout)["interactionModel"]["languageModel"]["invocationName"] == "cafe"


def test_sizes_past_alexas_limits_are_refused():
    from skills_sdk.model import IntentModel, InteractionModel, SlotType
    from skills_sdk.model_rules import check_slot_type

    big = SlotType.of("Drink", [f"drink {n}" for n in range(LIMITS["slot_type_values"] + 1)])
    assert [p.rule for p in check_slot_type(big)] == ["slot-type.size"]
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
             "kilo", "lima", "mike", "november", "oscar", "papa"]
    intents = tuple(IntentModel(f"Intent{a.title()}{b.title()}", (f"say {a} {b}",))
                    for a in words for b in words)[:LIMITS["intents"]]
    problems = check_model(InteractionModel("coffee corner", intents))
    assert [p.rule for p in problems] == ["intents.count"] and "at most 250" in str(problems[0])


def test_the_models_classes_behave_as_frozen_dataclasses():
    import dataclasses
    import pickle

    from skills_sdk.model import IntentModel, InteractionModel, SlotType, SlotValue

    size = SlotType.of("Size", {"large": ["big"]})
    model = InteractionModel("pizza shop", (IntentModel("Order", ("order a {size}",), {"size": "Size"}),), (size,))
    assert [f.name for f in dataclasses.fields(model)] == ["invocation_name", "intents", "types", "delegation", "locale"]
    assert dataclasses.replace(model, locale="de-DE").locale == "de-DE" and model.locale is None
    assert pickle.loads(pickle.dumps(model)) == model != dataclasses.replace(model, delegation="SKILL_RESPONSE")
    assert hash(size) == hash(SlotType("Size", (SlotValue("large", "LARGE", ("big",)),)))
    assert IntentModel("A").slots == {} and IntentModel("A").slots is not IntentModel("A").slots
    assert repr(SlotValue("large")) == "SlotValue(name='large', id=None, synonyms=())"
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.locale = "en-GB"  # type: ignore[misc]


def test_a_ledger_policy_and_a_locale_behave_as_frozen_dataclasses():
    import dataclasses

    from skills_sdk import LedgerPolicy
    from skills_sdk.locale import LocaleModel

    policy = LedgerPolicy(retention_days=30, redact_patterns=None, exempt_slots=["size"])
    assert (policy.redact_patterns, policy.exempt_slots) == ({}, frozenset({"size"}))
    assert LedgerPolicy().redact_patterns is not LedgerPolicy().redact_patterns
    assert dataclasses.replace(policy, retention_days=7) == LedgerPolicy(7, None, {}, {"size"})
    with pytest.raises(Exception, match="whole number of days"):
        LedgerPolicy(retention_days=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.retention_days = 1  # type: ignore[misc]
    assert LocaleModel("de-DE").samples == {} and LocaleModel("de-DE") == LocaleModel.of("de-DE")


def test_the_dialog_nlu_and_handler_records_behave_as_dataclasses():
    import dataclasses
    import pickle

    from skills_sdk.dialog import SlotState, Step, is_in_set, required
    from skills_sdk.host import TurnResult
    from skills_sdk.model import IntentModel
    from skills_sdk.model_rules import Problem
    from skills_sdk.nlu import NluResult, SlotMatch
    from skills_sdk.skill import Handler

    slot = required("Size", "What size?", validations=[is_in_set(["large"], "Say large.")])
    assert pickle.loads(pickle.dumps(slot)) == slot != dataclasses.replace(slot, required=False)
    assert hash(Step("done")) == hash(Step("done"))
    assert repr(Step("elicit", "size")) == "Step(kind='elicit', slot='size', prompts=(), prompt_id=None)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        slot.type = "Other"  # type: ignore[misc]
    # The mutable ones: fields change, equal by value, unhashable, as a plain @dataclass.
    state = SlotState("large")
    state.confirmation = "CONFIRMED"
    assert state == SlotState("large", confirmation="CONFIRMED") != SlotState()
    assert TurnResult({}, None, None) == TurnResult({}, None, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unhashable"):
        hash(state)
    assert NluResult("intent", "A").slots == {} and NluResult("intent", "A").slots is not NluResult("intent", "A").slots
    assert [f.name for f in dataclasses.fields(SlotMatch)] == ["name", "value", "resolved", "id", "status", "type",
                                                          "others"]
    # A handler's model is left out of equality and the hash, as field(compare=False) says.
    with_model = Handler("intent", "A", print, model=IntentModel("A"))
    assert with_model == Handler("intent", "A", print) and hash(with_model) == hash(Handler("intent", "A", print))
    assert str(Problem("r", "w", "t", "", "Fix it.")) == "[r] Fix it."


def test_an_extended_built_in_list_type_takes_a_has_entity_resolution_match_rule():
    from skills_sdk import SlotValue
    from skills_sdk.testing import SkillClient

    skill = Skill("pets", developer_id="d", invocation_name="pet match")
    skill.slot_type("AMAZON.Animal", [SlotValue("mythical creature", synonyms=("unicorn", "dragon"))])

    @skill.intent("AdoptIntent", samples=["adopt a {pet}", "adopt"], slots={"pet": required(
        "AMAZON.Animal", "Which pet?", validations=[has_entity_resolution_match("Only mythical ones. Which pet?")])})
    def adopt(ctx, pet):
        return say(f"A {pet} it is.")

    check_model(skill.model)  # Alexa resolves an extended list type: the rule applies
    client = SkillClient(skill)
    assert client.say("adopt a cat").speech == "Only mythical ones. Which pet?"
    assert client.say("adopt a dragon").speech == "A mythical creature it is."
