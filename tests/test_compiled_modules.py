"""The optional compiled modules are built in a dev install (CI measures the code users get)."""

from __future__ import annotations

import importlib
import os

import pytest

#: Set where no C compiler is expected (a pure-Python install): the modules' Python twins then run
#: and this test passes without them. Unset in CI and ./dev, so a failed build cannot go unnoticed.
ABSENT_OK = "SKILLS_NO_COMPILER"


@pytest.mark.parametrize(("module", "source", "without"), [
    ("skills_sdk.transcripts.redaction.speedups", "redaction/_speedups.c", "the redactor runs at a third of the speed"),
    ("skills_sdk.transcripts.postgres.jsonl", "postgres/_jsonl.c", "a PostgreSQL export makes its lines in Python"),
    ("skills_sdk.transcripts.sqlite.content", "sqlite/_content.c", "a capture makes its row's content text in Python"),
    ("skills_sdk.transcripts.sqlite.export", "sqlite/_jsonl.c", "a SQLite export spends twice the CPU a row"),
])
def test_the_compiled_twins_are_built_in_a_dev_install(module, source, without) -> None:
    if os.environ.get(ABSENT_OK) == "1":
        pytest.skip(f"{ABSENT_OK}=1: a pure-Python install is expected here")
    assert importlib.import_module(module).available(), (
        f"skills_sdk/transcripts/{source} was not built, so {without}. Install gcc and the Python headers and "
        f"rerun `pip install -e '.[dev]'` (./dev does when setup.py or a C source change), or set {ABSENT_OK}=1 "
        "where no compiler is expected."
    )


def test_a_captures_digest_and_seal_are_compiled_in_a_dev_install() -> None:
    from skills_sdk.transcripts.sqlite import content

    if os.environ.get(ABSENT_OK) == "1":
        pytest.skip(f"{ABSENT_OK}=1: a pure-Python install is expected here")
    assert content.digest_compiled() and content.seal_compiled(), (
        "skills_sdk/transcripts/sqlite/_content.c was not built, or found no SHA-256 in hashlib's libcrypto or no "
        "SQLite functions in the driver's library, so a capture digests and seals its row in Python (some 30,000 "
        "more instructions). Install gcc and the Python headers and rerun `pip install -e '.[dev]'`, or set "
        f"{ABSENT_OK}=1 where no compiler is expected."
    )


def test_the_wal_writes_vfs_is_built_in_a_dev_install() -> None:
    from skills_sdk.transcripts.sqlite.driver import wal_vfs

    if os.environ.get(ABSENT_OK) == "1":
        pytest.skip(f"{ABSENT_OK}=1: a pure-Python install is expected here")
    if os.environ.get("SKILLS_WAL_WRITES", "").strip().lower() == "each":
        pytest.skip("SKILLS_WAL_WRITES=each asks for SQLite's own WAL writes")
    assert wal_vfs() == "skills-wal", (
        "skills_sdk/transcripts/sqlite/_walvfs.c was not built (or could not register in the driver's SQLite), so a "
        "capture writes its WAL frames with two system calls each. Install gcc and the Python headers and rerun "
        f"`pip install -e '.[dev]'` (./dev does when a C source changes), or set {ABSENT_OK}=1 where no compiler "
        "is expected."
    )
