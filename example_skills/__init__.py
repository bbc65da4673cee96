"""Four example skills (music, grocery, ride, pizza) and the partner session they use by default."""

from __future__ import annotations

import importlib
import os

from skills_sdk import Skill
from skills_sdk.http import PartnerSession

from .partners import BASE_URLS, mount_partners

__all__ = ["all_skills", "partner_session", "SKILL_MODULES", "BASE_URLS"]

#: The example skill modules, in the order the server lists them.
SKILL_MODULES = ("music", "grocery", "ride", "pizza")


def all_skills() -> list[Skill]:
    """Fresh instances of every example skill (each module's ``create_skill()``)."""
    out = []
    for name in SKILL_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        out.append(module.create_skill())
    return out


def partner_session(*, timeout: float | None = None) -> PartnerSession:
    """The ``requests`` session the example skills use, with the embedded partner stand-ins mounted.

    Made by :meth:`PartnerSession.from_env`, as every skill's is: ``SKILLS_HTTP_TIMEOUT`` and
    ``SKILLS_HTTP_RETRIES`` apply (a bad value is refused naming the variable), ``timeout``
    overrides the first. A partner whose base URL is set in the environment
    (``SKILLS_PARTNER_PIZZA_URL=https://...``) is not mounted, so the skill reaches the real
    service instead; each skill reads the same variable for its base URL.
    """
    session = PartnerSession.from_env()
    if timeout is not None:
        session.timeout = timeout
    embedded = [n for n in BASE_URLS if not os.environ.get(f"SKILLS_PARTNER_{n.upper()}_URL")]
    if len(embedded) == len(BASE_URLS):
        # Every partner is in-process: proxy and .netrc settings from the environment cannot apply,
        # and reading them costs about a third of each partner call.
        session.trust_env = False
    return mount_partners(session, embedded)


def partner_url(name: str) -> str:
    """The base URL of partner ``name``: the environment's override, else the embedded stand-in."""
    return os.environ.get(f"SKILLS_PARTNER_{name.upper()}_URL", BASE_URLS[name]).rstrip("/")
