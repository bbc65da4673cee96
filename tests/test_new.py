"""``skills new``: a project that passes its own tests and serves, from a folder of its own; ``./dev`` run from there."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import _server
import pytest
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.testing import launch_request

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLS_", "PYTEST_")) and k != "PYTHONPATH"}
    return {**env, **extra}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> pathlib.Path:
    where = tmp_path_factory.mktemp("work")
    result = CliRunner().invoke(main, ["new", "espresso_bar", "--dir", str(where)])
    assert result.exit_code == 0, result.output
    assert "skills serve --skills espresso_bar:skill" in result.output
    return where / "espresso_bar"


def test_new_writes_a_package_its_tests_a_readme_and_a_pyproject(project):
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [".gitignore", "README.md", "espresso_bar/__init__.py", "espresso_bar/skill.py", "pyproject.toml",
                     "standin.py", "tests/test_skill.py"]
    pyproject = (project / "pyproject.toml").read_text()
    assert 'dependencies = ["skills_sdk>=' in pyproject
    readme = (project / "README.md").read_text()
    assert "pytest " in readme and "skills serve --skills espresso_bar:skill" in readme
    # pip would satisfy skills_sdk>= with the package index's unrelated project of that name.
    assert "pip install -e '/path/to/skills_sdk[test]'" in readme and "another project" in readme
    skill_source = (project / "espresso_bar" / "skill.py").read_text()
    for part in ("@skill.launch", 'skill.slot_type("MenuItem"', '@skill.intent("OrderIntent"',
                 '@skill.intent("AMAZON.HelpIntent")', '@skill.intent("AMAZON.StopIntent")', "ctx.http.post("):
        assert part in skill_source


def test_the_generated_tests_pass_as_generated(project):
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                         capture_output=True, text=True, env=_clean_env(), timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout


def test_the_generated_skill_is_served_from_its_own_folder_and_reaches_its_partner(project):
    with _server.loopback_partner() as partner:
        port = _server.free_port()
        env = _clean_env(SKILLS_PARTNER_ESPRESSO_BAR_URL=partner.url)
        proc = _server.start(["serve", "--skills", "espresso_bar:skill"], port, env=env, cwd=project)
        try:
            base = f"http://127.0.0.1:{port}"
            status, hello = _server.post(f"{base}/alexa/espresso_bar", json.dumps(launch_request()).encode())
            _, ordered = _server.post(f"{base}/simulate/espresso_bar", json.dumps({"text": "order cocoa"}).encode())
        finally:
            _server.stop(proc)
    assert status == 200
    assert "What would you like to order?" in hello["response"]["outputSpeech"]["ssml"]
    assert "Your hot chocolate is ordered. Order number B-1." in json.dumps(ordered)
    assert partner.orders == [{"path": "/v1/orders", "item": "HOT_CHOCOLATE"}]
    assert (project / "var" / "transcripts.db").exists()


def test_the_generated_stand_in_takes_the_served_skills_orders_offline(project):
    """README.md's two commands: the project's own stand-in of its partner, then the skill pointed at it."""
    partner_port, port = _server.free_port(), _server.free_port()
    standin = subprocess.Popen([sys.executable, "standin.py", "--port", str(partner_port)], cwd=project,
                               env=_clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _server.wait_until("the stand-in answers", lambda: _answers(partner_port))
        env = _clean_env(SKILLS_PARTNER_ESPRESSO_BAR_URL=f"http://127.0.0.1:{partner_port}")
        proc = _server.start(["serve", "--skills", "espresso_bar:skill", "--db", str(project / "var" / "standin.db")],
                             port, env=env, cwd=project)
        try:
            said = []
            for text in ("order cocoa", "get me a tea"):
                _, turn = _server.post(f"http://127.0.0.1:{port}/simulate/espresso_bar",
                                       json.dumps({"text": text}).encode())
                said.append(turn["speech"])
        finally:
            _server.stop(proc)
    finally:
        standin.terminate()
        standin.wait(timeout=30)
    assert said == ["Your hot chocolate is ordered. Order number A-1.", "Your tea is ordered. Order number A-2."]
    readme = (project / "README.md").read_text()
    assert "python standin.py &" in readme and "SKILLS_PARTNER_ESPRESSO_BAR_URL=http://127.0.0.1:9000 skills serve" in readme


def _answers(port: int) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v1/orders", data=b"{}", method="POST",
                                                      headers={"Content-Type": "application/json"}), timeout=2)
    except urllib.error.HTTPError as exc:
        return exc.code == 422  # an item it does not sell: it is up and checks what it is given
    except OSError:
        return False
    return False


@pytest.mark.parametrize(("name", "problem"), [
    ("Coffee-Shop", "use 2 to 40 lowercase letters, digits and underscores"),
    ("class", "is a Python keyword"),
    ("json", "A module named 'json' is already importable here"),
])
def test_new_refuses_a_name_that_cannot_be_a_package(tmp_path, name, problem):
    result = CliRunner().invoke(main, ["new", name, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert problem in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_name_with_digits_gets_an_invocation_name_alexa_accepts(tmp_path):
    result = CliRunner().invoke(main, ["new", "coffee2", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert 'invocation_name="coffee orders"' in (tmp_path / "coffee2" / "coffee2" / "skill.py").read_text()


@pytest.mark.parametrize(("args", "problem"), [
    (["alexa_tips"], "contains 'alexa'"),
    (["tips", "--invocation", "Tips 4 You"], "Fix: write it as 'tips you'"),
    # lowercasing alone would not do: the launch phrase is refused too, so both are named at once
    (["tips", "--invocation", "Open Tea Shop"], "contains the launch phrase 'open'"),
])
def test_an_invocation_name_alexa_refuses_is_refused_before_the_project_is_written(tmp_path, args, problem):
    result = CliRunner().invoke(main, ["new", *args, "--dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "Invalid value for --invocation" in result.output and problem in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def dev_venv() -> None:
    if pathlib.Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("runs where ./dev made the venv that runs the tests (./dev test, CI)")
    stamp = ROOT / ".venv" / ".installed"
    if not stamp.exists() or stamp.stat().st_mtime < (ROOT / "setup.cfg").stat().st_mtime:
        pytest.skip("./dev would reinstall the venv running these tests first: run them with ./dev test")


def test_dev_skills_finds_the_module_in_the_folder_it_is_run_from_and_keeps_db_relative(tmp_path, dev_venv):
    (tmp_path / "hello_mine.py").write_text(
        "from skills_sdk import Skill, ask\n"
        "skill = Skill('hello', developer_id='me', invocation_name='hello world')\n"
        "@skill.launch\n"
        "def hi(ctx):\n"
        "    return ask('Hello from my own folder.')\n")
    run = subprocess.run([str(ROOT / "dev"), "skills", "say", "hello", "open hello world", "--skills", "hello_mine:skill",
                          "--db", "var/mine.db"], cwd=tmp_path, capture_output=True, text=True, env=_clean_env(),
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Hello from my own folder." in run.stdout
    assert (tmp_path / "var" / "mine.db").exists()
    missing = subprocess.run([str(ROOT / "dev"), "skills", "say", "hello", "hi", "--skills", "not_here:skill"],
                             cwd=tmp_path, capture_output=True, text=True, env=_clean_env(), timeout=120)
    assert missing.returncode == 2
    assert "No module named 'not_here'" in missing.stderr
    assert "set PYTHONPATH to that folder, or activate the virtualenv" in missing.stderr
