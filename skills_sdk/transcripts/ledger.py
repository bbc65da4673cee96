"""``Ledger``: the one interface to the transcript ledger, whatever stores it, and ``open_ledger`` to pick the backend."""

from __future__ import annotations

import abc
import importlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from .lifecycle import Lifecycle
from .query import TranscriptFilter
from .record import iter_csv
from .urls import BACKENDS, backend_of
from .urls import safe_url as _safe

if TYPE_CHECKING:
    from collections import Counter

    from .keys import KeyInfo
    from .sessions import ConsoleSession
    from .spool import Spool
    from .sqlite.chain import ChainReport

__all__ = ["Ledger", "open_ledger", "backend_of", "Where", "Page", "CAPTURE_MODES", "DEFAULT_CAPTURE_MODE",
           "COPYABLE", "DEFAULT_DB", "BACKENDS"]

#: What a user may choose to have recorded: everything, text with PII redacted, or no text at all.
CAPTURE_MODES = ("full", "redacted", "metadata")
DEFAULT_CAPTURE_MODE = "redacted"  #: a user who chose none, and a turn without a user id
#: What moves with a ledger besides its transcripts (:meth:`Ledger.iter_copyable`), in the order it is copied.
COPYABLE = ("capture_mode", "state", "key", "pending_erasure")
#: Where ``skills serve`` keeps transcripts when no --db is given.
DEFAULT_DB = os.path.join("var", "transcripts.db")

#: A filter as the ledger's methods take it: a :class:`TranscriptFilter`, a mapping of its fields, or None.
Where = TranscriptFilter | Mapping[str, Any] | None
#: A page: the rows, newest first, and the id to pass as ``before_id`` for the next one (None on the last).
Page = tuple[list[dict[str, Any]], int | None]


class Ledger(Lifecycle, abc.ABC):
    """The transcript ledger: rows of what skills said, per-user state, consent, keys, audit, erasure, retention.

    >>> with open_ledger(":memory:") as ledger:
    ...     ledger.record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."})
    ...     [r["speech"] for r in ledger.user_history("u1")]
    1
    ['Hi.']

    Rows come back as the API's JSON objects (see :class:`~skills_sdk.transcripts.Transcript`);
    filters are :class:`~skills_sdk.transcripts.query.TranscriptFilter` (or a mapping of its
    fields: an unknown name raises, it is never dropped). A backend owns its connections and its
    background work: :meth:`start` begins it (the server calls it once), :meth:`stop` ends it and
    closes what is open; ``with`` does both. Without :meth:`start` every method still works: a
    CLI command or a test needs no background thread.

    A backend implements every abstract method; the test suite in ``tests/test_ledger.py`` runs
    against each backend through this interface alone.
    """

    #: The URL or path the ledger was opened from.
    url: str = ""
    #: What a method raises when the database could not do it (unreachable, full, locked): catch
    #: these, not a driver's classes, to fall back (capture then spools the row).
    errors: tuple[type[BaseException], ...] = (StoreError, OSError)
    #: ``save_state`` and ``record(state=...)`` take a turn's :class:`~skills_sdk.context.StateChange`
    #: and store its changes over a state another turn of the user stored meanwhile.
    merges_state: bool = True

    # -- writing -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def record(self, row: Mapping[str, Any], *, state: str | None = None) -> int:
        """Write one transcript row and commit it before returning; returns its id.

        ``row`` maps column names to values (JSON columns as Python values or
        :class:`~skills_sdk.transcripts.record.JsonText`); missing columns are NULL. ``state``
        (JSON text) is the user's saved attributes for the row's skill, stored in the same commit: a
        turn's :class:`~skills_sdk.context.StateChange` over the version it loaded, its changes merged
        key by key over a version another turn stored meanwhile; plain text whole.
        """

    @abc.abstractmethod
    def record_many(self, rows: Sequence[Mapping[str, Any]], *, progress: tuple[str, int] | None = None) -> int:
        """Write many rows in one transaction (imports, spool replay); returns how many.

        ``progress=(name, n)`` records ``n`` as ``name``'s progress in the same commit (an import's last
        line written): a run killed between batches resumes after it, and a second run of the same work
        at once gets :class:`~skills_sdk.errors.ProgressTaken` (``n`` must pass what is stored).
        """

    @abc.abstractmethod
    def progress(self, name: str) -> int | None:
        """The progress :meth:`record_many` last committed under ``name``, or None."""

    @abc.abstractmethod
    def forget_progress(self, name: str) -> None:
        """Drop ``name``'s progress (the work it tracked is done)."""

    def index_pending(self) -> int:
        """Make every row recorded so far searchable now, for a backend that indexes later; returns how many."""
        return 0

    # -- reading -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def get(self, transcript_id: int) -> dict[str, Any] | None:
        """One transcript by id, or None."""

    @abc.abstractmethod
    def user_history(self, user_id: str, *, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
        """A user's transcripts across every skill, newest first."""

    @abc.abstractmethod
    def session_turns(self, session_id: str) -> list[dict[str, Any]]:
        """Every turn of one session, in order."""

    @abc.abstractmethod
    def count(self, where: Where = None, /, **fields: Any) -> int:
        """How many transcripts match, e.g. ``count(user_id="u1")``; an unknown field raises ValueError."""

    @abc.abstractmethod
    def iter_transcripts(self, where: Where = None, /, *, batch: int = 2000, **fields: Any) -> Iterator[dict[str, Any]]:
        """Every matching transcript, oldest first, read in batches (memory stays flat)."""

    def iter_jsonl(self, where: Where = None, /, *, batch: int = 10_000, **fields: Any) -> Iterator[str]:
        """The rows :meth:`iter_transcripts` yields, each as one compact JSON line (no newline)."""
        from .record import to_jsonl

        for row in self.iter_transcripts(where, batch=batch, **fields):
            yield to_jsonl(row)

    def export_jsonl(self, where: Where = None, /, *, users: Counter[str] | None = None, batch: int = 1000,
                     **fields: Any) -> Iterator[tuple[str, int]]:
        """The rows :meth:`iter_jsonl` yields as text chunks of up to ``batch`` lines, each ending in a newline; with each, its lines.

        Each line's user is counted in ``users`` (the audit row of an export), as its chunk is made.
        """
        from .audit import jsonl_chunks

        return jsonl_chunks(self.iter_jsonl(where, **fields), users, batch)

    def export(self, where: Where = None, /, *, fmt: str = "jsonl", **fields: Any) -> Iterator[str]:
        """The matching rows, oldest first, as text chunks: JSON lines, or CSV with a header (formulas neutralised)."""
        if fmt == "jsonl":
            return (text for text, _ in self.export_jsonl(where, **fields))
        if fmt == "csv":
            return iter_csv(self.iter_transcripts(where, **fields))
        raise ValueError(f"export format must be 'jsonl' or 'csv', got {fmt!r}.")

    @abc.abstractmethod
    def query(self, where: Where = None, /, *, developer_id: str | None = None, user_id: str | None = None,
              before_id: int | None = None, limit: int = 50) -> Page:
        """One page of the scope's transcripts (a developer's, or a user's), newest first, and the next page's key.

        The scope (``developer_id`` or ``user_id``, from the caller's key, never from the request)
        is required; ``where`` narrows it, and its ``q`` searches the words said (full text).
        """

    def iter_query(self, where: Where = None, /, *, developer_id: str | None = None, user_id: str | None = None,
                   batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every row :meth:`query` would page through, newest first, ``batch`` at a time."""
        before: int | None = None
        while True:
            rows, before = self.query(where, developer_id=developer_id, user_id=user_id, before_id=before,
                                      limit=batch)
            yield from rows
            if before is None:
                return

    def search(self, text: str, where: Where = None, /, *, developer_id: str | None = None,
               user_id: str | None = None, before_id: int | None = None, limit: int = 50) -> Page:
        """One page of the scope's transcripts whose utterance or speech has every word of ``text``."""
        from .query import fts_query

        return self.query(TranscriptFilter.of(where, q=fts_query(text)), developer_id=developer_id,
                          user_id=user_id, before_id=before_id, limit=limit)

    @abc.abstractmethod
    def skill_stats(self, developer_id: str, skill: str, *, since: str, until: str | None = None) -> dict[str, Any]:
        """The dashboard figures of one of ``developer_id``'s skills between ``since`` and ``until``."""

    # -- erasure and retention -----------------------------------------------------------------------
    @abc.abstractmethod
    def erase_user(self, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
                   actor: str = "cli", reason: str = "request", check: bool = True) -> dict[str, Any]:
        """Erase everything recorded about ``user_id`` (every skill, or one) so no byte of it is left; the receipt."""

    @abc.abstractmethod
    def schedule_erasure(self, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
                         due: datetime, reason: str = "skill_disabled") -> None:
        """Queue an erasure for ``due``; :meth:`purge` carries it out then."""

    @abc.abstractmethod
    def receipts(self, *, user_id: str | None = None) -> list[dict[str, Any]]:
        """Stored erasure receipts, newest first (only ``user_id``'s when given)."""

    @abc.abstractmethod
    def purge(self, skills: Mapping[str, Any] | Iterable[Any] = (), *, default_days: int | None = None,
              now: datetime | str | None = None, actor: str = "purge",
              progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Delete expired transcripts, strip expired text from kept receipts, run due erasures; a report."""

    def verify_chain(self) -> ChainReport:
        """Walk the tamper-evident chain: ``ok``, or the first row changed, deleted or inserted outside the ledger.

        Both backends keep one (SQLite one chain in commit order, PostgreSQL a chain per lane of users);
        a backend without one raises NotImplementedError saying so.
        """
        raise NotImplementedError(f"The {type(self).__name__} keeps no tamper-evident chain; "
                                  "`skills transcripts verify` checks SQLite ledgers.")

    # -- keys ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_key(self, kind: str, subject: str, *, actor: str = "cli") -> tuple[KeyInfo, str]:
        """Make a ``developer`` or ``user`` key for ``subject``; returns its record and the key (shown once)."""

    @abc.abstractmethod
    def verify_key(self, key: str) -> KeyInfo | None:
        """The live record of ``key``, or None when unknown, revoked or malformed."""

    @abc.abstractmethod
    def revoke_key(self, key_or_id: str, *, actor: str = "cli") -> KeyInfo:
        """Revoke a key named by its id or by itself; raises NotFound when there is none."""

    @abc.abstractmethod
    def list_keys(self) -> list[KeyInfo]:
        """Every key ever made, oldest first."""

    # -- console sessions ----------------------------------------------------------------------------
    @abc.abstractmethod
    def load_session(self, sid: str) -> tuple[ConsoleSession | None, list[str]]:
        """The live console session ``sid`` names (None: unknown, expired or ended), and the slots dropped
        because their key was revoked (a session left with no live key is deleted)."""

    @abc.abstractmethod
    def save_session(self, session: ConsoleSession, *, ttl: float) -> None:
        """Write ``session`` (a new one expires in ``ttl`` seconds); one with nothing to keep is deleted."""

    @abc.abstractmethod
    def end_session(self, sid: str) -> None:
        """Delete console session ``sid``: its cookie opens nothing any more."""

    def csrf_token(self, sid: str) -> str:
        """The CSRF token of console session ``sid``, derived under :meth:`secret` (every worker agrees)."""
        import hashlib
        import hmac

        return hmac.new(self.secret(), b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()

    # -- consent -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def capture_mode(self, user_id: str) -> str:
        """What this user lets the ledger record: ``full``, ``redacted`` (the default) or ``metadata``."""

    @abc.abstractmethod
    def set_capture_mode(self, user_id: str, mode: str, *, actor: str | None = None) -> None:
        """Set what is recorded for ``user_id`` from now on (audited, in the same commit, when ``actor`` is given)."""

    # -- audit ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def audit(self, actor: str, action: str, filters: Mapping[str, Any] | None = None, rows: int = 0, *,
              users: Mapping[str, int] | None = None) -> None:
        """Append one audit row: who, what, with which filters (user ids and search text hashed), how many rows.

        ``users`` maps each user whose rows a read returned to how many: what :meth:`access_log` shows them.
        """

    @abc.abstractmethod
    def access_log(self, user_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """Every audited read, search and export that returned any of ``user_id``'s rows, newest first.

        Each entry: ``at``, ``action``, ``what`` (in words), ``rows`` (how many of the user's rows),
        ``by`` (``developer`` or ``operator``), ``developer_id`` for a developer's read, and
        ``searched``; never the query text. The user's own reads are left out.
        """

    @abc.abstractmethod
    def iter_audit(self, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Audit rows, newest first."""

    @abc.abstractmethod
    def secret(self) -> bytes:
        """This ledger's random secret: salts user-id hashes, signs page cursors."""

    def user_hash(self, user_id: str) -> str:
        """A salted hash of ``user_id`` (HMAC-SHA256 under :meth:`secret`), for records that must not hold the id."""
        import hashlib
        import hmac

        return "u:" + hmac.new(self.secret(), user_id.encode(), hashlib.sha256).hexdigest()[:32]

    # -- per-user skill state ------------------------------------------------------------------------
    @abc.abstractmethod
    def load_state(self, developer_id: str, skill: str, user_id: str) -> dict[str, Any]:
        """The saved attributes of ``user_id`` in ``skill`` (empty dict if none): a
        :class:`~skills_sdk.context.LoadedState`, whose ``token`` names the version read."""

    @abc.abstractmethod
    def save_state(self, developer_id: str, skill: str, user_id: str, state: Mapping[str, Any] | str) -> None:
        """Replace the saved attributes of ``user_id`` in ``skill`` (a mapping, or JSON text).

        A turn's :class:`~skills_sdk.context.StateChange` is stored over the version it loaded, or
        merged key by key over one another turn stored meanwhile.
        """

    # -- moving a ledger ---------------------------------------------------------------------------
    @abc.abstractmethod
    def iter_copyable(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Everything besides transcripts that moves with the ledger, as ``(kind, fields)`` (:data:`COPYABLE`).

        ``capture_mode`` (user_id, mode, updated_at), ``state`` (developer_id, skill, user_id,
        state), ``key`` (id, key_hash, kind, subject, created_at, revoked_at: only the key's hash
        is stored, and it moves as it is, so keys keep working), ``pending_erasure`` (user_id,
        developer_id, skill, due_at, reason, created_at). Receipts and the audit log stay: their
        user hashes are salted with this ledger's own secret.
        """

    @abc.abstractmethod
    def load_copied(self, items: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, int]:
        """Write what :meth:`iter_copyable` gave (of any backend); how many of each kind were taken.

        A capture mode already set here is kept when it is newer; a key id already here is kept.
        """

    # -- health --------------------------------------------------------------------------------------
    @abc.abstractmethod
    def check_writable(self, *, timeout_ms: int = 250) -> str | None:
        """None when the ledger can take a row now, else why not (writes nothing)."""

    def is_busy(self, exc: BaseException) -> bool:
        """True when ``exc`` means another writer held the database past the wait: retrying will work."""
        return False

    def ready(self) -> bool:
        """True when the ledger can take a row now (what ``/readyz`` reports)."""
        return self.check_writable() is None

    def local_file(self) -> str | None:
        """The database file on this host, whose identity and free space a guard can watch (None: in memory, or a server)."""
        return None

    # -- the spool: rows the database could not take -------------------------------------------------
    @abc.abstractmethod
    def record_spooled(self, source: str, rows_from: Callable[[int], Iterable[tuple[int, Mapping[str, Any] | None]]],
                       refuse: Callable[[Mapping[str, Any], BaseException], None]) -> int:
        """Insert the rows of spool file ``source`` past the byte offset recorded for it, and record the offset
        they reach, in one commit; returns how many rows were inserted.

        ``rows_from(offset)`` yields ``(offset after the line, row or None)``. Two replayers of one
        file insert its rows once: the second finds the offset moved. A row the ledger refuses for
        what it holds (:data:`ROW_REFUSALS`, or the backend's own constraint errors) goes to
        ``refuse(row, error)`` before the commit, so it neither blocks the rest nor is lost; any other
        error propagates, and nothing is committed.
        """

    @abc.abstractmethod
    def forget_spooled(self, source: str) -> None:
        """Drop the recorded offset of spool file ``source`` once replay has removed the file."""

    def spool(self) -> Spool | None:
        """The append-only file where capture puts rows this ledger cannot take right now (None: no spool)."""
        return None

    def spool_files(self) -> list[str]:
        """Files of rows waiting to be replayed into the ledger."""
        spool = self.spool()
        return spool.files() if spool is not None else []

    def replay_spool(self) -> int:
        """Move spooled rows into the ledger, exactly once; returns how many were inserted."""
        spool = self.spool()
        return spool.replay(self) if spool is not None else 0


def open_ledger(url_or_path: str | os.PathLike[str] = DEFAULT_DB, **options: Any) -> Ledger:
    """The ledger at ``url_or_path``: a file path, ``:memory:``, ``sqlite:///path`` or ``postgresql://…``.

    >>> open_ledger(":memory:").count()
    0

    ``options`` go to the backend (SQLite: ``synchronous``, ``busy_timeout_ms``,
    ``capture_timeout_ms``). Any other URL scheme is an error naming the schemes known, never read
    as a local path. The ledger is not
    started: call :meth:`Ledger.start` (or use ``with``) to run its background work.
    """
    text = os.fspath(url_or_path)
    module_name, target = backend_of(text)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name) or exc.name == module_name:
            raise ValueError(f"The ledger URL {_safe(text)!r} needs the backend package {module_name!r}, which "
                             "is not installed in this environment.") from None
        raise ValueError(f"The ledger URL {_safe(text)!r} needs the backend package {module_name!r}, which could "
                         f"not be imported: it needs {exc.name!r} (pip install it).") from None
    ledger: Ledger = module.open(target, **options)
    return ledger
