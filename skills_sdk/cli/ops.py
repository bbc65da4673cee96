"""``skills transcripts replay``: move rows waiting in the spool into the transcript store, exactly once."""

from __future__ import annotations

import os

import click

from ..transcripts.spool import Spool
from ._common import db_option, open_store

__all__ = ["register", "replay"]


@click.command()
@db_option
def replay(db_path: str) -> None:
    """Replay the spool beside --db (``<db>.spool``) into the store; safe while the server runs.

    The server does this itself at start-up and every 30 s; run it by hand after fixing a store
    that could not be written (disk full, a long lock).
    """
    spool = Spool(db_path + ".spool")
    if not spool.files():
        if db_path != ":memory:" and not os.path.exists(db_path):
            open_store(db_path)  # raises the usual "no database" usage error
        click.echo(f"Nothing to replay: no spool beside {db_path}.")
        return
    store = open_store(db_path, must_exist=False)
    waiting = spool.pending()
    try:
        done = spool.replay(store)
    except Exception as exc:
        raise click.ClickException(
            f"Could not replay {waiting} spooled row(s) into {db_path}: {exc}. The rows stay in the spool; "
            "check that the database is writable (`GET /readyz`), then run this again."
        ) from None
    click.echo(f"Replayed {done} row(s) from the spool into {db_path}.")


def register(main: click.Group) -> None:
    """Add ``replay`` to the ``transcripts`` group (or to ``main`` if there is none)."""
    group = main.commands.get("transcripts")
    (group if isinstance(group, click.Group) else main).add_command(replay)
