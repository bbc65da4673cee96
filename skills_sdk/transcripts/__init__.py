"""The transcript ledger: the store, the capture middleware, redaction, erasure, retention, audit."""

from .capture import CAPTURE_MODES, Capture
from .store import DEFAULT_DB, TranscriptStore

__all__ = ["TranscriptStore", "Capture", "CAPTURE_MODES", "DEFAULT_DB"]
