"""Dashboard arithmetic any backend shares: transaction amounts summed exactly, per currency."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = ["transaction_totals"]


def transaction_totals(tags: list[str]) -> dict[str, str]:
    """The amounts of stored transaction tags (JSON text) summed per currency, exactly, as strings.

    >>> transaction_totals(['{"amount": "9.50", "currency": "USD"}', '{"amount": "0.50", "currency": "USD"}'])
    {'USD': '10.00'}
    """
    from decimal import Decimal, InvalidOperation  # dashboards only: off every server's start-up

    totals: dict[str, Decimal] = {}
    for raw in tags:
        try:
            tx = json.loads(raw)
            amount = Decimal(str(tx.get("amount")))
        except (ValueError, TypeError, AttributeError, InvalidOperation):
            continue  # a tag without a readable amount still counts as a transaction
        currency = str(tx.get("currency") or "?")
        totals[currency] = totals.get(currency, Decimal(0)) + amount
    return {c: str(v) for c, v in sorted(totals.items())}
