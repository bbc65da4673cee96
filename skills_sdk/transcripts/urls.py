"""Ledger URLs: which backend module serves a path or URL, and a URL as logs and errors may show it."""

from __future__ import annotations

__all__ = ["BACKENDS", "backend_of", "safe_url"]

#: URL schemes and the module that implements each (the module defines ``open(url, **options)``).
BACKENDS: dict[str, str] = {
    "sqlite": "skills_sdk.transcripts.sqlite",
    "postgresql": "skills_sdk.transcripts.postgres",
    "postgres": "skills_sdk.transcripts.postgres",
}


def backend_of(url_or_path: str) -> tuple[str, str]:
    """``(backend module, what its open() takes)`` for a ledger path or URL; ValueError for an unknown scheme.

    >>> backend_of("sqlite:///var/t.db")
    ('skills_sdk.transcripts.sqlite', 'var/t.db')
    """
    scheme, sep, rest = url_or_path.partition("://")
    if not sep or (len(scheme) == 1 and scheme.isalpha()):  # a plain path (or a Windows drive letter)
        return BACKENDS["sqlite"], url_or_path
    key = scheme.lower()
    if key not in BACKENDS:
        raise ValueError(f"Unknown ledger URL scheme {scheme!r} in {safe_url(url_or_path)!r}; use a file path, "
                         "sqlite:///path/to/transcripts.db or postgresql://user@host/dbname.")
    if key != "sqlite":
        return BACKENDS[key], url_or_path
    # sqlite:///var/t.db is the relative var/t.db; sqlite:////abs/t.db is /abs/t.db (SQLAlchemy's rule).
    target = rest[1:] if rest.startswith("/") else rest
    if not target:
        raise ValueError(f"{url_or_path!r} names no database file; use sqlite:///path/to/transcripts.db.")
    return BACKENDS["sqlite"], target


def safe_url(url: str) -> str:
    """``url`` with any password masked (error messages and logs must not show it)."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        creds, _, host = rest.partition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}{':***' if ':' in creds else ''}@{host}"
    return url
