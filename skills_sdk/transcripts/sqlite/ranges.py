"""A purge's tombstone for many rows: their ids as runs, a digest over their digests, and how verify expands and checks it."""

from __future__ import annotations

import hashlib
import heapq
import hmac
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

__all__ = ["RANGE", "PurgedRanges", "range_digest", "runs_of", "spans_of"]

#: The chain event of a purge's tombstone for the rows one transaction removed; its id is 0 and its
#: digest field is ``<sha256>/<runs>``, then ``/<runs>`` of the sealed rows whose seal no longer
#: matched their content when they were purged, if any.
RANGE = "purge_range"


def range_digest(digests: Iterable[tuple[int, str]]) -> str:
    """SHA-256 over ``id:digest`` lines in id order (the digests are keyed already)."""
    h = hashlib.sha256()
    for rid, digest in digests:
        h.update(f"{rid}:{digest}\n".encode())
    return h.hexdigest()


def runs_of(ids: Sequence[int]) -> str:
    """Sorted ids as runs: ``[1, 2, 3, 7]`` -> ``1-3,7``."""
    out, start = [], 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or ids[i] != ids[i - 1] + 1:
            lo, hi = ids[start], ids[i - 1]
            out.append(str(lo) if lo == hi else f"{lo}-{hi}")
            start = i
    return ",".join(out)


def spans_of(runs: str) -> Iterator[tuple[int, int]]:
    """The ``(first, last)`` id of each run: ``1-3,7`` -> ``(1, 3), (7, 7)``."""
    for part in runs.split(","):
        lo, _, hi = part.partition("-")
        yield int(lo), int(hi or lo)


class PurgedRanges:
    """The ids of the ``purge_range`` entries, merged into the stream of each id's last entry, and their digests rechecked."""

    def __init__(self, ranges: Mapping[int, str], chain_from: int, seal_from: int) -> None:
        self.chain_from, self.seal_from = chain_from, seal_from
        self.expected: dict[int, str] = {}
        self.spans: list[tuple[int, int, int]] = []
        #: The ranges whose purge found sealed rows that no longer matched their seals.
        self.unsealed: set[int] = set()
        for seq, text in ranges.items():
            digest, _, runs = text.partition("/")
            runs, _, bad = runs.partition("/")
            self.expected[seq] = digest
            self.spans.extend((lo, hi, seq) for lo, hi in spans_of(runs))
            if bad:
                self.unsealed.add(seq)
        self.spans.sort()
        self.hashes = {seq: hashlib.sha256() for seq in ranges}

    def count(self, seq: int) -> int:
        return sum(hi - lo + 1 for lo, hi, s in self.spans if s == seq)

    def merge(self, last: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        """``last`` with each purged id's entry replaced by its range's ``purge`` tombstone (the newer entry wins).

        The entry a range replaces is what the chain held of the row when it was purged: its
        digest goes into the range's recomputed digest.
        """
        if not self.spans:
            yield from last
            return
        ids = ((i, RANGE, None, seq) for lo, hi, seq in self.spans for i in range(lo, hi + 1))
        held: Sequence[Any] | None = None
        for entry in heapq.merge(last, ids, key=itemgetter(0)):
            if held is not None and held[0] == entry[0]:
                older, newer = (held, entry) if held[3] < entry[3] else (entry, held)
                if newer[1] == RANGE and older[1] != RANGE and self.chain_from <= newer[0] < self.seal_from:
                    self.hashes[newer[3]].update(f"{older[0]}:{older[2]}\n".encode())
                held = newer
                continue
            if held is not None:
                yield self._tombstone(held)
            held = entry
        if held is not None:
            yield self._tombstone(held)

    def _tombstone(self, entry: Sequence[Any]) -> Sequence[Any]:
        return (entry[0], "purge", self.expected[entry[3]], entry[3]) if entry[1] == RANGE else entry

    def mismatch(self) -> int | None:
        """The first range whose recomputed digest differs from the one it was written with, or None."""
        for seq in sorted(self.expected):
            if seq in self.unsealed or not hmac.compare_digest(self.hashes[seq].hexdigest(), self.expected[seq]):
                return seq
        return None
