"""The request builders' older import path: they live in :mod:`skills_sdk.request_builders`, below the simulator."""

from __future__ import annotations

from ..request_builders import *  # noqa: F403
from ..request_builders import __all__  # noqa: F401
