"""Capture cost of the full-text index: no index, batched indexing (what ships), and a per-row insert trigger.

Run: .venv/bin/python bench/privacy_fts.py   (CPU time per store.record, best of 5 x 2000 rows)
"""

from __future__ import annotations

import os
import tempfile
import time
import timeit

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite.fts import index_pending

ROW = {"developer_id": "dev-a", "skill": "pizza", "user_id": "amzn1.ask.account.U", "session_id": "S1",
       "request_id": "R", "request_type": "IntentRequest", "intent": "OrderPizzaIntent",
       "utterance": "order a large pepperoni pizza with extra cheese please",
       "speech": "Your large pepperoni pizza is on its way. It will arrive in about thirty minutes.",
       "slots": '{"size":"large","topping":"pepperoni"}', "capture_mode": "redacted"}
PER_ROW = ("CREATE TRIGGER per_row AFTER INSERT ON transcripts BEGIN INSERT INTO transcripts_fts "
           "(rowid, utterance, speech) VALUES (new.id, new.utterance, new.speech); END")


def run(variant: str, n: int = 2000) -> str:
    """Time ``store.record`` with the index set up as ``variant``."""
    store = TranscriptStore(os.path.join(tempfile.mkdtemp(), "t.db"))
    store.checkpoint_interval = 1e9  # keep the background indexer out of the measurement
    conn = store.conn
    if variant == "none":
        for name in ("transcripts_fts_reuse", "transcripts_fts_del", "transcripts_fts_upd"):
            conn.execute(f"DROP TRIGGER {name}")
    elif variant == "per-row trigger":
        conn.execute(PER_ROW)
    for _ in range(300):
        store.record(ROW)
    best = min(timeit.repeat(lambda: store.record(ROW), number=n, repeat=5, timer=time.process_time)) / n * 1e6
    extra = ""
    if variant == "batched":
        t0 = time.process_time()
        k = index_pending(conn)
        dt = time.process_time() - t0
        extra = f"; index_pending: {k} rows in {dt * 1e3:.0f} ms = {dt / k * 1e6:.1f} us/row"
    return f"{variant}: {best:.1f} us/record{extra}"


if __name__ == "__main__":
    for v in ("none", "batched", "per-row trigger"):
        print(run(v))
