"""``skills transcripts ...``: export, import, erase and purge transcripts."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import click

from ..errors import ProgressTaken
from ..transcripts.audit import audit, tally
from ..transcripts.ledger import Ledger
from ..transcripts.record import from_export, iter_csv
from ._common import db_option, iso_time, open_store
from ._progress import Progress

__all__ = ["register", "transcripts"]

#: Rows between progress updates (an export writes this many at a time).
PROGRESS_EVERY = 1000
#: Rows an import writes per transaction.
IMPORT_BATCH = 5000


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
    users: Counter[str] = Counter()
    # Progress goes to stderr, and only when the rows are not scrolling past on the same terminal.
    with Progress("exported", enabled=not out.isatty()) as bar:
        if fmt == "jsonl":
            # The ledger makes the lines (same text as json.dumps of the decoded row), a chunk of
            # rows at a time, and counts their users: no per-row Python here.
            for text, rows in store.export_jsonl(**filters, users=users, batch=PROGRESS_EVERY):
                out.write(text)
                bar.update(bar.done + rows)
        else:
            # Formula-safe, as the console's and the API's exports are (see record.csv_cells).
            rows = iter_csv(tally(store.iter_transcripts(**filters), users))
            out.write(next(rows))  # the header
            while chunk := list(islice(rows, PROGRESS_EVERY)):
                out.write("".join(chunk))
                bar.update(bar.done + len(chunk))
    out.flush()
    # Like the API's and the console's exports, a command-line export is in the audit trail.
    # Each user's access log shows it too.
    try:
        audit(store, "cli", "export", {k: v for k, v in filters.items() if v is not None}, bar.done, users=users)
    except store.errors as exc:  # a full disk: the rows went out, their record of it did not
        raise click.ClickException(f"The export wrote {bar.done} rows, but its entry in the audit trail could not be "
                                   f"written ({exc}): free space and export again, so that the access is recorded."
                                   ) from None


@transcripts.command(name="import")
@db_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
def import_transcripts(db_path: str, file: str) -> None:
    """Add the transcripts in FILE (JSONL as `export` writes it; - reads stdin) to the database, with new ids.

    A file is checked whole before anything is written, so a bad line imports nothing. Stdin is
    checked a batch at a time: batches before a bad line stay imported, and the error says which.
    """
    total, mark, done_line, done_rows = None, None, 0, 0
    if file != "-" and os.path.isfile(file):  # it can be read twice: check all of it first
        total, digest = 0, hashlib.sha256()
        with open(file, "rb") as f, Progress("checked") as bar:
            try:
                for _ in _numbered_rows(_hashed(f, digest)):
                    total += 1
                    if not total % PROGRESS_EVERY:
                        bar.update(total)
            except _BadLine as exc:
                raise click.ClickException(exc.explain(0, 0)) from None
            bar.update(total)
        # Each batch commits the line it reached under the file's hash: a run killed between batches
        # is resumed by the next import of the same bytes, instead of adding its rows a second time.
        mark = "import:" + digest.hexdigest()
    store = open_store(db_path, must_exist=False)
    if mark is not None and (done_line := store.progress(mark) or 0):
        with open(file, "rb") as f:
            done_rows = sum(1 for lineno, _ in _numbered_rows(f) if lineno <= done_line)
        click.echo(f"An import of this file stopped after line {done_line}: its {done_rows} rows are in the database; "
                   "importing the lines after it.", err=True)
    imported, last_line = 0, done_line  # rows this run committed, and the line of the last row committed
    try:
        with click.open_file(file, "rb") as f, Progress("imported", total) as bar:
            bar.update(done_rows)
            batch: list[dict[str, Any]] = []
            for lineno, row in _numbered_rows(f):
                if lineno <= done_line:
                    continue
                batch.append(row)
                if len(batch) == IMPORT_BATCH:
                    imported += store.record_many(batch, progress=None if mark is None else (mark, lineno))
                    last_line, batch = lineno, []
                    bar.update(done_rows + imported)
            if batch:
                imported += store.record_many(batch, progress=None if mark is None else (mark, lineno))
                last_line = lineno
                bar.update(done_rows + imported)
            # Searchable at once; committed rows that are not (a full disk) get indexed by the next
            # writer or the server's background thread, so a failure here loses nothing.
            store.index_pending()
    except _BadLine as exc:
        _audited(store, file, imported, done_line, done_rows)
        raise click.ClickException(exc.explain(imported, last_line)) from None
    except ProgressTaken as exc:  # checked before store.errors: it is one of them
        _audited(store, file, imported, done_line, done_rows)
        raise click.ClickException(
            f"Another import of {file} into {db_path} is running (it has reached line {exc.held}): this one stopped. "
            f"{_what_stays(done_rows + imported, last_line)} Let that import finish: it imports the rest of the "
            "file (if it stops too, run the import again: it goes on after the last line committed).") from None
    except store.errors as exc:
        _audited(store, file, imported, done_line, done_rows)
        again = " Run the same import again once that is fixed: it goes on after them." if mark and last_line else ""
        raise click.ClickException(f"Could not write to {db_path}: {exc}. "
                                   f"{_what_stays(done_rows + imported, last_line)}{again}") from None
    except BaseException:  # Ctrl-C: the rows committed stay, and so does their record
        _audited(store, file, imported, done_line, done_rows)
        raise
    _audited(store, file, imported, done_line, done_rows)
    if mark is not None:
        store.forget_progress(mark)  # done: importing the same file again adds its rows again, as documented
    earlier = f" (and {done_rows} before, by the import that stopped)" if done_rows else ""
    click.echo(f"imported {imported} transcripts into {db_path}{earlier}")


def _audited(store: Ledger, file: str, imported: int, done_line: int, done_rows: int) -> None:
    """The import's entry in the audit trail when it wrote rows (a resumed one names the run it finished).

    A full disk leaves the entry out rather than hide the error that says what was imported.
    """
    if imported:
        resumed = {"after_line": done_line, "rows_before": done_rows} if done_line else {}
        try:
            audit(store, "cli", "import", {"file": file, **resumed}, imported)
        except store.errors:
            pass


def _hashed(lines: Iterable[bytes], digest: Any) -> Iterator[bytes]:
    """``lines`` as they are, each fed to ``digest`` on the way."""
    for line in lines:
        digest.update(line)
        yield line


@transcripts.command()
@db_option
@click.option("--user", "user_id", required=True, help="The user whose transcripts to erase.")
@click.option("--skill", help="Only this skill's transcripts (default: every skill).")
def erase(db_path: str, user_id: str, skill: str | None) -> None:
    """Erase a user's transcripts and saved state, leave no byte of them in the files, print the receipt."""
    from ..errors import ErasureIncomplete
    from ..transcripts.erasure import erase_user

    if not user_id.strip():
        raise click.BadParameter("is empty: give the id of the user to erase (amzn1.ask.account...).", param_hint="--user")
    if skill is not None and not skill.strip():
        raise click.BadParameter("is empty: leave it out to erase every skill, or name one.", param_hint="--skill")
    store = open_store(db_path)
    try:
        receipt = erase_user(store, user_id, skill=skill)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except ErasureIncomplete as exc:
        click.echo(json.dumps(exc.receipt, indent=2))
        raise click.ClickException(str(exc)) from None
    except store.errors as exc:  # a full disk, a read-only file: the erasure's one transaction, or its scrub
        raise click.ClickException(f"Could not erase {user_id!r} in {db_path}: {exc}. Fix that (free space, make the "
                                   "database writable) and run the same erase again: repeating it is safe, and it "
                                   "finishes whatever this one did not.") from None
    click.echo(json.dumps(receipt, indent=2))
    if not (receipt.get("transcripts") or receipt.get("state_rows") or receipt.get("spooled")):
        # A receipt for nothing: most often an id typed differently from the one recorded.
        click.echo(f"Nothing of {user_id!r} was found to erase{f' in skill {skill!r}' if skill else ''}. User ids "
                   "are matched exactly (case included): `skills transcripts export --user ID` shows what is kept.",
                   err=True)


@transcripts.command()
@db_option
def verify(db_path: str) -> None:
    """Walk the tamper-evident chain: exit 0 when intact, 1 naming the first row changed, deleted or inserted outside.

    Every row the ledger records, strips, erases or purges adds an entry chained to the one before;
    an erased row leaves a tombstone (id, digest, time), so erasure keeps the chain whole.
    """
    store = open_store(db_path)
    try:
        report = store.verify_chain()
    except NotImplementedError as exc:
        raise click.UsageError(str(exc)) from None
    if not report.ok:
        click.echo(f"Tampered: {report.problem}. Chain head {report.head[:16]}… after {report.entries} intact "
                   "entries.", err=True)
        raise SystemExit(1)
    older = f"; {report.unchained} older row(s) predate the chain and are not covered" if report.unchained else ""
    click.echo(f"Intact: {report.entries} chain entries, {report.rows} rows match, {report.tombstones} erased or "
               f"purged rows left tombstones{older}. Chain head {report.head}.")


@transcripts.command()
@db_option
@click.option("--skills", "skills_spec", metavar="MODULE:ATTR", help="Whose retention applies (default: the examples).")
@click.option("--retention-days", type=click.IntRange(min=1), envvar="SKILLS_RETENTION_DAYS",
              help="Retention of skills that set none (default: keep them).")
@click.option("--now", callback=iso_time("--now"), help="Purge as if it were this time (ISO-8601).")
@click.option("--future", is_flag=True, help="Allow a --now more than a day ahead of this machine's clock.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Also delete the rows the purge hid from the file before returning (--no-wait leaves them "
                   "to a running server's background thread; no read returns them either way).")
def purge(db_path: str, skills_spec: str | None, retention_days: int | None, now: str | None, future: bool,
          wait: bool) -> None:
    """Delete expired transcripts (keeping receipts their skill keeps longer) and run due erasures."""
    from datetime import UTC, datetime, timedelta

    from ..transcripts.record import parse_iso
    from ..transcripts.retention import purge as run_purge
    from ._common import load_skills

    if now is not None and not future and (ahead := parse_iso(now) - datetime.now(UTC)) > timedelta(days=1):
        # A typo in the year (2126 for 2026) purged every row: none had expired yet.
        raise click.BadParameter(f"{now} is {ahead.days} days ahead of this machine's clock: a purge at a future "
                                 "time deletes rows that have not expired yet. Give a time up to now, or add "
                                 "--future if that is what you mean.", param_hint="--now")

    store = open_store(db_path)
    skills = load_skills(skills_spec)
    try:
        with Progress("purged") as bar:
            report = run_purge(store, skills, default_days=retention_days, now=now, progress=bar.update, wait=wait)
    except store.errors as exc:  # a full disk: each step commits whole, so what is done stays done
        raise click.ClickException(f"The purge of {db_path} stopped: {exc}. What it finished stays done, and no read "
                                   "returns a row it hid; fix that (free space) and run the same purge again to "
                                   "finish.") from None
    click.echo(json.dumps(report, indent=2))
    if not report["scrubbed"] and not report["pending"]:
        raise click.ClickException("Rows were removed but the write-ahead log could not be truncated yet (another "
                                   "connection was reading); run the purge again to finish the scrub.")


class _BadLine(Exception):
    """Line ``lineno`` of an import is not a transcript; ``problem`` says why."""

    def __init__(self, lineno: int, problem: str) -> None:
        super().__init__(f"line {lineno}: {problem}")
        self.lineno = lineno
        self.problem = problem

    def explain(self, imported: int, last_line: int) -> str:
        """The error for the user: where, what, and what to do given what was already imported."""
        if not imported:
            return f"line {self.lineno}: {self.problem}. Nothing was imported; fix or remove the line and run the import again."
        return (f"line {self.lineno}: {self.problem}. {_what_stays(imported, last_line)} Fix or remove line "
                f"{self.lineno}, then import only the lines after line {last_line} "
                f"(e.g. `tail -n +{last_line + 1} FILE | skills transcripts import -`).")


def _what_stays(imported: int, last_line: int) -> str:
    if not imported:
        return "Nothing was imported."
    return f"The {imported} rows of lines 1-{last_line} were imported and stay in the database."


def _numbered_rows(lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row for ``record_many``) for each non-blank line; raises _BadLine at the first bad one."""
    for lineno, line in enumerate(lines, 1):
        if line.isspace():
            continue
        try:
            yield lineno, _row(line)
        except ValueError as exc:
            raise _BadLine(lineno, str(exc)) from None


def _row(line: bytes) -> dict[str, Any]:
    """One exported JSONL line as the row ``record_many`` stores; ValueError says what is wrong with it."""
    try:
        obj = json.loads(line.decode())
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        hint = "; import reads JSON lines, as export writes them" if line[:1] not in (b"{", b"[", b" ") else ""
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno}){hint}") from None
    except RecursionError:
        raise ValueError("not a transcript: its JSON nests arrays and objects too deep to read") from None
    return from_export(obj)


def register(main: click.Group) -> None:
    """Add the ``transcripts`` group to ``main``."""
    main.add_command(transcripts)
