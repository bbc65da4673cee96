"""The data keys a process holds opened: by owner and by id, the least recently used dropped first."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable

__all__ = ["KeyCache"]

Owner = tuple[str, str, str]  # (developer, skill, user)


class KeyCache:
    """Opened user data keys, bounded at ``size`` each way; a hit makes its key the most recently used.

    >>> cache = KeyCache(2)
    >>> cache.put(("d", "s", "u1"), (1, b"k1")); cache.put(("d", "s", "u2"), (2, b"k2"))
    >>> cache.get(("d", "s", "u1"))
    (1, b'k1')
    >>> cache.put(("d", "s", "u3"), (3, b"k3"))   # u2, not used since u1 was, goes
    >>> cache.get(("d", "s", "u2")) is None, cache.key(1)
    (True, b'k1')

    A user who talks every minute stays while a stream of new users passes: dropping the oldest
    inserted instead made a steady user read and unwrap their key again after every ``size`` new
    users, as if idle. Thread-safe: a hit moves its entry under a lock of its own (0.5 µs a hit,
    against 0.13 µs for the plain lookup before, in a loop; a capture spends hundreds of µs).
    """

    __slots__ = ("size", "_by_owner", "_by_id", "_lock")

    def __init__(self, size: int) -> None:
        self.size = size
        self._by_owner: collections.OrderedDict[Owner, tuple[int, bytes]] = collections.OrderedDict()
        self._by_id: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, owner: Owner) -> tuple[int, bytes] | None:
        """``(key id, key)`` of ``owner``, now the most recently used; None when not held."""
        with self._lock:
            hit = self._by_owner.get(owner)
            if hit is not None:
                self._by_owner.move_to_end(owner)
                if hit[0] in self._by_id:  # the same key, used: recent both ways
                    self._by_id.move_to_end(hit[0])
        return hit

    def key(self, key_id: int, *, touch: bool = True) -> bytes | None:
        """The key of ``key_id`` (``touch=False``: without making it recently used, for a walk over every user)."""
        if not touch:
            return self._by_id.get(key_id)
        with self._lock:
            hit = self._by_id.get(key_id)
            if hit is not None:
                self._by_id.move_to_end(key_id)
        return hit

    def __contains__(self, owner: Owner) -> bool:
        return owner in self._by_owner

    def put(self, owner: Owner, found: tuple[int, bytes]) -> None:
        """Hold ``owner``'s key as the most recently used, dropping the least recently used past ``size``."""
        with self._lock:
            self._by_owner[owner] = found
            self._by_owner.move_to_end(owner)
            self._by_id[found[0]] = found[1]
            self._by_id.move_to_end(found[0])
            self._trim()

    def add_new(self, found: Iterable[tuple[Owner, tuple[int, bytes]]]) -> int:
        """Hold the keys of owners not held yet (opened ahead: :mod:`.warmkeys`); how many were new."""
        with self._lock:
            new = [(o, f) for o, f in found if o not in self._by_owner]
            self._by_owner.update(new)
            self._by_id.update(f for _, f in new)
            self._trim()
        return len(new)

    def forget(self, key_ids: Iterable[int]) -> None:
        """Drop the keys of ``key_ids`` (erased, re-keyed) both ways."""
        gone = set(key_ids)
        with self._lock:
            for owner in [o for o, (kid, _) in self._by_owner.items() if kid in gone]:
                del self._by_owner[owner]
            for kid in gone:
                self._by_id.pop(kid, None)

    def clear(self) -> None:
        with self._lock:
            self._by_owner.clear()
            self._by_id.clear()

    def _trim(self) -> None:
        for cache in (self._by_owner, self._by_id):
            while len(cache) > self.size:
                cache.popitem(last=False)
