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


def test_the_api_reference_documents_every_public_name(tmp_path):
    """Built from the docstrings as ``./dev docs`` builds it, warnings as errors; each public name has its entry."""
    import html
    import inspect

    import skills_sdk
    import skills_sdk.testing

    pytest.importorskip("sphinx", reason="the API reference needs the docs extra (./dev installs it)")
    from sphinx.cmd.build import build_main

    undocumented = [f"{module.__name__}.{name}" for module in (skills_sdk, skills_sdk.testing) for name in module.__all__
                    if (inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name)))
                    and not (getattr(module, name).__doc__ or "").strip()]
    assert undocumented == [], "public names without a docstring"
    out = tmp_path / "api"
    status = build_main(["-q", "-W", "--keep-going", "-b", "html", str(ROOT / "docs" / "api"), str(out)])
    assert status == 0, "the API reference has warnings: run ./dev docs to see them"
    page = html.unescape((out / "index.html").read_text())
    missing = [f"{module.__name__}.{name}" for module in (skills_sdk, skills_sdk.testing) for name in module.__all__
               if f'id="{module.__name__}.{name}"' not in page]
    assert missing == [], ("public names missing from the API reference: add each to docs/api/index.rst "
                           "(e.g. `.. autoclass:: Name` in its section)")


def test_the_in_skill_purchase_guide_runs_and_its_test_passes(skill_client, partners):
    from skills_sdk import Skill, ask, empty, say

    guide = (ROOT / "docs" / "writing-skills.md").read_text()
    skill_code = re.search(r"## In-skill purchases.*?```python\n(.*?)```", guide, re.S).group(1)
    test_code = re.search(r"## A purchase.*?```python\n(.*?)```", (ROOT / "docs" / "testing.md").read_text(),
                          re.S).group(1)
    skill = Skill("facts", developer_id="facts-labs", invocation_name="premium facts")
    skill.slot_type("Pack", ["science", "history"])
    exec(compile(skill_code, "docs/writing-skills.md: In-skill purchases", "exec"),
         {"skill": skill, "ask": ask, "empty": empty, "say": say})
    namespace: dict = {"facts": skill}
    exec(compile(test_code, "docs/testing.md: A purchase", "exec"), namespace)
    namespace["test_buying_the_science_pack"](skill_client, partners)
