"""``skills new NAME``: a skill project to start from (the skill, its tests, a README, a pyproject)."""

from __future__ import annotations

import importlib.util
import keyword
import pathlib
import re
import string

import click

from .. import __version__

__all__ = ["register", "new", "create_project"]

TEMPLATE = pathlib.Path(__file__).with_name("project_template")
_NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")


def check_name(name: str) -> None:
    """Raise :class:`click.BadParameter` unless ``name`` can be the skill's name and its package's."""
    if not _NAME.fullmatch(name):
        hint = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "coffee_shop"
        raise click.BadParameter(
            f"{name!r} cannot name a skill package: use 2 to 40 lowercase letters, digits and underscores, "
            f"starting with a letter (e.g. {hint!r}).", param_hint="NAME")
    if keyword.iskeyword(name):
        raise click.BadParameter(f"{name!r} is a Python keyword; pick another name.", param_hint="NAME")
    if importlib.util.find_spec(name) is not None:
        raise click.BadParameter(
            f"A module named {name!r} is already importable here, so the skill's package would clash with it "
            f"(`import {name}` could load the wrong one). Pick another name, e.g. {name + '_skill'!r}.",
            param_hint="NAME")


def create_project(name: str, where: pathlib.Path, *, developer: str, invocation: str | None = None) -> pathlib.Path:
    """Write the project for skill ``name`` into ``where/name`` and return that folder.

    >>> create_project("coffee", pathlib.Path("."), developer="my-company")   # doctest: +SKIP
    PosixPath('coffee')
    """
    words = name.replace("_", " ")
    values = {
        "name": name,
        "upper": name.upper(),
        "title": words.title(),
        "developer": developer,
        "invocation": invocation or _invocation_for(name),
        "sdk_version": __version__,
    }
    from ..model_rules import ModelRuleError, check_invocation

    if problems := check_invocation(values["invocation"], whole=True):  # the generated tests would fail to import
        made = "" if invocation else f" (the default, made from {name!r}: choose one with --invocation '...')"
        # Every problem, not the first: one fix alone ('Open Tea Shop' -> 'open tea shop') may still break another rule.
        raise click.BadParameter(f"{ModelRuleError(problems, 'the invocation name')}{made}", param_hint="--invocation")
    root = where / name
    if root.exists():
        raise click.ClickException(f"{root} already exists; pick another NAME or another --dir.")
    targets = {
        "pyproject.toml.tmpl": "pyproject.toml",
        "README.md.tmpl": "README.md",
        "gitignore.tmpl": ".gitignore",
        "package/__init__.py.tmpl": f"{name}/__init__.py",
        "package/skill.py.tmpl": f"{name}/skill.py",
        "tests/test_skill.py.tmpl": "tests/test_skill.py",
        "standin.py.tmpl": "standin.py",
    }
    for source, target in targets.items():
        out = root / target
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(string.Template((TEMPLATE / source).read_text()).substitute(values))
    return root


def _invocation_for(name: str) -> str:
    """The default invocation name: NAME's words without digits, with 'orders' when it is one word (Alexa wants two)."""
    words = re.sub(r"[\d_]+", " ", name).split()
    return " ".join(words if len(words) > 1 else [*words, "orders"])


@click.command()
@click.argument("name")
@click.option("--dir", "where", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder to create the project in.")
@click.option("--developer", default="my-company", show_default=True,
              help="The developer id that owns the skill's transcripts.")
@click.option("--invocation", default=None, help="What users say to open it (default: NAME's words + 'orders').")
def new(name: str, where: str, developer: str, invocation: str | None) -> None:
    """Create a skill project NAME/: the skill, its tests (pytest, responses), a partner stand-in, a README, a pyproject.

    The skill answers launch, an order intent with a custom slot type that calls a partner API,
    help and stop. Its tests pass as generated; `skills serve --skills NAME:skill` serves it.
    """
    check_name(name)
    root = create_project(name, pathlib.Path(where), developer=developer, invocation=invocation)
    click.echo(f"Created {root}/ (skill {name!r}). Next:\n"
               f"  cd {root}\n"
               f"  pytest                                 # run its tests\n"
               f"  skills serve --skills {name}:skill    # serve it on http://127.0.0.1:8000/alexa/{name}\n"
               f"Its partner's API, offline: python standin.py (port 9000), then serve with\n"
               f"  SKILLS_PARTNER_{name.upper()}_URL=http://127.0.0.1:9000 skills serve --skills {name}:skill")


def register(main: click.Group) -> None:
    """Add ``new`` to ``main``."""
    main.add_command(new)
