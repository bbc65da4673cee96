"""A Lambda deployment package answers events with nothing but itself and the standard library, its code read-only."""

from __future__ import annotations

import compileall
import importlib.metadata
import json
import pathlib
import re
import shutil
import stat
import subprocess
import sys

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SKILL = '''
from skills_sdk import Skill, say

skill = Skill("coffee", developer_id="dev-coffee", invocation_name="coffee orders")
skill.launch(lambda ctx: say("Welcome to coffee orders."))
'''
#: Run inside the package: only it and the standard library on sys.path, as Lambda's /var/task.
DRIVER = '''
import json, sys
sys.path[:0] = [sys.argv[1]]
import psycopg  # the ledger's driver loads its own libpq, which the runtime lacks
psycopg.pq.version()
from skills_sdk.aws import handler
outside = [m.__file__ for m in list(sys.modules.values())
           if getattr(m, "__file__", None) and not m.__file__.startswith((sys.argv[1], sys.base_prefix))]
print(json.dumps({"outside": outside, "answers": [handler(json.loads(e), None) for e in sys.argv[2:]]}))
'''


def _closure(names):
    """The installed distributions ``names`` need, with their own requirements (the postgres extra's too)."""
    env, seen, todo = default_environment(), {}, [Requirement(n) for n in names]
    while todo:
        req = todo.pop()
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if key in seen:
            continue
        seen[key] = dist = importlib.metadata.distribution(req.name)
        for text in dist.requires or ():
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({**env, "extra": x}) for x in ("", *req.extras)):
                todo.append(sub)
    return seen.values()


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The package the docs build (the skill, skills_sdk, its dependencies and psycopg), byte-compiled, read-only."""
    task = tmp_path_factory.mktemp("task")
    for dist in _closure(["skills_sdk[postgres]"]):
        if dist.metadata["Name"].lower().replace("_", "-") == "skills-sdk":
            continue
        for file in dist.files or ():
            source = pathlib.Path(dist.locate_file(file))
            if source.is_file() and not str(file).startswith(("..", "/")) and "__pycache__" not in file.parts:
                (task / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, task / file)
    shutil.copytree(ROOT / "skills_sdk", task / "skills_sdk", ignore=shutil.ignore_patterns("__pycache__", "*.c", "*.h"))
    (task / "coffee.py").write_text(SKILL)
    assert compileall.compile_dir(str(task), quiet=2)
    for path in task.rglob("*"):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    task.chmod(0o555)
    yield task
    for path in [task, *task.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)


def test_the_package_answers_alexa_envelopes_from_a_read_only_directory_and_writes_only_to_tmp(package, tmp_path):
    writable = tmp_path / "tmp"
    writable.mkdir(mode=0o777)
    writable.chmod(0o777)
    envelopes = [(FIXTURES / "alexa" / f"{name}.json").read_text() for name in ("LaunchRequest-1", "IntentRequest-1")]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "TMPDIR": str(writable),
           "SKILLS_SKILLS": "coffee:skill", "SKILLS_ANY_APPLICATION": "1", "SKILLS_DB": str(writable / "ledger.db")}
    before = {p: p.stat().st_mtime_ns for p in package.rglob("*")}
    run = subprocess.run([sys.executable, "-I", "-S", "-c", DRIVER, str(package), *envelopes], cwd=package, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["outside"] == []
    assert [a["version"] for a in out["answers"]] == ["1.0", "1.0"]
    assert "Welcome to coffee orders." in out["answers"][0]["response"]["outputSpeech"]["ssml"]
    # Root ignores the read-only modes, so what was written is looked for: no .pyc, no var/ in the code.
    assert {p: p.stat().st_mtime_ns for p in package.rglob("*")} == before
    assert (writable / "ledger.db").exists()


def test_the_lambda_recipe_installs_the_sdk_from_its_checkout_with_its_postgres_driver_outside_the_project():
    guide = (ROOT / "docs" / "going-live.md").read_text()
    recipe = next(block for block in re.findall(r"```bash\n(.*?)```", guide, re.S) if "aws lambda create-function" in block)
    install = next(line for line in recipe.splitlines() if line.startswith("pip install"))
    words = install.split("#")[0].split()
    target = words[words.index("--target") + 1]
    sdk = [w.strip("'\"") for w in words if "skills_sdk" in w]
    # The package index's skills_sdk is another project: a bare name installs it, and no skills_sdk.aws.
    assert sdk and all(w.startswith(("/", "./", "../")) for w in sdk), install
    assert all("[postgres]" in w or "[postgres," in w for w in sdk), install  # the ledger on Lambda is PostgreSQL
    assert not target.rstrip("/").startswith(("build", "./build")), install  # setuptools' own build folder
    assert "SKILLS_LEDGER_KEY_FILE=" in recipe and "SKILLS_SPOOL=/tmp/" in recipe  # the code directory is read-only
