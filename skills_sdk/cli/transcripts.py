"""``skills transcripts ...``: export (and, with the privacy commands, erase and purge) transcripts."""

from __future__ import annotations

import csv
import json
import sys
from itertools import islice

import click

from ..transcripts.store import COLUMNS
from ._common import db_option, iso_time, open_store
from ._progress import Progress

__all__ = ["register", "transcripts"]

#: The keys every exported transcript has, in order.
EXPORT_KEYS = [c for c in COLUMNS]
#: Rows between progress updates (an export writes this many at a time).
PROGRESS_EVERY = 1000


@click.group()
def transcripts() -> None:
    """Read and manage recorded transcripts."""


@transcripts.command()
@db_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--user", "user_id", help="Only this user's transcripts.")
@click.option("--developer", "developer_id", help="Only this developer's transcripts.")
@click.option("--skill", help="Only this skill's transcripts.")
@click.option("--session", "session_id", help="Only this session's turns.")
@click.option("--since", callback=iso_time("--since"), help="From this time (ISO-8601, UTC if no zone).")
@click.option("--until", callback=iso_time("--until"), help="Before this time (ISO-8601).")
def export(db_path: str, fmt: str, user_id: str | None, developer_id: str | None, skill: str | None,
           session_id: str | None, since: str | None, until: str | None) -> None:
    """Print transcripts, oldest first: one JSON object per line, or CSV with a header."""
    store = open_store(db_path)
    filters = dict(developer_id=developer_id, skill=skill, user_id=user_id, session_id=session_id,
                   since=since, until=until)
    out = sys.stdout
    # Progress goes to stderr, and only when the rows are not scrolling past on the same terminal.
    with Progress("exported", enabled=not out.isatty()) as bar:
        if fmt == "jsonl":
            # SQLite encodes each line (same text as json.dumps of the decoded row): no per-row Python.
            lines = store.iter_jsonl(**filters)
            while chunk := list(islice(lines, PROGRESS_EVERY)):
                out.write("\n".join(chunk) + "\n")
                bar.update(bar.done + len(chunk))
            return
        writer = csv.DictWriter(out, fieldnames=EXPORT_KEYS, extrasaction="ignore")
        writer.writeheader()
        rows = store.iter_transcripts(**filters)
        while chunk := list(islice(rows, PROGRESS_EVERY)):
            writer.writerows({k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in row.items()}
                             for row in chunk)
            bar.update(bar.done + len(chunk))


@transcripts.command()
@db_option
@click.option("--user", "user_id", required=True, help="The user whose transcripts to erase.")
@click.option("--skill", help="Only this skill's transcripts (default: every skill).")
def erase(db_path: str, user_id: str, skill: str | None) -> None:
    """Erase a user's transcripts and saved state, leave no byte of them in the files, print the receipt."""
    from ..errors import ErasureIncomplete
    from ..transcripts.erasure import erase_user

    store = open_store(db_path)
    try:
        receipt = erase_user(store, user_id, skill=skill)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except ErasureIncomplete as exc:
        click.echo(json.dumps(exc.receipt, indent=2))
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(receipt, indent=2))


@transcripts.command()
@db_option
@click.option("--skills", "skills_spec", metavar="MODULE:ATTR", help="Whose retention applies (default: the examples).")
@click.option("--retention-days", type=click.IntRange(min=1), envvar="SKILLS_RETENTION_DAYS",
              help="Retention of skills that set none (default: keep them).")
@click.option("--now", callback=iso_time("--now"), help="Purge as if it were this time (ISO-8601).")
def purge(db_path: str, skills_spec: str | None, retention_days: int | None, now: str | None) -> None:
    """Delete expired transcripts (keeping receipts their skill keeps longer) and run due erasures."""
    from ..transcripts.retention import purge as run_purge
    from ._common import load_skills

    store = open_store(db_path)
    skills = load_skills(skills_spec)
    with Progress("purged") as bar:
        report = run_purge(store, skills, default_days=retention_days, now=now, progress=bar.update)
    click.echo(json.dumps(report, indent=2))
    if not report["scrubbed"]:
        raise click.ClickException("Rows were removed but the write-ahead log could not be truncated yet (another "
                                   "connection was reading); run the purge again to finish the scrub.")


def register(main: click.Group) -> None:
    """Add the ``transcripts`` group to ``main``."""
    main.add_command(transcripts)
