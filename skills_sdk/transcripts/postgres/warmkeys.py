"""The keys of the users seen lately, opened when a ledger starts, so that their next capture is one statement.

A process holds the data keys it has used (:class:`.Keyring`); a user whose key the database has
but this process does not (a worker just started, another host's user) costs a capture two round
trips: the statement offers a new key, the database answers with the user's own, and the row is
written under it by a second statement. The first capture of each developer's search group costs
one more (its key read). After a restart that is every active user's next capture. So a ledger,
as it starts (before its first turn), opens the keys of the users with rows since yesterday (newest first,
half the keyring's room at most) and the live group keys of their developers: one read each.
"""

from __future__ import annotations

import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...errors import StoreError
from . import crypto
from .keyring import Keyring, group_label, user_label

__all__ = ["preload", "RECENT_KEYS", "LIMIT"]

#: Data keys opened at most: half the room of the keyring's cache, the rest for the users who come next.
LIMIT = 10_000

#: The users with rows since a day, newest first (their days' highest id), and each one's data keys.
RECENT_KEYS = (
    "SELECT k.id, k.developer_id, k.skill, k.user_id, k.epoch, k.wrapped FROM (SELECT user_id, max(top_id) AS top "
    "FROM user_days WHERE day >= %(since)s GROUP BY user_id ORDER BY top DESC LIMIT %(n)s) d "
    "JOIN user_keys k ON k.user_id = d.user_id ORDER BY d.top DESC LIMIT %(n)s")


def preload(keys: Keyring, conn: Any, *, limit: int = LIMIT, today: datetime.date | None = None) -> int:
    """Open the data keys of the users with rows since yesterday and their developers' group keys; how many keys.

    >>> preload(ledger.keys, conn)      # doctest: +SKIP
    4210

    Nothing is kept when an erasure or a re-key made this process forget keys while they were read
    (a key it destroyed must not come back into memory), nor when a ratchet moved the epoch meanwhile.
    """
    today = today or datetime.datetime.now(datetime.UTC).date()
    since = (today - datetime.timedelta(days=1)).isoformat()
    forgotten = keys.forgotten
    users = conn.execute(RECENT_KEYS, {"since": since, "n": limit}).fetchall()
    groups = conn.execute("SELECT id, developer_id, grp, epoch, wrapped FROM search_groups WHERE NOT retired "
                          "AND developer_id = ANY(%s)", (sorted({r[1] for r in users}),)).fetchall()
    keks: dict[int, AESGCM] = {}  # by epoch, made once: most of a key's opening when made per key

    def kek(epoch: int) -> AESGCM:
        if epoch not in keks:
            keks[epoch] = AESGCM(keys.kek(epoch))
        return keks[epoch]

    try:
        opened = [((d, s, u), (int(kid), crypto.unwrap(kek(e), bytes(w), user_label(d, s, u))))
                  for kid, d, s, u, e, w in reversed(users)]  # oldest first: the newest are forgotten last
        live = [((d, int(g)), (int(kid), crypto.unwrap(kek(e), bytes(w), group_label(d, int(g)))))
                for kid, d, g, e, w in groups]
    except StoreError:  # a ratchet moved the epoch past these wrappings: the next capture reads its key
        return 0
    return keys.keep(opened, live, unless_forgotten_since=forgotten)
