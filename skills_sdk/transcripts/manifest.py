"""The erasure receipt's manifest: every place an erasure removed a user's data from, and what it cannot reach, in plain words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["manifest"]


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def manifest(receipt: Mapping[str, Any], *, shredded: bool = False) -> dict[str, list[dict[str, str]]]:
    """What an erasure did, place by place, for the person it erased: ``removed``, ``kept`` and ``out_of_reach``.

    >>> manifest({"transcripts": 3, "state_rows": 1, "spooled": 0, "scrubbed": True})["removed"][0]
    {'place': 'transcripts', 'what': '3 transcripts (what skills said to you and heard from you) deleted.'}

    Each entry names a place and says what happened there. ``kept`` lists what stays on purpose
    and why; ``out_of_reach`` what no erasure of this ledger can reach. ``shredded`` describes a
    ledger that erases by destroying the key the words were locked with (PostgreSQL), whose files,
    log and backups keep ciphertext: what was destroyed is the key, not every copy of the bytes.
    """
    rows = int(receipt.get("transcripts") or 0)
    scope = f" in skill {receipt['skill']!r}" if receipt.get("skill") else ""
    if receipt.get("developer_id"):
        scope += f" of developer {receipt['developer_id']!r}"
    removed = [
        {"place": "transcripts",
         "what": f"{_n(rows, 'transcript')} (what skills said to you and heard from you){scope} deleted."},
        {"place": "search index",
         "what": ("Their words removed from the full-text search index, so no search finds them."
                  if shredded or receipt.get("scrubbed") else
                  "No search finds them from this moment: their entries in the full-text search index point "
                  "at nothing. The entries themselves are being removed in the next moments (about half a "
                  "second, at the latest at the next purge; this receipt then counts as complete).")},
        {"place": "spool",
         "what": (f"{_n(int(receipt['spooled']), 'row')} still waiting in the spool file (kept there while the "
                  "database was busy) overwritten." if receipt.get("spooled") else
                  "Rows waiting in the spool file (kept there while the database was busy) were checked: "
                  "none of yours is left to come back.")},
        {"place": "saved skill state",
         "what": f"{_n(int(receipt.get('state_rows') or 0), 'record')} of what skills remembered about you deleted."},
        {"place": "scheduled erasures", "what": "Any erasure still waiting for you was carried out by this one."},
    ]
    if shredded:
        removed += [
            {"place": "your data key",
             "what": "The key your words and saved state were locked with is destroyed. Copies of the locked text "
                     "that the database still keeps (in the free space of its files, in its log of recent changes, "
                     "in backups) can no longer be read by anyone: without the key they are noise."},
            {"place": "your search group's key",
             "what": ("The key that made the search index entries of your words is destroyed, and the other people "
                      "it served were indexed again under a new key, so the entries left in old logs and backups "
                      "can no longer be matched to any word." if receipt.get("scrubbed") else
                      "Not yet: the key that made the search index entries of your words is destroyed once the other "
                      "people it served are indexed again under a new key, in the next moments (this receipt then "
                      "counts as complete).")},
            {"place": "the ledger's master key",
             "what": ("The master key that kept your data key moved on to a new one that cannot be turned back "
                      "into the old, so even the copy of your data key left in old logs and backups opens with "
                      "no key that exists." if receipt.get("scrubbed") else
                      "Not yet: the master key that kept your data key moves on in the next moments (at the latest "
                      "at the next purge, or within the hour; this receipt then counts as complete). Until then an "
                      "old log or backup together with today's key file could still open your data key.")},
        ]
    else:
        removed += [
            {"place": "database file",
             "what": "The space the deleted data used is overwritten with zeros, not just marked free."},
            {"place": "write-ahead log",
             "what": ("The log of recent changes was emptied, so no old copy of the deleted data stays in it."
                      if receipt.get("scrubbed") else
                      "Not yet: the log of recent changes still holds old copies until it is emptied, in the next "
                      "moments after the search index entries are gone (a reader that keeps the log open delays "
                      "it, at the latest until the next purge; this receipt then counts as complete).")},
        ]
    kept = [
        {"place": "your capture choice",
         "what": "What you chose to have recorded (everything, redacted, or nothing said) stays, so skills go on "
                 "honouring it. It holds no words."},
        {"place": "your user tokens",
         "what": "Tokens that let you see this page keep working until you or the operator revoke them."},
        {"place": "this receipt and the audit log",
         "what": "They record that an erasure and earlier reads happened, and how many rows, naming you only by a "
                 "code made from your id that cannot be turned back into it. They hold none of your words."},
    ]
    out_of_reach = [
        {"place": "exports and downloads already made",
         "what": "Copies that a developer, the operator or you downloaded before now are files outside this "
                 "ledger; the access log shows who made them and when."},
        {"place": "backups",
         "what": ("Backups of the database made before now keep your transcripts locked under your destroyed "
                  "key, which no one can read. They do keep which skills you used and when (never what was "
                  "said) until they are deleted or expire." if shredded else
                  "Backups and copies of the database made before now keep what they held until they are "
                  "deleted or expire.")},
        {"place": "partner services",
         "what": "What a skill sent to the services it works with (an order to a shop, say) is kept by them, "
                 "under their own rules."},
    ]
    return {"removed": removed, "kept": kept, "out_of_reach": out_of_reach}
