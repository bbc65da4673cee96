"""Options and helpers shared by the ``skills`` commands."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import click

from ..host import DEFAULT_SKILLS
from ..transcripts.ledger import BACKENDS, DEFAULT_DB, Ledger, backend_of, open_ledger
from ..transcripts.record import to_iso
from ..transcripts.urls import safe_url

__all__ = ["db_option", "open_store", "opening_ledger", "iso_time", "load_skills", "partner_session", "DEFAULT_SKILLS"]


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--db PATH|URL``: the transcript ledger (default ``var/transcripts.db``, or $SKILLS_DB)."""
    return click.option(
        "--db",
        "db_path",
        type=str,
        default=lambda: os.environ.get("SKILLS_DB", DEFAULT_DB),
        callback=_check_db,
        show_default=DEFAULT_DB,
        help="The transcript ledger: a SQLite file path, sqlite:///PATH or postgresql://USER@HOST/DB.",
    )(func)


def _check_db(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Refuse an unknown URL scheme, or a folder, before the command runs (a typo must not become a file)."""
    try:
        module, target = backend_of(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from None
    if module == BACKENDS["sqlite"] and os.path.isdir(target):
        raise click.BadParameter(f"{value!r} is a folder; give the database file, e.g. {DEFAULT_DB}.",
                                 param_hint="--db")
    return value


def open_store(db_path: str, *, must_exist: bool = True, option: str = "--db", made: str = "") -> Ledger:
    """Open the ledger at ``db_path`` (a path or URL) given as ``option``; a missing SQLite file is a usage error when ``must_exist``.

    Otherwise a missing file is made, and ``made`` (what that means for the command) is said on
    stderr: a typo in ``--db`` would else put a key or a choice where no server looks.
    """
    module, path = backend_of(db_path)
    new_file = module == BACKENDS["sqlite"] and path != ":memory:" and not os.path.exists(path)
    if module == BACKENDS["sqlite"] and path != ":memory:":
        if must_exist and not os.path.exists(path):
            raise click.UsageError(
                f"No transcript database at {db_path!r}. Pass {option} with the file `skills serve` wrote "
                f"(default {DEFAULT_DB})."
            )
        from ..transcripts.sqlite.dbfile import foreign_tables

        if (tables := foreign_tables(path)) is not None:  # another program's database: never add our tables to it
            raise click.UsageError(
                f"{db_path!r} is a SQLite database but not a transcript ledger (it holds {tables}, no transcripts "
                f"table). Pass {option} with the file `skills serve` wrote (default {DEFAULT_DB})."
            )
    if module == BACKENDS["postgresql"] and must_exist:
        from ..transcripts.postgres import holds_ledger

        if holds_ledger(db_path) is False:
            raise click.UsageError(
                f"The database at {safe_url(db_path)} holds no transcript ledger. Pass {option} with the ledger's URL, "
                f"or make one there first (skills ledger migrate --db URL)."
            )
    try:
        with opening_ledger():
            ledger = open_ledger(db_path)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    if made and new_file:
        click.echo(f"NOTE: there was no ledger at {db_path}; made a new, empty one. {made} Check the spelling: "
                   f"`skills serve` writes {DEFAULT_DB} unless given --db.", err=True)
    return ledger


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def opening_ledger() -> Iterator[None]:
    """Hold back psycopg_pool's "error connecting" warnings while a command opens its ledger.

    Nobody configured a handler for them, so each try would print through logging's last resort
    before the command's one-line error, which gives the server's reason itself: on a
    :class:`~skills_sdk.errors.StoreError` they are dropped; otherwise printed as they would have
    been. Where an application configured logging (a handler on ``psycopg.pool`` or above), its
    handlers get them as they come.
    """
    from ..errors import StoreError

    pool_log = logging.getLogger("psycopg.pool")
    if pool_log.hasHandlers():
        yield
        return
    held = _Held()
    pool_log.addHandler(held)
    try:
        yield
    except StoreError:
        held.records.clear()  # the error names the ledger and the server's reason
        raise
    finally:
        pool_log.removeHandler(held)
        last_resort = logging.lastResort
        for record in held.records:
            if last_resort is not None and record.levelno >= last_resort.level:
                last_resort.handle(record)


def iso_time(param_name: str) -> Callable[[click.Context, click.Parameter, Any], str | None]:
    """A click callback that accepts ISO-8601 dates/times and returns a normalised UTC string."""

    def convert(ctx: click.Context, param: click.Parameter, value: Any) -> str | None:
        if value is None:
            return None
        try:
            return to_iso(str(value))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=param_name) from None

    return convert


def load_skills(spec: str | None) -> list[Any]:
    """The skills to host: ``module:attr`` (a Skill, a list, or a factory), by default :data:`DEFAULT_SKILLS`."""
    from ..errors import RegistrationError
    from ..host import load_skills as load

    try:
        return load(spec or DEFAULT_SKILLS)
    except RegistrationError as exc:
        raise click.BadParameter(str(exc), param_hint="--skills") from None


def partner_session(spec: str | None) -> Any:
    """The session the skills of ``spec`` reach partners through: their module's ``partner_session()``, else
    :meth:`PartnerSession.from_env` (what ``SkillClient`` gives the same skill)."""
    from ..host import load_partner_session
    from ..http import PartnerSession

    try:  # the module's partner_session() builds on PartnerSession.from_env() too
        session = load_partner_session(spec or DEFAULT_SKILLS)
        return session if session is not None else PartnerSession.from_env()
    except ValueError as exc:  # names the variable and a value that works
        raise click.UsageError(str(exc)) from None
