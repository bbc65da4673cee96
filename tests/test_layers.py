"""The package's layering, as docs/architecture.md draws it: SQL only in a ledger backend, no import of the examples."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "skills_sdk"
BACKENDS = (PACKAGE / "transcripts" / "sqlite", PACKAGE / "transcripts" / "postgres")


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(PACKAGE.rglob("*.py"))]


def test_sql_is_executed_only_inside_a_ledger_backend():
    outside = []
    for path, tree in _modules():
        if any(backend in path.parents for backend in BACKENDS):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("execute", "executemany", "executescript")):
                outside.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert outside == [], "SQL outside transcripts/sqlite and transcripts/postgres: put it behind a Ledger method"


def test_the_library_never_imports_its_example_skills():
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}" for n in names
                      if n.partition(".")[0] == "example_skills"]
    assert found == []


def test_only_the_test_kit_imports_the_test_kit():
    # The simulator builds envelopes with request_builders, below it: testing imports the
    # simulator, never the other way round.
    found = []
    for path, tree in _modules():
        if path.parent.name == "testing" or path.name == "pytest_plugin.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and ("testing" in (node.module or "").split(".")
                                                     or any(a.name == "testing" for a in node.names)):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert found == []


def test_every_ledger_module_stays_small_enough_to_read():
    # One concept per module, found by its name: a module that grows past this wants splitting
    # (as sqlite/fts.py gave its search to sqlite/search.py), not a higher limit.
    limit = 400
    long = [f"{path.relative_to(PACKAGE.parent)}: {n} lines" for path in sorted((PACKAGE / "transcripts").rglob("*.py"))
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > limit]
    assert long == [], f"modules of the ledger over {limit} lines; split them by concept: {long}"
