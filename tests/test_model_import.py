"""`skills model import`: real interaction models round-trip through a generated module, and bad input is named."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.errors import ModelImportError
from skills_sdk.model import _default_id
from skills_sdk.model_import import locale_of, read_model, render
from skills_sdk.nlu import REQUIRED_INTENTS, export_model

MODELS = Path(__file__).parent / "fixtures" / "models"
CORPUS = sorted(p.name for p in MODELS.glob("*.json"))

#: What each model loses on the way, by its place in the JSON: the test fails on anything left out unannounced.
LEFT_OUT = {
    "audiobookshelf_en-US.json": ["interactionModel.languageModel.intents[ContinueListeningIntent].samples['continue']",
                                  "interactionModel.languageModel.intents[ContinueListeningIntent].samples['resume']"],
    "audioplayer_en-US.json": [".version"],
    "coffeeshop_ja-JP.json": ["invocation name (ja-JP)"],
    "conversations_petmatch_en-US.json": ["interactionModel.languageModel.types[name]"],
    "fact_de-DE.json": ["interactionModel.languageModel.types[FactType].values[2]"],
    "fact_ja-JP.json": ["interactionModel.languageModel.types[FactType].values[2]"],
    "factisp_en-US.json": ["interactionModel.dialog.intents[GetCategoryFactIntent]",
                           "interactionModel.prompts[Elicit.Slot.339715283752.1159186034704]"],
    "petmatch_en-US.json": ["interactionModel.languageModel.intents[PetMatchIntent].slots[size].samples['{temperament} {pet}']",
                            "interactionModel.languageModel.intents[PetMatchIntent].slots[size].samples['{energy} energy']"],
}


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def _words(text: str) -> str:
    return " ".join(text.split())


def _normal(data: dict, left: list[str], added_to: dict | None = None) -> dict:
    """The model as a comparable dict: order, whitespace and the built-ins our export adds do not count;
    what the import reported as left out is taken out of the original."""
    im = data["interactionModel"]
    lm = im["languageModel"]
    prompts = {p["id"]: [(v["type"], _words(v["value"])) for v in p["variations"]] for p in im.get("prompts") or ()}

    def gone(where: str) -> bool:
        return where in left

    base = "interactionModel.languageModel"
    intents = {}
    for i in lm["intents"]:
        iw = f"{base}.intents[{i['name']}]"
        intents[i["name"]] = {
            "samples": sorted({_words(s) for s in i.get("samples") or () if not gone(f"{iw}.samples[{_words(s)!r}]")}),
            "slots": {s["name"]: (s["type"], sorted({_words(x) for x in s.get("samples") or ()
                                                     if not gone(f"{iw}.slots[{s['name']}].samples[{_words(x)!r}]")}))
                      for s in i.get("slots") or ()},
        }
    for name in REQUIRED_INTENTS:  # built-ins our export adds to every model that lacks them
        if added_to is not None and name not in {i["name"] for i in added_to["interactionModel"]["languageModel"]["intents"]}:
            intents.pop(name, None)
    types = {}
    for t in lm.get("types") or ():
        if gone(f"{base}.types[{t['name']}]"):
            continue
        types[t["name"]] = {v["name"]["value"]: (v.get("id") or _default_id(v["name"]["value"]),
                                                 sorted(v["name"].get("synonyms") or ()))
                            for n, v in reversed(list(enumerate(t["values"])))
                            if not gone(f"{base}.types[{t['name']}].values[{n}]")}
    dialog = {}
    for d in (im.get("dialog") or {}).get("intents") or ():
        dw = f"interactionModel.dialog.intents[{d['name']}]"
        if gone(dw):
            continue
        slots = {}
        for s in d.get("slots") or ():
            rules = [(v["type"], {k: x for k, x in v.items() if k not in ("type", "prompt")}, prompts[v["prompt"]])
                     for n, v in enumerate(s.get("validations") or ())
                     if not gone(f"{dw}.slots[{s['name']}].validations[{n}]")]
            ps = s.get("prompts") or {}
            entry = (s["elicitationRequired"], prompts.get(ps.get("elicitation")) if s["elicitationRequired"] else None,
                     s["confirmationRequired"], prompts.get(ps.get("confirmation")) if s["confirmationRequired"] else None,
                     rules)
            if entry[0] or entry[2] or rules:
                slots[s["name"]] = entry
        confirm = prompts.get((d.get("prompts") or {}).get("confirmation")) if d.get("confirmationRequired") else None
        dialog[d["name"]] = {"delegation": d.get("delegationStrategy"), "confirm": confirm, "slots": slots}
    strategy = (im.get("dialog") or {}).get("delegationStrategy") or "ALWAYS"
    return {"invocation": lm["invocationName"], "intents": intents, "types": types,
            "dialog": dialog, "strategy": strategy if dialog else None}


@pytest.mark.parametrize("name", CORPUS)
def test_a_real_model_round_trips_through_the_generated_module(name, tmp_path):
    original = json.loads((MODELS / name).read_text(encoding="utf-8"))
    imported = read_model(original, locale=locale_of(name), lenient=True)
    assert sorted(item.where for item in imported.left_out) == sorted(LEFT_OUT.get(name, []))
    path = tmp_path / "imported_skill.py"
    path.write_text(render(imported, skill_name="imported", source=name), encoding="utf-8")
    skill = _load(path, f"imported_{abs(hash(name))}").skill
    exported = export_model(skill.model, lenient=True)
    left = [item.where for item in imported.left_out if not item.kept]
    assert _normal(exported, [], original) == _normal(original, left)


def test_the_cli_writes_the_module_and_lists_what_it_left_out(tmp_path):
    out = tmp_path / "skill.py"
    result = CliRunner().invoke(main, ["model", "import", str(MODELS / "factisp_en-US.json"), "--lenient",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert ("left out: interactionModel.dialog.intents[GetCategoryFactIntent]: it has no dialog rule"
            in result.stderr)
    text = out.read_text()
    assert "# left out: interactionModel.dialog.intents[GetCategoryFactIntent]" in text
    assert '@skill.intent("GetCategoryFactIntent"' in text.replace("'", '"')


def test_a_file_that_is_not_json_is_refused_naming_it(tmp_path):
    bad = tmp_path / "en-US.json"
    bad.write_text("{interactionModel: }")
    result = CliRunner().invoke(main, ["model", "import", str(bad)])
    assert result.exit_code == 2
    assert "is not JSON" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("data, message", [
    ({"manifest": {}}, "interactionModel: missing"),
    ([1, 2], "the file: expected an object"),
    ({"interactionModel": {"languageModel": {"intents": []}}}, "languageModel.invocationName: expected a string"),
    ({"interactionModel": {"languageModel": {"invocationName": "pizza shop", "intents": {}}}},
     "languageModel.intents: expected a list"),
    ({"interactionModel": {"languageModel": {"invocationName": "Pizza Shop", "intents": []}}},
     "[invocation-name.characters]"),
])
def test_what_is_no_interaction_model_names_the_field(data, message):
    with pytest.raises(ModelImportError) as exc:
        read_model(data)
    assert message in str(exc.value)


def _model(samples, **extra):
    return {"interactionModel": {"languageModel": {"invocationName": "pizza shop", "intents": [
        {"name": "OrderIntent", "samples": samples, "slots": [{"name": "size", "type": "AMAZON.NUMBER", **extra}]}]}}}


def test_a_sample_with_digits_is_refused_with_the_rule_and_the_fix(tmp_path):
    path = tmp_path / "en-US.json"
    path.write_text(json.dumps(_model(["order 2 pizzas", "order {size} pizzas"])))
    result = CliRunner().invoke(main, ["model", "import", str(path)])
    assert result.exit_code == 2
    assert "intents[OrderIntent].samples['order 2 pizzas']" in result.stderr
    assert "[sample.digits]" in result.stderr and "--lenient" in result.stderr
    lenient = CliRunner().invoke(main, ["model", "import", str(path), "--lenient"])
    assert lenient.exit_code == 0
    assert "left out: interactionModel.languageModel.intents[OrderIntent].samples['order 2 pizzas']" in lenient.stderr
    assert '"order {size} pizzas"' in lenient.stdout and "order 2 pizzas" in lenient.stdout  # the comment


def test_a_blank_sample_is_left_out_on_its_own_and_the_module_builds(tmp_path):
    path = tmp_path / "en-US.json"
    path.write_text(json.dumps(_model(["order {size} pizzas", "   "])))
    strict = CliRunner().invoke(main, ["model", "import", str(path)])
    assert strict.exit_code == 2
    assert "intents[OrderIntent].samples['']" in strict.stderr and "empty sample" in strict.stderr
    out = tmp_path / "blank_skill.py"
    lenient = CliRunner().invoke(main, ["model", "import", str(path), "--lenient", "--out", str(out)])
    assert lenient.exit_code == 0, lenient.output
    assert "left out: interactionModel.languageModel.intents[OrderIntent].samples['']" in lenient.stderr
    skill = _load(out, "blank_skill").skill  # a module that raises ModelError on import is no module
    assert [i.samples for i in skill.model.intents if i.name == "OrderIntent"] == [("order {size} pizzas",)]


def test_the_models_own_check_names_the_intent_sample_and_slot_of_each_problem():
    from skills_sdk.errors import ModelError
    from skills_sdk.model import IntentModel, InteractionModel
    from skills_sdk.nlu import validate_model

    model = InteractionModel("pizza shop", (
        IntentModel("Order", ("order a {size}", "order it"), {"size": "AMAZON.NUBMER"}),
        IntentModel("Again", ("order it",))))
    with pytest.raises(ModelError) as exc:
        validate_model(model)
    found = {(p.intent, p.sample, p.slot) for p in exc.value.problems}
    assert found == {("Order", None, "size"), ("Again", "order it", None)}
    assert all(str(p) in str(exc.value) for p in exc.value.problems)


def test_an_unsupported_slot_feature_is_left_out_saying_why():
    imported = read_model(_model(["order {size} pizzas"], multipleValues={"enabled": True}))
    [item] = imported.left_out
    assert item.where == "interactionModel.languageModel.intents[OrderIntent].slots[size].multipleValues"
    assert "multiple-value" in item.why
    assert "# left out: interactionModel.languageModel.intents[OrderIntent].slots[size].multipleValues" in \
        render(imported, skill_name="pizza")


def test_model_configuration_is_left_out_at_the_top_of_the_module():
    data = _model(["order {size} pizzas"])
    data["interactionModel"]["languageModel"]["modelConfiguration"] = {"fallbackIntentSensitivity": {"level": "LOW"}}
    imported = read_model(data)
    assert [i.where for i in imported.left_out] == ["interactionModel.languageModel.modelConfiguration"]
    assert re.search(r"^# left out: interactionModel.languageModel.modelConfiguration: .*console",
                     render(imported, skill_name="pizza"), re.M)


def test_the_locale_comes_from_the_ask_file_name():
    assert locale_of("skill-package/interactionModels/custom/de-DE.json") == "de-DE"
    assert locale_of("models/fact_ja-JP.json") == "ja-JP"
    assert locale_of("model.json") is None
