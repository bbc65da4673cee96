"""The skill package Amazon's tooling deploys: ``skill-package/skill.json`` and one interaction model per locale.

Declare what the store shows with :meth:`skills_sdk.Skill.publish`::

    skill.publish(
        category="FOOD_AND_DRINK",
        listings={"en-US": {"name": "Pizza Shop", "summary": "Order pizza by voice.",
                            "description": "...", "example_phrases": ["Alexa, open pizza shop"]}},
        privacy_policy_url="https://pizza.example/privacy", allows_purchases=True,
    )

then ``skills package pizza --out build/pizza --endpoint https://skills.example.com/alexa/pizza``
writes::

    build/pizza/skill-package/skill.json
    build/pizza/skill-package/interactionModels/custom/en-US.json
    build/pizza/privacy-policy.txt      (from `skills privacy report`: publish it at privacy_policy_url)

:func:`build_package` refuses a package with a required field missing or wrong, naming each one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import RegistrationError, SkillsError

if TYPE_CHECKING:
    from .skill import Skill

__all__ = ["Listing", "Publishing", "PackageError", "build_package", "write_package", "CATEGORIES", "INTERFACES",
           "AUDIO_PLAYER_INTENTS"]

#: Skill store categories Alexa accepts for custom skills (the manifest's ``category``), as the
#: skill manifest reference lists them, with FOOD_AND_DRINK that published manifests use.
CATEGORIES = (
    "ALARMS_AND_CLOCKS", "ASTROLOGY", "BUSINESS_AND_FINANCE", "CALCULATORS", "CALENDARS_AND_REMINDERS",
    "CHILDRENS_EDUCATION_AND_REFERENCE", "CHILDRENS_GAMES", "CHILDRENS_MUSIC_AND_AUDIO",
    "CHILDRENS_NOVELTY_AND_HUMOR", "COMMUNICATION", "CONNECTED_CAR", "COOKING_AND_RECIPE", "CURRENCY_GUIDES_AND_CONVERTERS",
    "DATING", "DELIVERY_AND_TAKEOUT", "DEVICE_TRACKING", "EDUCATION_AND_REFERENCE", "EVENT_FINDERS",
    "EXERCISE_AND_WORKOUT", "FASHION_AND_STYLE", "FLIGHT_FINDERS", "FOOD_AND_DRINK", "FRIENDS_AND_FAMILY", "GAME_INFO_AND_ACCESSORY",
    "GAMES", "HEALTH_AND_FITNESS", "HOTEL_FINDERS", "KNOWLEDGE_AND_TRIVIA", "MOVIE_AND_TV_KNOWLEDGE_AND_TRIVIA",
    "MOVIE_INFO_AND_REVIEWS", "MOVIE_SHOWTIMES", "MUSIC_AND_AUDIO_ACCESSORIES", "MUSIC_AND_AUDIO_KNOWLEDGE_AND_TRIVIA",
    "MUSIC_INFO_REVIEWS_AND_RECOGNITION_SERVICE", "NAVIGATION_AND_TRIP_PLANNER", "NEWS", "NOVELTY",
    "ORGANIZERS_AND_ASSISTANTS", "PETS_AND_ANIMAL", "PODCAST", "PUBLIC_TRANSPORTATION", "RELIGION_AND_SPIRITUALITY",
    "RESTAURANT_BOOKING_INFO_AND_REVIEW", "SCHOOLS", "SCORE_KEEPING", "SELF_IMPROVEMENT", "SHOPPING",
    "SMART_HOME", "SOCIAL_NETWORKING", "SPORTS_GAMES", "SPORTS_NEWS", "STREAMING_SERVICE", "TAXI_AND_RIDESHARING",
    "TO_DO_LISTS_AND_NOTES", "TRANSLATORS", "TV_GUIDES", "UNIT_CONVERTERS", "WEATHER", "WINE_AND_BEVERAGE",
    "ZIP_CODE_LOOKUP",
)
#: The built-in intents Alexa requires of a skill that declares the ``AUDIO_PLAYER`` interface.
AUDIO_PLAYER_INTENTS = ("AMAZON.PauseIntent", "AMAZON.ResumeIntent")

#: Interfaces a custom skill declares in ``apis.custom.interfaces``.
INTERFACES = ("AUDIO_PLAYER", "VIDEO_APP", "RENDER_TEMPLATE", "ALEXA_PRESENTATION_APL", "ALEXA_PRESENTATION_HTML",
              "CAN_FULFILL_INTENT_REQUEST", "GAME_ENGINE", "GADGET_CONTROLLER")
_LAMBDA_ARN = re.compile(r"arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?")
_SSL_TYPES = ("Trusted", "Wildcard", "SelfSigned")
_WAKE = re.compile(r"^alexa[,]?\s", re.I)


class PackageError(SkillsError):
    """The skill package cannot be built; ``missing`` names each required field missing or wrong, and the fix."""

    def __init__(self, skill: str, missing: Iterable[str]) -> None:
        self.missing = tuple(missing)
        listed = "\n".join(f"  - {m}" for m in self.missing)
        super().__init__(f"The package of skill {skill!r} cannot be built:\n{listed}")


@dataclass(frozen=True)
class Listing:
    """What the skill store shows in one locale."""

    name: str = ""
    summary: str = ""
    description: str = ""
    example_phrases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    small_icon_uri: str | None = None
    large_icon_uri: str | None = None


@dataclass(frozen=True)
class Publishing:
    """A skill's store listing, permissions and privacy and compliance answers (``skill.publish(...)``)."""

    category: str | None = None
    listings: Mapping[str, Listing] = field(default_factory=dict)
    privacy_policy_url: str | Mapping[str, str] | None = None
    terms_of_use_url: str | Mapping[str, str] | None = None
    permissions: tuple[str, ...] = ()
    interfaces: tuple[str, ...] = ()
    allows_purchases: bool = False
    is_child_directed: bool = False
    contains_ads: bool = False
    is_export_compliant: bool = True
    distribution_countries: tuple[str, ...] = ()
    testing_instructions: str = ""
    endpoint: str | None = None

    @classmethod
    def of(cls, *, listings: Mapping[str, Mapping[str, Any] | Listing] | None = None,
           permissions: Iterable[str] = (), interfaces: Iterable[str] = (),
           distribution_countries: Iterable[str] = (), **fields: Any) -> Publishing:
        """Build from plain dicts and lists, refusing an unknown field at once."""
        known = {f for f in cls.__dataclass_fields__} - {"listings", "permissions", "interfaces",
                                                         "distribution_countries"}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise RegistrationError(f"skill.publish() got unknown field(s) {', '.join(unknown)}. "
                                    f"Known: {', '.join(sorted(known | {'listings', 'permissions', 'interfaces'}))}.")
        made: dict[str, Listing] = {}
        for locale, value in (listings or {}).items():
            if isinstance(value, Listing):
                made[locale] = value
                continue
            bad = sorted(set(value) - set(Listing.__dataclass_fields__))
            if bad:
                raise RegistrationError(f"listings[{locale!r}] has unknown field(s) {', '.join(bad)}. "
                                        f"Known: {', '.join(Listing.__dataclass_fields__)}.")
            for key in ("example_phrases", "keywords"):
                if isinstance(value.get(key), str):
                    raise RegistrationError(f"listings[{locale!r}].{key} must be a list of strings, not one string.")
            fields_: dict[str, Any] = {k: tuple(v) if k in ("example_phrases", "keywords") else v
                                       for k, v in value.items()}
            made[locale] = Listing(**fields_)
        return cls(listings=made, permissions=tuple(permissions), interfaces=tuple(interfaces),
                   distribution_countries=tuple(distribution_countries), **fields)


def _per_locale(value: str | Mapping[str, str] | None, locale: str) -> str | None:
    if isinstance(value, Mapping):
        return value.get(locale) or value.get(locale.split("-")[0])
    return value


def build_package(skill: Skill, *, endpoint: str | None = None,
                  ssl_certificate_type: str = "Trusted") -> dict[str, Any]:
    """``{"skill.json": manifest, "interactionModels/custom/<locale>.json": model, ...}`` for ``skill``.

    >>> files = build_package(pizza, endpoint="arn:aws:lambda:us-east-1:123456789012:function:pizza")  # doctest: +SKIP
    >>> sorted(files)                                                                                  # doctest: +SKIP
    ['interactionModels/custom/de-DE.json', 'interactionModels/custom/en-US.json', 'skill.json']

    :param endpoint: where Alexa sends requests: ``https://host/alexa/<skill>`` (self-hosted) or a
        Lambda function ARN; default the one given to ``skill.publish(endpoint=...)``.
    :raises PackageError: naming every required field missing or wrong (and every model rule broken).
    """
    from .model_rules import check_model
    from .nlu import export_model
    from .simulator import matcher_for

    pub: Publishing = getattr(skill, "publishing", None) or Publishing()
    missing: list[str] = []
    hint = "skill.publish(...)"
    if pub.category is None:
        missing.append(f"manifest.publishingInformation.category: give {hint} category=, one of Alexa's categories "
                       "such as 'DELIVERY_AND_TAKEOUT' (skills_sdk.package.CATEGORIES)")
    elif pub.category not in CATEGORIES:
        missing.append(f"manifest.publishingInformation.category: {pub.category!r} is not a category Alexa knows; "
                       "see skills_sdk.package.CATEGORIES")
    for interface in pub.interfaces:
        if interface not in INTERFACES:
            missing.append(f"manifest.apis.custom.interfaces: {interface!r} is not one of {', '.join(INTERFACES)}")
    if "AUDIO_PLAYER" in pub.interfaces:
        have = {intent.name for intent in skill.model.intents}
        for name in AUDIO_PLAYER_INTENTS:
            if name not in have:
                # Alexa's build refuses the model without it; and without a handler, "Alexa, pause"
                # would reach the fallback and be told the skill can't help while the stream plays on.
                missing.append(f"interactionModels: the skill declares the AUDIO_PLAYER interface, which needs "
                               f"{name}; handle it: @skill.intent({name!r}) (return empty().stop_audio() "
                               "to pause, or empty().play(...) from the stored offset to resume)")
    uri = endpoint or pub.endpoint
    endpoint_json: dict[str, Any] = {}
    if not uri:
        missing.append("manifest.apis.custom.endpoint.uri: give --endpoint https://your-host/alexa/"
                       f"{skill.name} (self-hosted) or --endpoint arn:aws:lambda:REGION:ACCOUNT:function:NAME (Lambda)")
    elif _LAMBDA_ARN.fullmatch(uri):
        endpoint_json = {"uri": uri}
    elif uri.startswith("https://") and len(uri) > len("https://"):
        if ssl_certificate_type not in _SSL_TYPES:
            missing.append(f"manifest.apis.custom.endpoint.sslCertificateType: {ssl_certificate_type!r} is not one "
                           f"of {', '.join(_SSL_TYPES)}")
        endpoint_json = {"uri": uri, "sslCertificateType": ssl_certificate_type}
    else:
        missing.append(f"manifest.apis.custom.endpoint.uri: {uri!r} is neither an https:// URL nor a Lambda "
                       "function ARN; Alexa calls only those")

    from .errors import ModelError

    try:
        skill.check_locales()
    except ModelError as exc:
        missing += [str(p) for p in getattr(exc, "problems", ())] or [str(exc)]
    files: dict[str, Any] = {}
    locales_json: dict[str, Any] = {}
    privacy_locales: dict[str, Any] = {}
    for locale in skill.locales:
        model = skill.model_for(locale)
        problems = check_model(model)
        missing += [f"interactionModels/custom/{locale}.json: {p}" for p in problems]
        if not problems:
            files[f"interactionModels/custom/{locale}.json"] = export_model(model)
        listing = pub.listings.get(locale)
        where = f"manifest.publishingInformation.locales.{locale}"
        if listing is None:
            missing.append(f"{where}: the skill serves {locale} but lists nothing for it; give {hint} "
                           f"listings={{{locale!r}: {{'name': ..., 'summary': ..., 'description': ..., "
                           "'example_phrases': [...]}}")
            continue
        for key, label in (("name", "name"), ("summary", "summary"), ("description", "description")):
            if not getattr(listing, key).strip():
                missing.append(f"{where}.{label}: give listings[{locale!r}][{key!r}]")
        if not listing.example_phrases:
            missing.append(f"{where}.examplePhrases: give listings[{locale!r}]['example_phrases'], e.g. "
                           f"['Alexa, open {model.invocation_name}']")
        elif len(listing.example_phrases) > 3:
            missing.append(f"{where}.examplePhrases: {len(listing.example_phrases)} given; Alexa shows at most 3")
        else:
            missing += _check_phrases(listing.example_phrases, model.invocation_name, matcher_for(skill, locale),
                                      f"{where}.examplePhrases")
        entry: dict[str, Any] = {"name": listing.name, "summary": listing.summary, "description": listing.description,
                                 "examplePhrases": list(listing.example_phrases)}
        if listing.keywords:
            entry["keywords"] = list(listing.keywords)
        for key, label in (("small_icon_uri", "smallIconUri"), ("large_icon_uri", "largeIconUri")):
            if getattr(listing, key):
                entry[label] = getattr(listing, key)
        locales_json[locale] = entry
        # Every skill on this SDK keeps transcripts tied to the user's id: personal information,
        # for which Alexa requires a privacy policy in each locale.
        policy = _per_locale(pub.privacy_policy_url, locale)
        if not policy:
            missing.append(f"manifest.privacyAndCompliance.locales.{locale}.privacyPolicyUrl: the skill keeps "
                           f"transcripts tied to users, so Alexa needs a privacy policy; give {hint} "
                           "privacy_policy_url= (publish the privacy-policy.txt this command writes there)")
        elif not policy.startswith("https://"):
            missing.append(f"manifest.privacyAndCompliance.locales.{locale}.privacyPolicyUrl: {policy!r} "
                           "must be an https:// URL")
        privacy_locales[locale] = {"privacyPolicyUrl": policy or ""}
        terms = _per_locale(pub.terms_of_use_url, locale)
        if terms:
            privacy_locales[locale]["termsOfUseUrl"] = terms
    extra = sorted(set(pub.listings) - set(skill.locales))
    if extra:
        missing.append(f"manifest.publishingInformation.locales: listings for {', '.join(extra)}, which the skill "
                       f"does not serve (it serves {', '.join(skill.locales)}); add the locale with "
                       "skill.add_locale(...) or drop the listing")
    if missing:
        raise PackageError(skill.name, missing)

    publishing: dict[str, Any] = {"locales": locales_json, "category": pub.category,
                                  "isAvailableWorldwide": not pub.distribution_countries}
    if pub.distribution_countries:
        publishing["distributionCountries"] = list(pub.distribution_countries)
    publishing["testingInstructions"] = pub.testing_instructions or (
        f"Say 'Alexa, open {skill.invocation_name}'. " + (skill.description or ""))
    custom: dict[str, Any] = {"endpoint": endpoint_json}
    if pub.interfaces:
        custom["interfaces"] = [{"type": i} for i in pub.interfaces]
    manifest: dict[str, Any] = {"manifestVersion": "1.0", "publishingInformation": publishing,
                                "apis": {"custom": custom}}
    if pub.permissions:
        manifest["permissions"] = [{"name": p} for p in pub.permissions]
    manifest["privacyAndCompliance"] = {
        "allowsPurchases": pub.allows_purchases,
        "usesPersonalInfo": True,
        "isChildDirected": pub.is_child_directed,
        "isExportCompliant": pub.is_export_compliant,
        "containsAds": pub.contains_ads,
        "locales": privacy_locales,
    }
    files["skill.json"] = {"manifest": manifest}
    return files


def _check_phrases(phrases: Iterable[str], invocation: str, matcher: Any, where: str) -> list[str]:
    """Alexa's rules for example phrases: the first wakes Alexa and names the skill; each is understood."""
    out: list[str] = []
    for n, phrase in enumerate(phrases):
        if n == 0 and (not _WAKE.match(phrase) or invocation not in phrase.lower()):
            out.append(f"{where}[0]: {phrase!r} must start with 'Alexa, ' and name the skill "
                       f"('Alexa, open {invocation}')")
        spoken = _WAKE.sub("", phrase)
        result = matcher.match(spoken)
        if result.kind != "launch" and (result.intent is None or result.intent == "AMAZON.FallbackIntent"):
            out.append(f"{where}[{n}]: {phrase!r} matches no sample of the skill, so it would not work as "
                       "shown; use a phrase the skill's samples cover")
    return out


def write_package(skill: Skill, out: str | Path, *, endpoint: str | None = None,
                  ssl_certificate_type: str = "Trusted", privacy_policy: str | None = None) -> list[Path]:
    """Build the package (see :func:`build_package`) and write it under ``out``; the files written.

    Nothing is written when a required field is missing or wrong.
    """
    files = build_package(skill, endpoint=endpoint, ssl_certificate_type=ssl_certificate_type)
    root = Path(out)
    written = []
    for name, data in sorted(files.items()):
        path = root / "skill-package" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    if privacy_policy is not None:
        path = root / "privacy-policy.txt"
        path.write_text(privacy_policy, encoding="utf-8")
        written.append(path)
    return written
