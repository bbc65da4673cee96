"""The package metadata is in setup.cfg; this file adds the compiled modules.

skills_sdk.transcripts.redaction._speedups is the compiled twin of the redactor's hot loops (listed in
skills_sdk/transcripts/redaction/speedups.py); skills_sdk.transcripts.postgres._jsonl the twin of the
PostgreSQL export's line (skills_sdk/transcripts/postgres/jsonl.py); skills_sdk.transcripts.sqlite._walvfs
the SQLite VFS that writes a commit's WAL frames at once (skills_sdk/transcripts/sqlite/walvfs.py);
skills_sdk.transcripts.sqlite._lockwake the write lock's wait without a thread (Linux; sqlite/filelock.py);
skills_sdk.transcripts.sqlite._content the twin of a captured row's content text, its digest
(sqlite/content.py) and its seal's SQL function (sqlite/seal.py);
skills_sdk.transcripts.sqlite._jsonl the SQLite export's lines (sqlite/export.py). All are optional: where they cannot
be built (no compiler, no Python headers) the install goes on and the pure-Python code they mirror runs
(see docs/privacy.md, "Which code runs", and docs/transcripts.md on the export).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "skills_sdk.transcripts.redaction._speedups",
            ["skills_sdk/transcripts/redaction/_speedups.c"],
            optional=True,
        ),
        Extension(
            "skills_sdk.transcripts.postgres._jsonl",
            ["skills_sdk/transcripts/postgres/_jsonl.c"],
            depends=["skills_sdk/transcripts/_json_text.h", "skills_sdk/transcripts/_json_escape.h"],  # the JSON text they write
            optional=True,
        ),
        Extension(
            "skills_sdk.transcripts.sqlite._walvfs",
            ["skills_sdk/transcripts/sqlite/_walvfs.c"],
            optional=True,
        ),
        Extension(
            "skills_sdk.transcripts.sqlite._jsonl",
            ["skills_sdk/transcripts/sqlite/_jsonl.c"],
            depends=["skills_sdk/transcripts/_json_escape.h", "skills_sdk/transcripts/sqlite/_loaded.h"],
            optional=True,
        ),
        Extension(
            "skills_sdk.transcripts.sqlite._lockwake",
            ["skills_sdk/transcripts/sqlite/_lockwake.c"],
            optional=True,
        ),
        Extension(
            "skills_sdk.transcripts.sqlite._content",
            ["skills_sdk/transcripts/sqlite/_content.c"],
            depends=["skills_sdk/transcripts/_json_text.h", "skills_sdk/transcripts/_json_escape.h",
                     "skills_sdk/transcripts/sqlite/_loaded.h"],
            optional=True,
        ),
    ]
)
