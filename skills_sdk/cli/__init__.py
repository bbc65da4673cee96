"""The ``skills`` command line: serve skills, read and manage transcripts, talk to skills, manage keys."""

from __future__ import annotations

import importlib

import click

from .. import __version__

__all__ = ["main"]

#: Modules that add commands to :func:`main`; each defines ``register(main)``.
COMMAND_MODULES = ("serve", "transcripts", "simulate", "keys", "privacy", "ops", "new", "ledger")


class _Main(click.Group):
    """The command group; a ledger that cannot be reached or opened is reported in one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        from ..errors import StoreError

        try:
            return super().invoke(ctx)
        except StoreError as exc:  # its message names the ledger and what to check
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="skills")
def main() -> None:
    """Build, serve and test voice-assistant skills, and manage their transcripts."""


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__name__}.{_name}":
            raise
        continue
    _module.register(main)
