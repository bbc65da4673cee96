"""``skills transcripts replay``: move rows waiting in the spool into the transcript store, exactly once."""

from __future__ import annotations

import click

from ..transcripts.ledger import BACKENDS, backend_of
from ..transcripts.refused import REFUSAL_KEY
from ..transcripts.spool import SPOOL_SUFFIX, Spool
from ._common import db_option, open_store

__all__ = ["register", "replay"]


@click.command()
@db_option
@click.option("--refused", "retry_refused", is_flag=True,
              help="Also try again the rows the ledger refused before (kept in <spool>.refused), once their cause "
                   "is fixed.")
def replay(db_path: str, retry_refused: bool) -> None:
    """Replay the ledger's spool into it (``<db>.spool`` beside a SQLite file; this host's spool for PostgreSQL).

    The server does this itself at start-up and every 30 s; run it by hand after fixing a store
    that could not be written (disk full, a long lock). Safe while the server runs. A row the
    ledger refuses for what it holds is kept in ``<spool>.refused`` with the reason, never dropped.
    """
    module, target = backend_of(db_path)
    # Rows spooled beside a SQLite file that is gone are replayed into a new one; without any,
    # a missing file is the usual "no database" error.
    spooled = module == BACKENDS["sqlite"] and target != ":memory:" and bool(Spool(target + SPOOL_SUFFIX).files())
    store = open_store(db_path, must_exist=not spooled)
    spool = store.spool()
    kept = spool.refused.count() if spool is not None else 0
    if spool is None or not (spool.files() or (retry_refused and kept)):
        # named by its path: a PostgreSQL ledger's spool is this host's file ($SKILLS_SPOOL), not one beside a URL
        click.echo((f"Nothing to replay: no spooled rows in {spool.path}." if spool is not None
                    else f"Nothing to replay: {db_path} has no spool.") + _refused_line(spool, kept))
        return
    waiting = spool.pending() + (kept if retry_refused else 0)
    try:
        done = spool.replay(store, refused=retry_refused)
    except Exception as exc:
        raise click.ClickException(
            f"Could not replay {waiting} spooled row(s) into {db_path}: {exc}. The rows stay in the spool; "
            "check that the database is writable (`GET /readyz`), then run this again."
        ) from None
    click.echo(f"Replayed {done} row(s) from the spool into {db_path}." + _refused_line(spool, spool.refused.count()))


def _refused_line(spool: Spool | None, kept: int) -> str:
    if spool is None or not kept:
        return ""
    rows = spool.refused.rows()
    why = rows[-1].get(REFUSAL_KEY, {}).get("error", "?") if rows else "?"
    return (f"\n{kept} row(s) the ledger refused are kept in {spool.refused.path} (the last one: {why}). "
            "Fix the cause, then run `skills transcripts replay --refused`.")


def register(main: click.Group) -> None:
    """Add ``replay`` to the ``transcripts`` group (or to ``main`` if there is none)."""
    group = main.commands.get("transcripts")
    (group if isinstance(group, click.Group) else main).add_command(replay)
