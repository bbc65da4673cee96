"""``skills transcripts ...``: export (and, with the privacy commands, erase and purge) transcripts."""

from __future__ import annotations

import csv
import json
import sys

import click

from ..transcripts.store import COLUMNS
from ._common import db_option, iso_time, open_store

__all__ = ["register", "transcripts"]

#: The keys every exported transcript has, in order.
EXPORT_KEYS = [c for c in COLUMNS]


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
    rows = store.iter_transcripts(developer_id=developer_id, skill=skill, user_id=user_id,
                                  session_id=session_id, since=since, until=until)
    out = sys.stdout
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        return
    writer = csv.DictWriter(out, fieldnames=EXPORT_KEYS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in row.items()})


def register(main: click.Group) -> None:
    """Add the ``transcripts`` group to ``main``."""
    main.add_command(transcripts)
