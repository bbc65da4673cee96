"""`skills package`: the layout Amazon's skill tooling deploys, refused with every missing field named."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from example_skills import all_skills
from example_skills.pizza import create_skill
from skills_sdk import Skill, empty, say
from skills_sdk.cli import main
from skills_sdk.errors import RegistrationError
from skills_sdk.nlu import export_model
from skills_sdk.package import PackageError, build_package
from skills_sdk.transcripts.report import privacy_report

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:pizza-skill"


@pytest.mark.parametrize("skill", all_skills(), ids=lambda s: s.name)
def test_every_example_skill_packages_with_a_model_per_locale(skill):
    files = build_package(skill, endpoint=f"https://skills.example.com/alexa/{skill.name}")
    manifest = files["skill.json"]["manifest"]
    assert sorted(files) == sorted(["skill.json", *(f"interactionModels/custom/{loc}.json" for loc in skill.locales)])
    for locale in skill.locales:
        assert files[f"interactionModels/custom/{locale}.json"] == export_model(skill.model_for(locale))
        assert manifest["publishingInformation"]["locales"][locale]["examplePhrases"][0].startswith("Alexa, ")
        assert manifest["privacyAndCompliance"]["locales"][locale]["privacyPolicyUrl"].startswith("https://")
    assert manifest["apis"]["custom"]["endpoint"] == {"uri": f"https://skills.example.com/alexa/{skill.name}",
                                                      "sslCertificateType": "Trusted"}
    assert manifest["privacyAndCompliance"]["usesPersonalInfo"] is True  # every skill here keeps transcripts


def test_manifest_follows_the_skill_declarations():
    music = next(s for s in all_skills() if s.name == "music")
    manifest = build_package(music, endpoint=ARN)["skill.json"]["manifest"]
    assert manifest["manifestVersion"] == "1.0"
    assert manifest["apis"]["custom"] == {"endpoint": {"uri": ARN}, "interfaces": [{"type": "AUDIO_PLAYER"}]}
    assert manifest["publishingInformation"]["category"] == "STREAMING_SERVICE"
    assert manifest["privacyAndCompliance"]["allowsPurchases"] is True
    pizza = build_package(create_skill(), endpoint=ARN)["skill.json"]["manifest"]
    assert pizza["publishingInformation"]["locales"]["de-DE"]["name"] == "Pizza Laden"
    assert set(pizza["privacyAndCompliance"]["locales"]) == {"en-US", "de-DE"}


def bare(**publish) -> Skill:
    skill = Skill("cafe", developer_id="me", invocation_name="corner cafe")
    skill.add_intent("OrderIntent", lambda ctx: say("ok"), samples=["order a latte"])
    if publish:
        skill.publish(**publish)
    return skill


LISTING = {"name": "Corner Cafe", "summary": "Coffee by voice.", "description": "Order coffee.",
           "example_phrases": ["Alexa, open corner cafe", "Alexa, ask corner cafe to order a latte"]}
GOOD = {"category": "FOOD_AND_DRINK", "privacy_policy_url": "https://cafe.example/privacy",
        "listings": {"en-US": LISTING}}


@pytest.mark.parametrize("publish, endpoint, missing", [
    ({}, None, ["publishingInformation.category", "endpoint.uri: give --endpoint",
                "locales.en-US: the skill serves en-US but lists nothing"]),
    ({**GOOD, "category": "COFFEE"}, ARN, ["'COFFEE' is not a category Alexa knows"]),
    (GOOD, "http://cafe.example/alexa/cafe", ["neither an https:// URL nor a Lambda function ARN"]),
    ({**GOOD, "listings": {"en-US": {**LISTING, "summary": ""}}}, ARN, ["locales.en-US.summary"]),
    ({**GOOD, "listings": {"en-US": {**LISTING, "example_phrases": []}}}, ARN, ["examplePhrases: give"]),
    ({**GOOD, "listings": {"en-US": {**LISTING, "example_phrases": ["open corner cafe"]}}}, ARN,
     ["must start with 'Alexa, ' and name the skill"]),
    ({**GOOD, "listings": {"en-US": {**LISTING, "example_phrases": ["Alexa, open corner cafe",
                                                                   "Alexa, ask corner cafe to book a flight"]}}},
     ARN, ["matches no sample of the skill"]),
    ({**GOOD, "privacy_policy_url": None}, ARN, ["privacyPolicyUrl: the skill keeps transcripts tied to users"]),
    ({**GOOD, "privacy_policy_url": "http://cafe.example/privacy"}, ARN, ["must be an https:// URL"]),
    ({**GOOD, "listings": {"en-US": LISTING, "fr-FR": LISTING}}, ARN, ["listings for fr-FR, which the skill does not"]),
    ({**GOOD, "interfaces": ["HOLOGRAM"]}, ARN, ["'HOLOGRAM' is not one of"]),
    ({**GOOD, "interfaces": ["AUDIO_PLAYER"]}, ARN, ["AUDIO_PLAYER interface, which needs AMAZON.PauseIntent",
                                                     "AUDIO_PLAYER interface, which needs AMAZON.ResumeIntent"]),
])
def test_a_missing_or_wrong_required_field_is_refused_naming_it(publish, endpoint, missing):
    with pytest.raises(PackageError) as info:
        build_package(bare(**publish), endpoint=endpoint)
    text = str(info.value)
    for expected in missing:
        assert expected in text, text
    assert len(info.value.missing) == len(missing)


def test_an_audio_skill_that_handles_pause_and_resume_packages_with_both_in_its_model():
    skill = bare(**GOOD, interfaces=["AUDIO_PLAYER"])
    skill.add_intent("AMAZON.PauseIntent", lambda ctx: empty().stop_audio())
    skill.add_intent("AMAZON.ResumeIntent", lambda ctx: empty())
    names = [i["name"] for i in build_package(skill, endpoint=ARN)["interactionModels/custom/en-US.json"]
             ["interactionModel"]["languageModel"]["intents"]]
    assert {"AMAZON.PauseIntent", "AMAZON.ResumeIntent"} <= set(names)


def test_a_broken_model_rule_refuses_the_package():
    skill = Skill("cafe", developer_id="me", invocation_name="cafe")
    skill.add_intent("OrderIntent", lambda ctx: say("ok"), samples=["order a latte"])
    skill.publish(**{**GOOD, "listings": {"en-US": {**LISTING, "example_phrases": ["Alexa, open cafe"]}}})
    with pytest.raises(PackageError, match=r"interactionModels/custom/en-US.json: \[invocation-name.words\]"):
        build_package(skill, endpoint=ARN)


def test_publish_refuses_unknown_fields_at_once():
    with pytest.raises(RegistrationError, match="unknown field.*privacy_url"):
        bare(privacy_url="https://cafe.example")
    with pytest.raises(RegistrationError, match=r"listings\['en-US'\] has unknown field\(s\) title"):
        bare(listings={"en-US": {"title": "Cafe"}})


def test_cli_writes_the_package_and_the_privacy_policy(tmp_path):
    out = tmp_path / "pizza"
    result = CliRunner().invoke(main, ["package", "pizza", "--out", str(out), "--endpoint", ARN])
    assert result.exit_code == 0, result.output
    package = out / "skill-package"
    assert json.loads((package / "skill.json").read_text())["manifest"]["apis"]["custom"]["endpoint"] == {"uri": ARN}
    german = json.loads((package / "interactionModels" / "custom" / "de-DE.json").read_text())
    assert german["interactionModel"]["languageModel"]["invocationName"] == "pizza laden"
    assert (out / "privacy-policy.txt").read_text() == privacy_report([create_skill()])
    assert str(package / "skill.json") in result.stdout


def test_cli_refuses_without_writing_anything(tmp_path):
    out = tmp_path / "pizza"
    result = CliRunner().invoke(main, ["package", "pizza", "--out", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert "error: manifest.apis.custom.endpoint.uri: give --endpoint" in result.stderr
    assert "Error: The package of skill 'pizza' has 1 problem, listed above; nothing was written." in result.stderr


def test_cli_does_not_call_a_wrong_field_missing(tmp_path):
    """The summary said "missing 1 required thing(s)" of an endpoint given, but not one Alexa calls."""
    out = tmp_path / "pizza"
    result = CliRunner().invoke(main, ["package", "pizza", "--out", str(out),
                                       "--endpoint", "http://skills.example.com/alexa/pizza"])
    assert result.exit_code == 1 and not out.exists()
    assert "'http://skills.example.com/alexa/pizza' is neither an https:// URL" in result.stderr
    assert "has 1 problem, listed above" in result.stderr and "missing" not in result.stderr, result.stderr
