"""The package metadata is in setup.cfg; this file adds the one compiled module.

skills_sdk.transcripts.redaction._speedups is the compiled twin of the redactor's hot loops (listed in
skills_sdk/transcripts/redaction/speedups.py). It is optional: where it cannot be built (no compiler, no Python headers) the install goes on and
the redactor runs the pure-Python code it mirrors (see docs/privacy.md, "Which code runs").
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "skills_sdk.transcripts.redaction._speedups",
            ["skills_sdk/transcripts/redaction/_speedups.c"],
            optional=True,
        )
    ]
)
