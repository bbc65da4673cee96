"""Helpers for the privacy tests: a note-taking skill, turns through the real capture path, byte scans."""

from __future__ import annotations

import pathlib
import uuid

from conftest import make_envelope

from skills_sdk import Skill, say
from skills_sdk.host import SkillHost


def note_skill(name: str = "notes", developer_id: str = "dev-a", **kwargs) -> Skill:
    """A skill that repeats the note it was given; ``buy`` also tags a transaction."""
    skill = Skill(name, developer_id=developer_id, invocation_name=f"{name} keeper", **kwargs)

    @skill.intent("NoteIntent", samples=["note {note}"], slots={"note": "AMAZON.SearchQuery"})
    def note(ctx, note=None):
        ctx.state["last"] = note
        return say(f"Noted {note}.")

    @skill.intent("BuyIntent", samples=["buy {note}"], slots={"note": "AMAZON.SearchQuery"})
    def buy(ctx, note=None):
        return say(f"Bought {note}.").transaction("order", "ORD-" + uuid.uuid4().hex[:6], "9.50")

    return skill


def speak(host: SkillHost, skill: str, user: str, note: str, *, intent: str = "NoteIntent", session: str = "S1"):
    """One turn through the host's chain (capture, redaction, state), with ``note`` as slot and utterance."""
    env = make_envelope(intent=intent, slots={"note": note}, user_id=user, session_id=f"{skill}-{session}")
    return host.handle(skill, env, utterance=f"note {note}")


def marker() -> str:
    """A unique, easily found string."""
    return "MARKER" + uuid.uuid4().hex[:16]


def file_bytes(db_path) -> bytes:
    """The bytes of the database and its -wal and -shm files (whatever exists)."""
    out = b""
    for suffix in ("", "-wal", "-shm"):
        p = pathlib.Path(str(db_path) + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


def occurrences(db_path, text: str) -> int:
    """How many times ``text`` (UTF-8, or UTF-16 as SQLite may store it) appears in the files."""
    data = file_bytes(db_path)
    return data.count(text.encode()) + data.count(text.encode("utf-16-le"))


def retention_skills() -> list[Skill]:
    """Skills with retention policies, for ``--skills _privacy_kit:retention_skills``."""
    return [note_skill("notes", "dev-a", retention_days=30),
            note_skill("shop", "dev-b", retention_days=30, receipt_retention_days=365),
            note_skill("forever", "dev-c")]


def at(host: SkillHost, when: str) -> None:
    """Make the host's capture stamp rows with ``when`` (a controllable clock)."""
    host.capture.clock = lambda: when
