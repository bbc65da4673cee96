"""``skills serve``: host skills over HTTP on the embedded SQLite store."""

from __future__ import annotations

import click

from ._common import db_option, load_skills

__all__ = ["register"]


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--skills", "skills_spec", default=None, metavar="MODULE:ATTR",
              help="Your skills (a Skill, a list, or a factory); default: the four example skills.")
@click.option("--verify/--no-verify", default=False, show_default=True,
              help="Check Alexa request signatures (turn on when facing the internet).")
def serve(db_path: str, host: str, port: int, skills_spec: str | None, verify: bool) -> None:
    """Serve skills at http://HOST:PORT/alexa/<skill>, recording transcripts in --db."""
    from ..server import create_app

    skills = load_skills(skills_spec)
    http = None
    if not skills_spec:
        from example_skills import partner_session

        http = partner_session()
    app = create_app(skills, db=db_path, http=http, verify=verify)
    names = ", ".join(s.name for s in skills)
    click.echo(f"Serving {names} on http://{host}:{port}/alexa/<skill>  (transcripts: {db_path})")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


def register(main: click.Group) -> None:
    """Add ``serve`` to ``main``."""
    main.add_command(serve)
