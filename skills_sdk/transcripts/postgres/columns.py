"""The PostgreSQL ledger's transcript columns: which are sealed, which stay clear, and how rows are read and copied."""

from __future__ import annotations

from ..record import INSERT_COLUMNS

__all__ = ["SEALED_COLUMNS", "CLEAR_COLUMNS", "SELECT", "keyed", "COPY_COLUMNS", "COPY_TYPES", "STORED",
           "STORED_USER"]

#: What a user said and heard: sealed together under the user's data key, never stored in clear.
SEALED_COLUMNS = ("utterance", "speech", "reprompt", "card", "slots", "error", "directives")
#: Columns stored as they are (metadata: who, when, which skill and intent, how it went).
CLEAR_COLUMNS = tuple(c for c in INSERT_COLUMNS if c not in SEALED_COLUMNS)
#: A stored row as the readers decode it: the id, the clear columns, then ``key_id`` and ``sealed``.
SELECT = ", ".join(f'"{c}"' for c in ("id", *CLEAR_COLUMNS)) + ", key_id, sealed"


def keyed(select: str, order: str) -> str:
    """``select`` (of :data:`SELECT`) in ``order`` (its own column names), each row followed by its data key as stored.

    The key's ``epoch`` and ``wrapped`` come last (null for a row without words, or whose key is
    erased), so a reader opens keys it does not hold without asking again. The key is found by its
    owner, whose index holds it (schema migration 10): one user's keys sit together on a leaf page,
    where by id each was a page of the heap.
    """
    return (f"SELECT r.*, k.epoch, k.wrapped FROM ({select}) r LEFT JOIN user_keys k ON k.user_id = r.user_id "
            f"AND k.developer_id = r.developer_id AND k.skill = r.skill AND k.id = r.key_id ORDER BY {order}")


#: The columns ``COPY`` writes and the chain's digest covers.
COPY_COLUMNS = (*CLEAR_COLUMNS, "key_id", "sealed", "tokens")
#: What the chain's digest covers: every column as stored but the id, ``created_at`` first.
STORED = ", ".join(f'"{c}"' for c in COPY_COLUMNS)
#: Where the user id is among the :data:`STORED` columns.
STORED_USER = CLEAR_COLUMNS.index("user_id")
#: The PostgreSQL types of :data:`COPY_COLUMNS`, for binary ``COPY``.
COPY_TYPES = ["text", "text", "text", "text", "text", "text", "text", "text", "boolean", "text", "text",
              "double precision", "text", "text", "text", "bigint", "bytea", "integer[]"]
