"""Every ``>>>`` example in the package's docstrings runs and shows what the code returns."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import skills_sdk

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    # Compiled twins (``_speedups``, ``_jsonl``...) carry no examples; walking them too only
    # checks that they import, which a missing build should report here as well.
    return sorted([skills_sdk.__name__] + [info.name for info in pkgutil.walk_packages(
        skills_sdk.__path__, prefix=skills_sdk.__name__ + ".")])


@pytest.mark.parametrize("name", _module_names())
def test_every_docstring_example_shows_what_the_code_returns(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        pytest.fail(f"{name} does not import ({exc}); ./dev installs every extra the package needs")
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    finder = doctest.DocTestFinder(exclude_empty=True)
    for test in finder.find(module, name):
        runner.run(test, out=report.append)
    failed, tried = runner.summarize(verbose=False)
    if failed:
        pytest.fail(f"{failed} of {tried} examples in {name} fail:\n" + "".join(report), pytrace=False)
