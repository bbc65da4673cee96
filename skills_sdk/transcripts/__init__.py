"""The transcript ledger: one interface (``Ledger``), its record and filter types, backends, capture and privacy."""

from typing import TYPE_CHECKING, Any

from .capture import Capture
from .ledger import CAPTURE_MODES, DEFAULT_DB, Ledger, open_ledger
from .query import TranscriptFilter
from .store import TranscriptStore

if TYPE_CHECKING:
    from .transcript import Transcript

__all__ = ["Ledger", "open_ledger", "Transcript", "TranscriptFilter", "TranscriptStore", "Capture", "CAPTURE_MODES",
           "DEFAULT_DB"]


def __getattr__(name: str) -> Any:
    # Transcript loads when first asked for: a process that only captures never builds the class.
    if name == "Transcript":
        from .transcript import Transcript

        return Transcript
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
