"""The docs keep up with the code: every CLI command is documented, every command and option shown exists,
every SKILLS_* variable named is read by the code and every one the code reads is named, every docs link resolves."""

from __future__ import annotations

import pathlib
import re
import shlex

import click
import pytest

from skills_sdk.cli import main

ROOT = pathlib.Path(__file__).parent.parent
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
#: The pages a skill developer reads (performance.md is a log of measurements, with its own commands).
GUIDES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "performance.md")]


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


def test_the_pause_and_resume_guide_runs_and_its_test_passes(skill_client):
    from skills_sdk import AudioPlayerState, Skill, ask, empty, say

    guide = (ROOT / "docs" / "writing-skills.md").read_text()
    skill_code = next(b for b in re.findall(r"```python\n(.*?)```", guide, re.S) if "AMAZON.PauseIntent" in b)
    test_code = re.search(r"## Audio.*?```python\n(.*?)```", (ROOT / "docs" / "testing.md").read_text(),
                          re.S).group(1)
    skill = Skill("podcast", developer_id="pod-labs", invocation_name="the podcast")
    episodes = {"ep-42": "https://cdn.example.com/ep-42.mp3"}

    @skill.intent("PlayLatestIntent", samples=["play the latest episode"])
    def latest(ctx):
        return say("Episode 42.").play(episodes["ep-42"], token="ep-42")

    exec(compile(skill_code, "docs/writing-skills.md: Any request type", "exec"),
         {"skill": skill, "ask": ask, "empty": empty, "EPISODES": episodes})
    namespace: dict = {"podcast": skill, "AudioPlayerState": AudioPlayerState}
    exec(compile(test_code, "docs/testing.md: Audio", "exec"), namespace)
    namespace["test_resume_plays_from_where_the_listener_paused"](skill_client)
    reporting = re.search(r"### A device that reports playback.*?```python\n(.*?)```",
                          (ROOT / "docs" / "testing.md").read_text(), re.S).group(1)
    exec(compile(reporting, "docs/testing.md: A device that reports playback", "exec"), namespace)
    namespace["test_pausing_reports_where_the_listener_stopped"](skill_client)


def _shown_commands(text: str) -> list[str]:
    """Each ``skills ...`` command line of ``text``: in its shell blocks, and in inline code."""
    shell, fence = [], None
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fence = line.strip()[3:] if fence is None else None
        elif fence in ("bash", "sh", "console", ""):
            shell.append(line)
    lines = "\n".join(shell).replace("\\\n", " ")  # a command continued on the next line
    found = [part for line in lines.splitlines() for part in re.split(r"\|\||&&|[|;&]", line.split(" #")[0])]
    found += re.findall(r"`(skills [^`]+)`", text)
    return [m.group(1) for part in found if (m := re.search(r"(?:^|[\s/])skills ([a-z].*)", part))]


@pytest.mark.parametrize("doc", [p.name for p in GUIDES])
def test_every_command_shown_exists_with_the_options_it_is_given(doc):
    path = next(p for p in GUIDES if p.name == doc)
    wrong = []
    for shown in _shown_commands(path.read_text()):
        try:
            words = shlex.split(shown)
        except ValueError:  # an apostrophe in a comment cut off above
            words = shown.split()
        command: click.Command = main
        while isinstance(command, click.Group) and words and words[0] in command.commands:
            command = command.commands[words.pop(0)]
        if isinstance(command, click.Group):
            wrong.append(f"skills {shown}: no such command")
            continue
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        wrong += [f"skills {shown}: no option {w.strip('[]').split('=')[0]}" for w in words
                  if w.strip("[").startswith("--") and w.strip("[]").split("=")[0] not in options]
    assert wrong == [], f"{doc} shows commands the CLI does not have"


#: Named in the docs as a misspelling the server ignores, on purpose.
MISSPELT = {"SKILLS_SPOOL_RESERV"}
#: Read by the code but set only by the code itself (the CLI tells gunicorn's hooks what it made).
INTERNAL = {"SKILLS_OWNED_METRICS_DIR"}


def _named(text: str) -> set[str]:
    """The SKILLS_* names the docs give; a family (``SKILLS_PARTNER_<NAME>_URL``, ``SKILLS_HTTP_*``) as its prefix."""
    return {re.sub(r"(<[A-Z]+>|\*).*", "", name) for name in re.findall(r"\bSKILLS_[A-Z0-9_<>*]*[A-Z0-9>*]", text)}


def _read(folders: tuple[str, ...]) -> set[str]:
    """The SKILLS_* strings the code under ``folders`` holds; one ending in ``_`` is a family's prefix."""
    code = "\n".join(p.read_text() for folder in folders for p in sorted((ROOT / folder).rglob("*.py")))
    return set(re.findall(r"[\"'](SKILLS_[A-Z0-9_]+)", code)) - INTERNAL


def _covers(names: set[str], name: str) -> bool:
    """Whether ``name`` is in ``names``, or a family of one holds the other."""
    return any(n == name or (n.endswith("_") and name.startswith(n)) or (name.endswith("_") and n.startswith(name))
               for n in names)


def test_every_skills_variable_the_docs_name_is_read_by_the_code():
    named = _named("\n".join(p.read_text() for p in GUIDES)) - MISSPELT
    # the tests read the settings of the test suite itself (screenshots, a machine without a compiler)
    read = _read(("skills_sdk", "example_skills", "tests"))
    assert sorted(n for n in named if not _covers(read, n)) == [], \
        "the docs name settings nothing reads: fix the name, or drop it from the docs"


def test_every_skills_variable_the_library_reads_is_named_in_the_docs():
    named = _named("\n".join(p.read_text() for p in GUIDES))
    assert sorted(n for n in _read(("skills_sdk",)) if not _covers(named, n)) == [], \
        "settings the library reads that no page names: add each to its page's table"


@pytest.mark.parametrize("folder", ["", "redaction", "sqlite", "postgres"])
def test_the_architecture_map_names_every_module_of_the_ledger(folder):
    page = (ROOT / "docs" / "architecture.md").read_text()
    ledger = page.split("\n## The ledger\n", 1)[1].split("\n## ", 1)[0]
    # a backend's modules are listed in its own paragraph; the others in the table above them
    section = next((p for p in ledger.split("\n\n") if p.startswith(f"`skills_sdk/transcripts/{folder}/`")), "") \
        if folder in ("sqlite", "postgres") else ledger.split("\n\n`skills_sdk/transcripts/sqlite/`", 1)[0]
    modules = sorted(p.name for p in (ROOT / "skills_sdk" / "transcripts" / folder).iterdir()
                     if p.suffix in (".py", ".c") and p.name != "__init__.py")
    assert [m for m in modules if f"`{m}`" not in section] == [], \
        f"modules of skills_sdk/transcripts/{folder} that docs/architecture.md does not place: add each, with what it holds"
