"""Packaging: building skills_sdk prints no warnings and carries every data file the package reads."""

from __future__ import annotations

import configparser
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_build_is_quiet_and_ships_templates_static_files_and_the_project_template(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")],
                         cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    noise = [line for line in (run.stdout + run.stderr).splitlines() if "warn" in line.lower()]
    assert noise == []  # e.g. "Package 'skills_sdk.server.static.console' is absent from the `packages`"
    built = tmp_path / "lib" / "skills_sdk"
    for source in [*(ROOT / "skills_sdk" / "server" / "templates").rglob("*.html"),
                   *(ROOT / "skills_sdk" / "server" / "static").rglob("*.*"),
                   *(ROOT / "skills_sdk" / "cli" / "project_template").rglob("*.tmpl"),
                   ROOT / "skills_sdk" / "py.typed"]:
        assert (built / source.relative_to(ROOT / "skills_sdk")).is_file(), source


def test_the_test_extra_holds_only_what_a_skill_developers_tests_use():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    extras = {name: [line.split(">")[0].split("[")[0].strip() for line in value.strip().splitlines()]
              for name, value in cfg["options.extras_require"].items()}
    assert extras["test"] == ["pytest", "responses", "hypothesis"]
    assert {"selenium", "skills_sdk"} <= set(extras["dev"])
    assert "'.[dev]'" in (ROOT / "dev").read_text()
