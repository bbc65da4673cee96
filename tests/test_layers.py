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


def _module_imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports when it is loaded.

    Only imports at module level count (not those inside functions, which are how a module
    defers a heavy or upward import, nor those under ``if TYPE_CHECKING:``).
    """
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = graph.setdefault(name, set())
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in names)
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in names]
                edges.update(subs if len(subs) == len(node.names) else [target, *subs])
        edges.discard(name)
        edges.intersection_update(names)
    return graph


def test_no_import_cycle():
    graph = _module_imports()
    cycles = []

    def walk(name: str, path: list[str], done: set[str]) -> None:
        for target in sorted(graph[name]):
            if target in path:
                cycles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in done:
                walk(target, [*path, target], done)
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            walk(name, [name], done)
    assert cycles == [], f"import cycles (defer one import into the function that needs it): {cycles}"
