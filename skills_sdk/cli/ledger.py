"""``skills ledger ...`` (schema migrations, key ratchets) and ``skills transcripts copy`` (move a ledger to another backend)."""

from __future__ import annotations

import hashlib
import time
from itertools import islice

import click

from ..errors import ProgressTaken, StoreError
from ..transcripts.ledger import BACKENDS, backend_of, open_ledger
from ..transcripts.record import from_export
from ._common import db_option, open_store, opening_ledger
from ._progress import Progress

__all__ = ["register", "ledger", "copy"]

#: Rows one copy transaction writes.
COPY_BATCH = 5000


@click.group()
def ledger() -> None:
    """Operate the transcript ledger: schema migrations, key ratchets."""


def _postgres(db_path: str) -> None:
    if backend_of(db_path)[0] != BACKENDS["postgresql"]:
        raise click.BadParameter(f"{db_path!r} names a SQLite ledger; this command is for postgresql:// ledgers "
                                 "(SQLite migrates itself when opened, and erases byte by byte).", param_hint="--db")


@ledger.command()
@db_option
def migrate(db_path: str) -> None:
    """Bring the ledger's schema to this version of skills_sdk (safe from many hosts at once; idempotent).

    \b
    skills ledger migrate --db postgresql://skills@db.internal/ledger

    A server opening the ledger migrates it too; run this from a deploy step when the servers
    are started with migrations off, or to see what a new version changes first. Rows written
    before search groups get their search tokens again under their group's key (a server does the
    same in the background); stopped midway, the next run (or server) carries on where it stopped.
    """
    _postgres(db_path)
    from ..transcripts.postgres import PostgresLedger

    try:
        led = PostgresLedger(db_path)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    moved = [0]

    def progress(n: int) -> None:
        moved[0] += n
        if moved[0] // 100_000 != (moved[0] - n) // 100_000:
            click.echo(f"  {moved[0]:,} rows re-tokenised...")

    try:
        applied = led.applied
        version = led.schema_version()
        while not led.migrate_tokens(progress=progress):  # False: another host holds the re-key lock meanwhile
            time.sleep(1)
    finally:
        led.stop()
    if applied:
        click.echo(f"Applied migration(s) {', '.join(map(str, applied))}: the ledger schema is at version {version}.")
    else:
        click.echo(f"Nothing to do: the ledger schema is at version {version}, this skills_sdk's.")
    if moved[0]:
        click.echo(f"Re-tokenised {moved[0]:,} row(s) under their search group's key; the per-developer search keys "
                   "are deleted and the key file ratcheted.")


@ledger.command()
@db_option
def ratchet(db_path: str) -> None:
    """Re-wrap every data key under the key file's next key and destroy the current one.

    Erasures do this themselves; run it after restoring hosts' key files, or on a schedule, so a
    copy of the key file taken earlier (say, in a host backup) opens nothing that remains.
    """
    _postgres(db_path)
    led = open_store(db_path)
    try:
        epoch = led.ratchet()  # type: ignore[attr-defined]
    finally:
        led.stop()
    click.echo(f"The key file is at epoch {epoch}; every data key is wrapped under it, earlier keys are gone.")


@click.command("copy")
@click.option("--from", "source", required=True, help="The ledger to read: a SQLite path, sqlite:///PATH or postgresql://…")
@click.option("--to", "target", required=True, help="The ledger to write (made and migrated if new).")
def copy(source: str, target: str) -> None:
    """Copy a ledger into another: every transcript, oldest first, in batches, then everything else it keeps.

    \b
    skills transcripts copy --from sqlite:///var/transcripts.db --to postgresql://skills@db/ledger

    Rows get the target's ids, in the same order. With them go users' capture modes, saved skill
    state, API keys (only their hashes are stored, and they move as they are: keys keep working,
    revoked ones stay revoked) and scheduled erasures. Erasure receipts and the audit log stay
    with the source: they name users by hashes salted with the source's own secret.
    """
    for name, value in (("--from", source), ("--to", target)):
        if not value.strip():
            raise click.BadParameter("is empty: give a SQLite path, sqlite:///PATH or a postgresql:// URL.",
                                     param_hint=name)
        try:
            backend_of(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=name) from None
    if source == target:
        raise click.BadParameter("--from and --to name the same ledger.", param_hint="--to")
    src = open_store(source, option="--from")
    try:
        with opening_ledger():
            dst = open_ledger(target)
    except (ValueError, StoreError) as exc:
        src.stop()
        raise click.BadParameter(str(exc), param_hint="--to") from None
    # The same ledger however it is spelled (./a.db, a symlink, a URL with other options), or a
    # restored copy of it: each ledger makes its own secret when it is made. Copied into itself, a
    # ledger read back its own new rows until the disk was full.
    problem = ("--from and --to are one ledger (or copies of one: they share its secret); copying it into itself "
               "would double every row." if src.secret() == dst.secret() else None)
    held = dst.count() if problem is None else 0
    if held:  # a second copy, or one resumed after a kill, would add every row again
        problem = (f"--to already holds {held} transcript(s); copy fills an empty ledger, and would add every row "
                   "again. For a copy that was interrupted, drop the target and copy again into an empty one.")
    if problem is not None:
        src.stop()
        dst.stop()
        raise click.BadParameter(problem, param_hint="--to")
    copied = 0
    # Each batch advances this mark in its own commit: a second copy of this ledger into --to started
    # at the same time (both found it empty) stops at its first batch instead of doubling every row.
    mark = "copy:" + hashlib.sha256(src.secret()).hexdigest()[:16]
    try:
        with Progress("copied") as bar:
            rows = (_checked(r) for r in src.iter_transcripts(batch=COPY_BATCH))
            while batch := list(islice(rows, COPY_BATCH)):
                copied += dst.record_many(batch, progress=(mark, copied + len(batch)))
                bar.update(copied)
        taken = dst.load_copied(src.iter_copyable())
    except ProgressTaken as exc:
        raise click.ClickException(
            f"Another copy of this ledger into --to is running (it has copied {exc.held} transcript(s)), or one "
            "ran into it before: this one stopped without adding a row. Let that copy finish (or, if none is "
            "running, copy into a new, empty target).") from None
        dst.audit("cli", "import", {"source": _scheme(source)}, copied)
    finally:
        src.stop()
        dst.stop()
    click.echo(f"Copied {copied} transcript(s) from {_scheme(source)} to {_scheme(target)}, with "
               f"{taken['capture_mode']} capture mode(s), {taken['state']} saved state(s), {taken['key']} API key(s) "
               f"and {taken['pending_erasure']} scheduled erasure(s).")


def _checked(row: dict) -> dict:
    """``row`` of the source as the target stores it; a value the target cannot hold stops the copy naming the row."""
    try:
        return from_export(row)
    except ValueError as exc:
        raise click.ClickException(f"Transcript {row.get('id')} of --from cannot be copied: {exc}. The rows before it "
                                   "were copied; erase or correct that row in the source (or copy into a new, empty "
                                   "target after fixing it).") from None


def _scheme(url: str) -> str:
    return backend_of(url)[0].rsplit(".", 1)[-1]


def register(main: click.Group) -> None:
    """Add the ``ledger`` group to ``main`` and ``copy`` to the ``transcripts`` group."""
    main.add_command(ledger)
    transcripts = main.commands.get("transcripts")
    if isinstance(transcripts, click.Group):
        transcripts.add_command(copy)
