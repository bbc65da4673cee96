"""Sphinx configuration of the API reference: ``./dev docs`` builds it into build/api/ from the docstrings."""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from skills_sdk import __version__  # noqa: E402

project = "skills_sdk"
release = version = __version__
extensions = ["sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_inherit_docstrings = False  # requests' own docstrings use labels of requests' docs
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
# Docstrings name the SDK's own objects with ``double backticks``: render them as code.
default_role = "code"
html_theme = "alabaster"
html_title = f"skills_sdk {release}: API reference"
exclude_patterns = ["_build"]
suppress_warnings = ["ref.python"]  # a short name (Turn, Response) may match two documented paths
