"""``skills keys ...``: make, list and revoke API keys (developer keys and user tokens)."""

from __future__ import annotations

import click

from ..errors import NotFound
from ..transcripts.keys import create_key, list_keys, revoke_key
from ._common import db_option, open_store

__all__ = ["register", "keys"]


@click.group()
def keys() -> None:
    """Make, list and revoke keys for the transcript API."""


@keys.command("create")
@db_option
@click.option("--developer", "developer_id", help="Make a developer key: reads this developer's transcripts.")
@click.option("--user", "user_id", help="Make a user token: reads, erases and sets consent for this user's data.")
def create(db_path: str, developer_id: str | None, user_id: str | None) -> None:
    """Make a key and print it once; only its hash is stored, so keep it somewhere safe.

    \b
    skills keys create --db var/transcripts.db --developer pronto-pizza-labs
    skills keys create --db var/transcripts.db --user amzn1.ask.account.XYZ
    """
    if bool(developer_id) == bool(user_id):
        raise click.UsageError("Give exactly one of --developer ID (a developer key) or --user ID (a user token).")
    store = open_store(db_path, must_exist=False, made="The key works only with a server on this ledger.")
    try:
        info, key = create_key(store, "developer" if developer_id else "user", developer_id or user_id or "")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--developer" if developer_id else "--user") from None
    click.echo(key)
    click.echo(f"id {info.id}  kind {info.kind}  for {info.subject}  (shown once; revoke with "
               f"`skills keys revoke --db {db_path} {info.id}`)", err=True)


@keys.command("list")
@db_option
def list_(db_path: str) -> None:
    """List keys: id, kind, owner, when made, when revoked (never the keys themselves)."""
    store = open_store(db_path)
    for k in list_keys(store):
        click.echo(f"{k.id}\t{k.kind}\t{k.subject}\tcreated {k.created_at}\t"
                   + (f"revoked {k.revoked_at}" if k.revoked_at else "active"))


@keys.command("revoke")
@db_option
@click.argument("key_or_id")
def revoke(db_path: str, key_or_id: str) -> None:
    """Revoke a key by its id (``key_…``) or by the key itself; it stops working at once."""
    from ..transcripts.record import utcnow_iso

    store = open_store(db_path)
    asked = utcnow_iso()
    try:
        info = revoke_key(store, key_or_id)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    if info.revoked_at is not None and info.revoked_at < asked:  # revoking twice changes nothing: say so
        click.echo(f"{info.id} ({info.kind} key for {info.subject}) was already revoked, at {info.revoked_at}.")
        return
    click.echo(f"Revoked {info.id} ({info.kind} key for {info.subject}) at {info.revoked_at}.")


def register(main: click.Group) -> None:
    """Add the ``keys`` group to ``main``."""
    main.add_command(keys)
