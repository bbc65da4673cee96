"""The PostgreSQL ledger's keys: a ratcheting key-encryption key in a file, per-user data keys, keyed search tokens.

Why this shape. PostgreSQL never overwrites a deleted tuple, and its WAL and every base backup keep
what was written, so a user's words are erased by destroying the key they were sealed with
(crypto-shredding). A key kept in a table is itself in the WAL and in every backup taken while it
lived, so the data keys are stored only *wrapped* under a key-encryption key (KEK) that never enters
the database. Erasing a user deletes their rows and their data keys and then *ratchets* the KEK:
``KEK[n+1] = HMAC(KEK[n], "ratchet")`` re-wraps every remaining data key and the file keeps only the
new KEK. The ratchet is one-way, so nothing left anywhere can recompute ``KEK[n]``: the erased
user's wrapped key, still present in old WAL segments and earlier backups, can no longer be opened
by any key that remains. Every host derives the same ``KEK[n]`` from the same starting file, so
hosts need no coordination beyond the epoch number the database holds.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...errors import StoreError

__all__ = ["KeyFile", "wrap", "unwrap", "seal", "unseal", "new_key", "words", "token_buckets", "BUCKETS",
           "GROUPS", "GROUP_SQL", "group_of", "group_tokens"]

#: Buckets per developer of the tokens written before search groups (schema 2): a word's bucket
#: under the developer's one search key. Read only while ``skills ledger migrate`` re-tokenises them.
BUCKETS = 4096
#: Each developer's users fall into this many search groups, each with its own search key: an
#: erasure destroys the erased user's group key and re-tokenises the group's other rows under a new
#: one, so no key that remains maps a token of the erased user's (in old WAL or a backup) to a word.
#: A search probes one token per group and word (see docs/performance.md for why 8).
GROUPS = 8
_RATCHET = b"skills-ledger kek ratchet"
_CHECK = b"skills-ledger kek check"
_WORD = re.compile(r"\w+")


def new_key() -> bytes:
    """A fresh 256-bit key."""
    return secrets.token_bytes(32)


class KeyFile:
    """The ledger's key-encryption key at one epoch, in a file outside the database (mode 0600).

    >>> kf = KeyFile.open("var/ledger.key", create=True)     # doctest: +SKIP
    >>> kf.epoch, len(kf.key)                                  # doctest: +SKIP
    (0, 32)

    Give every host the same file (as you would a signing secret): each derives later epochs itself.
    """

    def __init__(self, path: str, epoch: int, key: bytes) -> None:
        self.path = path
        self.epoch = epoch
        self.key = key

    @classmethod
    def open(cls, path: str, *, create: bool) -> KeyFile:
        """Read the key file; with ``create``, write a new epoch-0 key when it does not exist."""
        try:
            with open(path, encoding="ascii") as f:
                data = json.load(f)
            return cls(path, int(data["epoch"]), bytes.fromhex(data["key"]))
        except (FileNotFoundError, NotADirectoryError):  # none there (or a file where its folder should be)
            if not create:
                raise StoreError(
                    f"The ledger's key file {path!r} is missing, but this database holds data sealed under it. "
                    "Copy the key file from another host of this ledger (SKILLS_LEDGER_KEY_FILE names it); "
                    "without it the recorded words cannot be read.") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"The ledger's key file {path!r} cannot be read ({exc}); it must hold "
                             '{"epoch": N, "key": "<64 hex digits>"}.') from exc
        try:
            return cls(path, 0, new_key())._write(first=True)
        except OSError as exc:  # a folder not writable, a file where a folder should be: one line, not a traceback
            why = ("a file is where its folder should be" if isinstance(exc, FileExistsError | NotADirectoryError)
                   else exc.strerror or str(exc))
            raise StoreError(
                f"The ledger's key file {path!r} cannot be made ({why}). Set "
                "SKILLS_LEDGER_KEY_FILE to a path in a folder this user can write (the file is made with mode "
                "0600); every host of this ledger needs the same file.") from None

    def check_value(self) -> str:
        """A value the database keeps to tell a wrong key file from the right one (reveals nothing of the key)."""
        return hmac.new(self.key, _CHECK, hashlib.sha256).hexdigest()[:32]

    def key_at(self, epoch: int) -> bytes:
        """The KEK of ``epoch`` (this epoch or a later one: earlier ones cannot be derived)."""
        if epoch < self.epoch:
            raise StoreError(f"Data wrapped under key epoch {epoch} cannot be opened: the key file is at epoch "
                             f"{self.epoch} and earlier epochs are destroyed (a restore from a backup taken "
                             "before a later erasure cannot read the words; that is the erasure working).")
        key = self.key
        for _ in range(epoch - self.epoch):
            key = hmac.new(key, _RATCHET, hashlib.sha256).digest()
        return key

    def advance_to(self, epoch: int) -> None:
        """Ratchet the file forward to ``epoch``, destroying the earlier key (a new file replaces the old)."""
        if epoch <= self.epoch:
            return
        self.key = self.key_at(epoch)
        self.epoch = epoch
        self._write()

    def _write(self, *, first: bool = False) -> KeyFile:
        """Put this key in the file (whole: a new file replaces the old); returns the key file as it now is.

        The processes of one host share the file (gunicorn's workers, ``skills ledger ratchet``) and
        each writes it after its own ratchet commits, so they take turns (a lock on the folder), and
        one never puts back an earlier epoch of the same key over a later one: an earlier key on disk
        is a key a ratchet was meant to destroy. ``first``: a new ledger's key, unless another
        process made the file meanwhile (then that file is the one returned).
        """
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(dfd, fcntl.LOCK_EX)
            # A process killed between its write and its rename left its new file behind: a whole
            # key, which the next ratchet would make an old one. Every writer takes the lock, so
            # any such file now is a leftover.
            prefix = os.path.basename(self.path) + "."
            for name in os.listdir(folder):
                if name.startswith(prefix) and name.endswith(".tmp") and name[len(prefix):-4].isdigit():
                    os.unlink(os.path.join(folder, name))
            there = self._on_disk()
            if there is not None and (first or (there.epoch >= self.epoch and there.key == self.key_at(there.epoch))):
                return there
            tmp = f"{self.path}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, json.dumps({"epoch": self.epoch, "key": self.key.hex()}).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            os.fsync(dfd)
            return self
        finally:
            os.close(dfd)  # and with it the lock

    def _on_disk(self) -> KeyFile | None:
        """The key file as it is on disk now, or None when there is none that can be read."""
        try:
            with open(self.path, encoding="ascii") as f:
                data = json.load(f)
            return KeyFile(self.path, int(data["epoch"]), bytes.fromhex(data["key"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def wrap(kek: bytes, key: bytes, label: str) -> bytes:
    """``key`` sealed under ``kek`` (AES-GCM, ``label`` bound as associated data)."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(kek).encrypt(nonce, key, label.encode())


def unwrap(kek: bytes | AESGCM, wrapped: bytes, label: str) -> bytes:
    """The key ``wrap`` sealed; raises :class:`StoreError` when ``kek`` or ``label`` is not the one used.

    ``kek`` may be ``AESGCM(kek)`` already, made once by a caller that opens many keys (an export).
    """
    try:
        return (kek if isinstance(kek, AESGCM) else AESGCM(kek)).decrypt(wrapped[:12], wrapped[12:], label.encode())
    except InvalidTag:
        raise StoreError(f"A data key ({label.split(':')[0]}) does not open under this key file: wrong key file, "
                         "or a database restored from before a key ratchet.") from None


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``plaintext`` encrypted under a data key (AES-GCM, a fresh 96-bit nonce in front)."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext ``seal`` encrypted."""
    try:
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)
    except InvalidTag:
        raise StoreError("A transcript's sealed text does not open under its user's key.") from None


def words(text: str | None) -> set[str]:
    """The search words of ``text``: runs of letters and digits, case-folded, accents removed."""
    if not text:
        return set()
    if text.isascii():  # most text: nothing to fold but case, no accents to strip (the same words, far faster)
        return set(_WORD.findall(text.lower()))
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return set(_WORD.findall(folded))


def group_of(user_id: str) -> int:
    """The search group of a user (the same in every developer): the first byte of SHA-256 of the id, mod :data:`GROUPS`.

    PostgreSQL computes the same (:data:`GROUP_SQL`), so
    a re-key selects a group's rows in SQL.

    >>> group_of("amzn1.ask.account.A")
    5
    """
    return hashlib.sha256(user_id.encode()).digest()[0] % GROUPS


#: The SQL of :func:`group_of` for a ``user_id`` column.
GROUP_SQL = f"mod(get_byte(sha256(convert_to(user_id, 'UTF8')), 0), {GROUPS})"


def group_tokens(group_key: bytes, terms: Iterable[str], *, remember: bool = True) -> list[int]:
    """The index entries of ``terms`` under a group's search key: a signed 32-bit keyed hash each, sorted.

    32 bits, not the word nor its whole hash: a search re-checks its candidates' words anyway, so
    the rare token another word shares costs a row unsealed, never a wrong result. Each word's
    token is kept in this process's memory (see :data:`_TOKENS`) unless ``remember`` is false.
    """
    out = set()
    new = []
    for t in terms:
        token = _TOKENS.get((group_key, t))
        if token is None:
            new.append(t)
        else:
            out.add(token)
    for t, mac in zip(new, _macs(group_key, new), strict=True):
        token = int.from_bytes(mac[:4], "big", signed=True)
        out.add(token)
        if remember:
            if len(_TOKENS) >= _TOKENS_SIZE:
                _TOKENS.clear()
            _TOKENS[(group_key, t)] = token
    return sorted(out)


def token_buckets(search_key: bytes, developer_num: int, terms: Iterable[str]) -> list[int]:
    """The index entries of ``terms`` for one developer before search groups: ``developer_num * BUCKETS + bucket``.

    The developer's number keeps every developer's entries apart in the shared GIN index, so a
    search reads only its own developer's postings.
    """
    base = developer_num * BUCKETS
    return sorted({base + int.from_bytes(mac[:4], "big") % BUCKETS for mac in _macs(search_key, terms)})


def _macs(key: bytes, terms: Iterable[str]) -> Iterable[bytes]:
    """HMAC-SHA256 of each term under ``key``."""
    inner, outer = _pads(key)
    for t in terms:
        i = inner.copy()
        i.update(t.encode())
        o = outer.copy()
        o.update(i.digest())
        yield o.digest()


def forget_pads() -> None:
    """Drop every key's cached hash states and tokens (a destroyed search key leaves no copy in them)."""
    _pads.cache_clear()
    _TOKENS.clear()


#: The tokens of the words this process hashed lately, by (group key, word): the words of speech
#: repeat ("order", "large", "pizza"), and a dictionary lookup costs a twentieth of the keyed hash
#: (about 10 words a capture, 1.5-2.4 µs each). Only in memory, never written anywhere; emptied
#: when full and whenever a group key is retired or destroyed (:func:`forget_pads`).
_TOKENS: dict[tuple[bytes, str], int] = {}
_TOKENS_SIZE = 50_000


@functools.lru_cache(maxsize=16384)  # a search group key each: 8 per developer
def _pads(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's two keyed hash states for ``key`` (RFC 2104), copied per message.

    The same digests as ``hmac.new(key, m, sha256)``, which sets both states up again for every
    message: a capture hashes about ten words, and that set-up was most of their cost (4-6 µs a
    word against 1.5-2.4 µs copied, measured side by side).
    """
    block = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in block)), hashlib.sha256(bytes(b ^ 0x5C for b in block)))
