"""``skills say``, ``skills chat`` and ``skills model export``: talk to a skill in text, export its interaction model."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from ._common import db_option, load_skills, open_store, partner_session

__all__ = ["register"]

_SKILLS_OPTION = click.option(
    "--skills", "skills_spec", default=None, metavar="MODULE:ATTR",
    help="Your skills (a Skill, a list, or a factory); default: the four example skills.")
_USER_OPTION = click.option("--user", "user_id", default="simulator-user", show_default=True,
                            help="The user id to speak as.")
_LOCALE_OPTION = click.option("--locale", default=None, metavar="LOCALE",
                              help="The request locale, e.g. de-DE (default: the skill's own locale).")


def _pick(skills_spec: str | None, name: str) -> Any:
    skills = load_skills(skills_spec)
    for skill in skills:
        if skill.name == name:
            return skill
    known = ", ".join(sorted(s.name for s in skills)) or "none"
    where = f"in {skills_spec}" if skills_spec else "among the example skills"
    if skills_spec:
        yours = ""
    elif ":" in name:  # a module:attr where the skill's name goes
        yours = (f" SKILL is a skill's name; {name!r} looks like a module:attr: pass it as --skills {name} "
                 "before the skill's name.")
    else:
        yours = f" For your own, pass --skills MODULE:ATTR (e.g. --skills {name}:skill)."
    raise click.ClickException(f"No skill named {name!r} {where}. Known: {known}.{yours}")


def _conversation(skills_spec: str | None, name: str, db_path: str, user_id: str, session_id: str | None,
                  locale: str | None = None) -> Any:
    from ..host import SkillHost
    from ..simulator import Conversation
    from ..transcripts.compose import ledger_middleware

    skill = _pick(skills_spec, name)
    http = partner_session(skills_spec)  # the module's partner_session() (the examples': offline stand-ins)
    ledger = open_store(db_path, must_exist=False)
    from ..errors import RegistrationError

    try:
        host = SkillHost([skill], state=ledger, http=http, middleware=ledger_middleware(ledger))
    except RegistrationError as exc:  # the model is checked whole when the skill starts (a slot type named but never declared)
        raise click.BadParameter(str(exc), param_hint="--skills") from None
    return Conversation(host, skill.name, user_id=user_id, session_id=session_id,
                        locale=_locale(skill, locale, "--locale"))


def _locale(skill: Any, locale: str | None, hint: str) -> str:
    """``locale`` if the skill serves it (directly or through its fallback chain), else a clear error."""
    from ..locale import LOCALE, fallback_chain

    if locale is None:
        return skill.locale
    if not LOCALE.fullmatch(locale):
        raise click.BadParameter(f"{locale!r} is not a locale such as 'en-US' or 'de-DE'.", param_hint=hint)
    served = skill.locales
    languages = {loc.split("-")[0] for loc in served}
    if locale not in served and locale.split("-")[0] not in languages:
        raise click.BadParameter(f"Skill {skill.name!r} serves {', '.join(served)}; {locale} would fall back to "
                                 f"{fallback_chain(locale, skill.locale)[-2]}. Add it with skill.add_locale({locale!r}, ...).",
                                 param_hint=hint)
    return locale


def _show(turn: Any, skill: str) -> None:
    """Print one turn: what the NLU understood, what the skill answered, the transcript row written."""
    d = turn.to_dict()
    nlu = d["nlu"] or {}
    slots = " ".join(f"{k}={v['value']!r}" + (f"->{v['resolved']}" if v["resolved"] and v["resolved"] != v["value"]
                                               else "") for k, v in (nlu.get("slots") or {}).items())
    heard = nlu.get("intent") or d["request_type"]
    if nlu.get("elicited_slot"):
        heard += f" (answer for {nlu['elicited_slot']})"
    click.echo(f"  heard:      {heard}{'  ' + slots if slots else ''}")
    if nlu.get("hint"):
        click.echo(f"  hint:       {nlu['hint']}")
    speaker = "alexa:" if d.get("spoken_by") == "dialog" else skill + ":"
    click.echo(f"  {speaker:<11} {d['speech'] if d['speech'] is not None else '(says nothing)'}")
    delegated = turn.delegated  # the skill's own Dialog.Delegate answer this turn, if it gave one
    if d.get("spoken_by") == "dialog":
        click.echo("  dialog:     asked by Alexa's dialog model; "
                   + ("the skill delegated to it" if delegated is not None else "the skill was not called"))
    elif d.get("dialog_state"):
        conf = (d.get("confirmation") or {}).get("intent")
        click.echo(f"  dialog:     dialogState={d['dialog_state']}" + (f" confirmation={conf}" if conf != "NONE" else ""))
    if d["reprompt"]:
        click.echo(f"  reprompt:   {d['reprompt']}")
    if d["card"]:
        card = d["card"]
        body = (card.get("content") or card.get("text") or "").replace("\n", " / ")
        click.echo(f"  card:       {card.get('title') or card.get('type')}: {body}")
    for directive in d["directives"]:
        detail = {k: v for k, v in directive.items() if k not in ("type", "updatedIntent")}
        click.echo(f"  directive:  {directive['type']}{' ' + json.dumps(detail) if detail else ''}")
    if d["transaction"]:
        tx = d["transaction"]
        click.echo(f"  transaction: {tx['kind']} {tx['reference']} {tx['amount']} {tx['currency']} ({tx['status']})")
    state = {True: "ended", False: "open", None: "unchanged"}[d["end_session"]]
    click.echo(f"  session:    {state}  {json.dumps(d['session_attributes']) if d['session_attributes'] else ''}".rstrip())
    # A turn the skill delegated wrote its row before the dialog model went on: show it first.
    for row in (delegated.transcript if delegated is not None else None, d["transcript"]):
        if row is None:
            continue
        click.echo(f"  transcript: #{row.get('id')} {row['created_at']} status={row['status']} "
                   f"session={row['session_id']} utterance={row['utterance']!r} speech={row['speech']!r}")
        if row.get("error"):  # what the handler raised (a partner unreachable, say): the user only heard an apology
            click.echo(f"  error:      {row['error']}")


@click.command()
@click.argument("skill")
@click.argument("text")
@db_option
@_USER_OPTION
@click.option("--session", "session_id", default=None, help="The session id to use (a fresh one by default).")
@click.option("--json", "as_json", is_flag=True, help="Print the turn as one JSON object.")
@_LOCALE_OPTION
@_SKILLS_OPTION
def say(skill: str, text: str, db_path: str, user_id: str, session_id: str | None, as_json: bool,
        locale: str | None, skills_spec: str | None) -> None:
    """Say TEXT to SKILL once: print what it understood and answered, and the transcript row written to --db."""
    chat = _conversation(skills_spec, skill, db_path, user_id, session_id, locale)
    try:
        turn = chat.say(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="TEXT") from None
    if as_json:
        click.echo(json.dumps(turn.to_dict(), ensure_ascii=False, default=str))
        return
    click.echo(f"you:          {text}")
    _show(turn, skill)


@click.command()
@click.argument("skill")
@db_option
@_USER_OPTION
@_LOCALE_OPTION
@_SKILLS_OPTION
def chat(skill: str, db_path: str, user_id: str, locale: str | None, skills_spec: str | None) -> None:
    """Talk to SKILL line by line (stdin, until EOF, "quit" or "exit"); the session carries across lines."""
    conversation = _conversation(skills_spec, skill, db_path, user_id, None, locale)
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(f'Talking to {skill} ({conversation.locale}). Try "open {conversation.model.invocation_name}"; '
                   '"quit" ends.')
    while True:
        if interactive:
            click.echo("you> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in ("quit", "exit"):
            break
        if not interactive:
            click.echo(f"you:          {text}")
        try:
            turn = conversation.say(text)
        except ValueError as exc:
            click.echo(f"  (not sent: {exc})")
            continue
        _show(turn, skill)
        if turn.session_ended:
            click.echo("  -- session ended; the next line starts a new one --")


@click.group()
def model() -> None:
    """Work with a skill's interaction model."""


@model.command("export")
@click.argument("skill")
@click.option("--lenient", is_flag=True,
              help="Print broken rules as warnings on stderr and export anyway (Alexa's build will still refuse them).")
@click.option("--locale", default=None, metavar="LOCALE",
              help="The locale to export, e.g. de-DE (default: the skill's own locale).")
@_SKILLS_OPTION
def export_model_command(skill: str, lenient: bool, locale: str | None, skills_spec: str | None) -> None:
    """Print SKILL's interaction model as Alexa JSON (for the developer console or the ASK CLI).

    Alexa's model rules are checked first: a broken rule exits with status 1, naming the rule,
    the text and the fix, and prints no JSON.
    """
    from ..model_rules import check_model
    from ..nlu import export_model

    found = _pick(skills_spec, skill)
    if locale is not None and locale not in found.locales:
        raise click.BadParameter(f"Skill {skill!r} has a model for {', '.join(found.locales)}, not {locale}. "
                                 f"Add one with skill.add_locale({locale!r}, ...).", param_hint="--locale")
    model_ = found.model_for(locale or found.locale)
    problems = check_model(model_)
    for problem in problems:
        click.echo(f"{'warning' if lenient else 'error'}: {problem}", err=True)
    if problems and not lenient:
        raise click.ClickException(
            f"The {model_.locale} model of skill {skill!r} breaks {len(problems)} of Alexa's rules "
            "(listed above), so an Alexa build would refuse it. Fix them, or pass --lenient to export anyway.")
    click.echo(json.dumps(export_model(model_, lenient=True), indent=2, ensure_ascii=False))


@model.command("import")
@click.argument("model_file", metavar="MODEL.json", type=click.Path(dir_okay=False))
@click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False),
              help="Write the module here (default: print it).")
@click.option("--name", default=None, help="The skill's name (default: from the invocation name).")
@click.option("--locale", default=None, metavar="LOCALE",
              help="The model's locale (default: the file's name, e.g. de-DE.json, else en-US).")
@click.option("--lenient", is_flag=True,
              help="Leave out (and list) what the SDK's rules refuse, instead of stopping.")
def import_model_command(model_file: str, out_file: str | None, name: str | None, locale: str | None,
                         lenient: bool) -> None:
    """Write a skill module that declares the interaction model MODEL.json (an ASK project's <locale>.json).

    Whatever the SDK cannot declare is listed on stderr, piece by piece with the reason, and written as
    a comment where it would be. A file that is not an interaction model, or a piece the SDK's rules
    refuse (without --lenient), exits with status 2 and names the field and the fix.
    """
    from ..errors import ModelImportError
    from ..model_import import locale_of, read_model, render, skill_name_for

    try:
        with open(model_file, encoding="utf-8-sig") as f:
            data = json.load(f)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {model_file}: {exc.strerror}.", param_hint="MODEL.json") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.UsageError(f"{model_file} is not JSON ({exc}). Give the interaction model file of an ASK "
                               "project: skill-package/interactionModels/custom/<locale>.json.") from None
    try:
        imported = read_model(data, locale=locale or locale_of(model_file) or "en-US", lenient=lenient)
    except ModelImportError as exc:
        raise click.UsageError(f"{model_file}: {exc}") from None
    for item in imported.left_out:
        click.echo(f"{'warning' if item.kept else 'left out'}: {item.where}: {item.why}", err=True)
    source = render(imported, skill_name=name or skill_name_for(imported.invocation_name),
                    source=os.path.basename(model_file))
    if out_file is None:
        click.echo(source, nl=False)
        return
    with open(out_file, "w", encoding="utf-8") as f:
        f.write(source)
    click.echo(f"wrote {out_file}: {len(imported.intents)} intents, {len(imported.types)} slot types"
               f"{f', {len(imported.left_out)} piece(s) left out or kept with a warning (listed above)' if imported.left_out else ''}.",
               err=True)


@click.command("package")
@click.argument("skill")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="The folder to write skill-package/ (and privacy-policy.txt) into.")
@click.option("--endpoint", default=None, metavar="URI",
              help="Where Alexa sends requests: https://HOST/alexa/SKILL or a Lambda function ARN "
                   "(default: the skill's publish(endpoint=...)).")
@click.option("--ssl-certificate-type", type=click.Choice(["Trusted", "Wildcard", "SelfSigned"]), default="Trusted",
              show_default=True, help="The certificate of an https endpoint.")
@_SKILLS_OPTION
def package_command(skill: str, out_dir: str, endpoint: str | None, ssl_certificate_type: str,
                    skills_spec: str | None) -> None:
    """Write SKILL's skill package for the ASK CLI: skill-package/skill.json and one interaction model per locale.

    Refuses (status 1, nothing written) a package with a required field missing or wrong, or a broken
    model rule, naming each one.
    """
    from ..package import PackageError, write_package
    from ..transcripts.report import privacy_report

    found = _pick(skills_spec, skill)
    try:
        written = write_package(found, out_dir, endpoint=endpoint, ssl_certificate_type=ssl_certificate_type,
                                privacy_policy=privacy_report([found]))
    except PackageError as exc:
        for item in exc.missing:
            click.echo(f"error: {item}", err=True)
        # Not "missing": some are present but wrong (an unknown category, a phrase no sample covers).
        problems = f"{len(exc.missing)} problem{'' if len(exc.missing) == 1 else 's'}"
        raise click.ClickException(f"The package of skill {skill!r} has {problems}, listed above; "
                                   "nothing was written.") from None
    for path in written:
        click.echo(str(path))


def register(main: click.Group) -> None:
    """Add ``say``, ``chat``, the ``model`` group and ``package`` to ``main``."""
    main.add_command(say)
    main.add_command(chat)
    main.add_command(model)
    main.add_command(package_command)
