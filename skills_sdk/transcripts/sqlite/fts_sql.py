"""The full-text index's names and SQL fragments: which UTC day, developer bucket and table hold a row.

Kept apart from :mod:`.fts` (which fills and empties the tables) so that module stays readable;
:mod:`.fts` re-exports every name here.
"""

from __future__ import annotations

import re
import zlib

__all__ = ["FTS_COLUMNS", "FTS_HAS_TEXT", "FTS_UPTO", "FTS_FLOOR", "FTS_DAY", "FTS_DEV_TOKEN", "FTS_SOURCE_VIEW",
           "fts_day", "developer_token", "fts_bucket", "fts_table"]

_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


#: Text columns the full-text index covers. Only these two: each indexed column costs capture time.
FTS_COLUMNS = ("utterance", "speech")
FTS_HAS_TEXT = "({0}.utterance IS NOT NULL OR {0}.speech IS NOT NULL)"
FTS_UPTO = "(SELECT CAST(value AS INTEGER) FROM privacy_meta WHERE name = 'fts_upto')"
FTS_FLOOR = "(SELECT value FROM privacy_meta WHERE name = 'fts_floor')"
#: The UTC day (``YYYY-MM-DD``) whose full-text tables hold a row; ``other`` for a created_at that is not ISO.
FTS_DAY = ("(CASE WHEN {0}.created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' "
            "THEN substr({0}.created_at, 1, 10) ELSE 'other' END)")
#: The indexed token of a row's developer: ``d`` and the hex of its id's UTF-8 (one token whatever
#: the id holds; the tokenizer folds the case). The content view computes it the same way.
FTS_DEV_TOKEN = "('d' || lower(hex({0}.developer_id)))"
#: What the tables read when FTS5 needs a row's columns (integrity checks, highlight): the text
#: lives once, in transcripts.
FTS_SOURCE_VIEW = ("CREATE VIEW IF NOT EXISTS transcripts_fts_source AS SELECT t.id AS id, "
                   + FTS_DEV_TOKEN.format("t") + " AS developer, t.utterance AS utterance, t.speech AS speech "
                   "FROM transcripts t")
#: Set while per-developer tables of an older ledger remain: rows up to this id may be in them.
_LEGACY = "(SELECT CAST(value AS INTEGER) FROM privacy_meta WHERE name = 'fts_legacy_upto')"


def fts_day(created_at: str | None) -> str:
    """The partition day of a row's ``created_at``, as the triggers compute it (``other`` if not ISO)."""
    return created_at[:10] if created_at and _DAY_RE.match(created_at) else "other"


def developer_token(developer_id: str) -> str:
    """The token the index holds for ``developer_id``: ``dev-a`` -> ``d6465762d61``."""
    return "d" + developer_id.encode("utf-8", "surrogatepass").hex()


def fts_bucket(developer_id: str, buckets: int) -> int:
    """The bucket (0 .. buckets - 1) of a developer's rows in every day: a stable hash of the id."""
    return zlib.crc32(developer_id.encode("utf-8", "surrogatepass")) % buckets if buckets > 1 else 0


def fts_table(day: str, bucket: int) -> str:
    """A full-text table: day ``2026-11-28``, bucket 0 -> ``transcripts_fts_20261128_b0``."""
    return f"transcripts_fts_{day.replace('-', '')}_b{int(bucket)}"


def _legacy_table(day: str, seq: int) -> str:
    return f"transcripts_fts_{day.replace('-', '')}_{int(seq)}"
