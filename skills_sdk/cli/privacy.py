"""``skills audit`` and ``skills privacy ...``: the audit trail, the privacy report, users' capture modes."""

from __future__ import annotations

import json

import click

from ..transcripts.audit import iter_audit
from ..transcripts.capture import CAPTURE_MODES
from ..transcripts.ledger import BACKENDS, backend_of
from ..transcripts.redaction import speedups
from ..transcripts.report import privacy_report
from ..transcripts.sqlite.health import exposed_files
from ._common import db_option, load_skills, open_store

__all__ = ["register", "audit", "privacy"]


@click.command()
@db_option
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many rows, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit(db_path: str, limit: int, as_json: bool) -> None:
    """Show the audit trail: every read, export, erasure, purge, key change and consent change."""
    store = open_store(db_path)
    for row in iter_audit(store, limit=limit):
        if as_json:
            click.echo(json.dumps(row, separators=(",", ":")))
        else:
            filters = json.dumps(row["filters"], separators=(",", ":")) if row["filters"] else "-"
            click.echo(f"{row['at']}  {row['actor']:<18} {row['action']:<14} rows={row['rows']:<6} {filters}")


@click.group()
def privacy() -> None:
    """What the ledger keeps, and what each user lets it keep."""


@privacy.command()
@db_option
@click.option("--skills", "skills_spec", metavar="MODULE:ATTR", help="The skills to report on (default: the examples).")
@click.option("--retention-days", type=click.IntRange(min=1), envvar="SKILLS_RETENTION_DAYS",
              help="The server's default retention, for skills that set none.")
def report(db_path: str, skills_spec: str | None, retention_days: int | None) -> None:
    """Print, per skill: what is recorded, for how long, who can read it, how to erase it.

    Warns (on stderr) when a file of the --db ledger can be read by users other than its owner, and
    when the redactor runs its pure-Python reader (same results, about a third of the speed).
    """
    module, path = backend_of(db_path)
    if module == BACKENDS["sqlite"] and path != ":memory:":
        for name, mode in exposed_files(path):
            click.echo(f"WARNING: {name} has mode {mode:04o}: users other than its owner can read the transcripts in "
                       f"it. Run `chmod 600 {name}` (the ledger makes its files 0600).", err=True)
    if not speedups.compiled():
        why = (f"{speedups.PURE_ENV} is set" if speedups.available()
               else "its C module was not built: no C compiler at install")
        click.echo(f"NOTE: redaction runs its pure-Python reader ({why}): the same results at about a third of the "
                   "speed. See docs/privacy.md, \"Which code runs\".", err=True)
    click.echo(privacy_report(load_skills(skills_spec), default_days=retention_days), nl=False)


@privacy.command()
@db_option
@click.option("--user", "user_id", required=True, help="The user (amzn1.ask.account.…).")
@click.option("--mode", type=click.Choice(CAPTURE_MODES), help="Set it: full, redacted or metadata. Omit to show it.")
def consent(db_path: str, user_id: str, mode: str | None) -> None:
    """Show or set what is recorded about a user from now on."""
    if not user_id.strip():
        raise click.BadParameter("is empty: give the id of the user whose choice this is.", param_hint="--user")
    store = open_store(db_path, must_exist=mode is None, made="The choice holds only for a server on this ledger.")
    if mode is not None:
        store.set_capture_mode(user_id, mode, actor="cli")
    click.echo(f"{user_id}: {store.capture_mode(user_id)}")


def register(main: click.Group) -> None:
    """Add ``audit`` and the ``privacy`` group to ``main``."""
    main.add_command(audit)
    main.add_command(privacy)
