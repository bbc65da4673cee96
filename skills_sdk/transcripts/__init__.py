"""The transcript ledger: one interface (``Ledger``), its record and filter types, backends, capture and privacy."""

from .capture import Capture
from .ledger import CAPTURE_MODES, DEFAULT_DB, Ledger, open_ledger
from .query import TranscriptFilter
from .record import Transcript
from .store import TranscriptStore

__all__ = ["Ledger", "open_ledger", "Transcript", "TranscriptFilter", "TranscriptStore", "Capture", "CAPTURE_MODES",
           "DEFAULT_DB"]
