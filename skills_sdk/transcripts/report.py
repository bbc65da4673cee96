"""The privacy report: per skill, in plain words, what is recorded, for how long, who reads it, how to erase it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .capture import CAPTURE_MODES
from .record import COLUMNS
from .redaction import KINDS
from .retention import RECEIPT_COLUMNS

__all__ = ["privacy_report"]

_TEXT_COLUMNS = ("utterance", "speech", "reprompt", "card", "slots")


def _days(days: int | None) -> str:
    return "kept until erased (no retention set)" if days is None else f"{days} day{'s' if days != 1 else ''}"


def _kinds(skill: Any) -> list[str]:
    return [*KINDS, *sorted(skill.redact_patterns or {})]


def privacy_report(skills: Iterable[Any], *, default_days: int | None = None) -> str:
    """What the ledger keeps about each of ``skills``, as plain text a user or auditor can read.

    >>> print(privacy_report([pizza], default_days=30))     # doctest: +SKIP
    pizza (developer pronto-pizza-labs)
      Recorded: ...
    """
    out: list[str] = []
    for s in skills:
        days = s.retention_days if s.retention_days is not None else default_days
        receipt = s.receipt_retention_days
        lines = [
            f"{s.name} (developer {s.developer_id})",
            f"  Recorded per response: {', '.join(c for c in COLUMNS if c != 'id')}.",
            "  Capture modes (chosen by each user; default 'redacted'):",
            "    full      - the words as said",
            "    redacted  - the words with personal data replaced by [KIND] (the default)",
            f"    metadata  - no words: {', '.join(_TEXT_COLUMNS)} are left empty; error keeps only its type "
            "(e.g. PartnerError)",
            f"  Redaction kinds: {', '.join(_kinds(s))}"
            + (f"; slots exempt: {', '.join(sorted(s.exempt_slots))}" if s.exempt_slots else "") + ".",
            f"  Retention: {_days(days)}"
            + (" (server default)" if s.retention_days is None and default_days is not None else "") + ".",
        ]
        if receipt is not None and (days is None or receipt > days):
            lines.append(f"  Receipt retention: {_days(receipt)} for turns with a transaction; after the "
                         f"retention above only {', '.join(c for c in RECEIPT_COLUMNS if c != 'id')} are kept.")
        else:
            lines.append("  Receipt retention: none beyond the retention above.")
        lines += [
            f"  Who can read it: developer {s.developer_id!r} with a developer key (GET /v1/transcripts); "
            "each user, their own rows, with a user token (GET /v1/users/<user_id>/transcripts). "
            "Every read is written to the audit log (`skills audit`).",
            f"  How to erase it: `skills transcripts erase --user USER_ID [--skill {s.name}]`, or "
            f"DELETE /v1/users/<user_id>/transcripts[?skill={s.name}] with the user's token; "
            "a receipt is returned and kept.",
            "  When a user disables the skill: "
            + (f"their transcripts and saved state in it are erased {s.disable_grace_days} day(s) later."
               if s.disable_grace_days else "their transcripts and saved state in it are erased at once."),
            "",
        ]
        out.extend(lines)
    out.append(f"Capture modes: {', '.join(CAPTURE_MODES)}. Set one with `skills privacy consent --user ID --mode M` "
               "or PUT /v1/users/<user_id>/capture-mode.")
    return "\n".join(out) + "\n"
