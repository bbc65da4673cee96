"""The docs keep up with the code: every CLI command is documented, every docs link resolves."""

from __future__ import annotations

import pathlib
import re

import click
import pytest

from skills_sdk.cli import main

ROOT = pathlib.Path(__file__).parent.parent
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _commands(group: click.Group, prefix: str = "skills") -> list[str]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        out.append(full)
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, full))
    return out


@pytest.mark.parametrize("command", _commands(main))
def test_every_cli_command_is_documented(command):
    assert command in DOCS, f"`{command}` is not mentioned in README.md or docs/*.md"


def test_readme_quickstart_has_exactly_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    first_block = re.search(r"```bash\n(.*?)```", quickstart, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.split("#")[0].strip()]
    assert commands == ["./dev serve", "./dev test"]


def test_ci_runs_the_readme_test_command():
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("doc", sorted(p.name for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]))
def test_relative_links_resolve(doc):
    path = ROOT / doc if doc == "README.md" else ROOT / "docs" / doc
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
        assert (path.parent / target).exists(), f"{doc} links to missing {target}"


def test_readme_example_skill_passes_its_own_test_for_the_right_reason(skill_client):
    import sys
    import types

    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    skill_code = next(b for b in blocks if b.startswith("# pizza_skill.py"))
    test_code = next(b for b in blocks if "from pizza_skill import pizza" in b)
    module = types.ModuleType("pizza_skill")
    exec(compile(skill_code, "README.md: pizza_skill.py", "exec"), module.__dict__)
    sys.modules["pizza_skill"] = module
    try:
        namespace: dict = {}
        exec(compile(test_code, "README.md: test", "exec"), namespace)
        namespace["test_order"](skill_client)
    finally:
        del sys.modules["pizza_skill"]
    client = skill_client(module.pizza)
    client.say("order a large pepperoni pizza")
    (order,) = [t for t in client.transcripts() if t["intent"] == "OrderPizzaIntent"]
    assert order["slots"]["size"] == "large" and order["slots"]["topping"] == "pepperoni", order["slots"]
