"""The arithmetic of an offered line, pure: its discount against what the company pays without the quote,
its margin over the product's cost, and whether the discount needs a second approval.

A discount or margin is a fraction (``Decimal("0.2")`` is 20 %); ``percent_text`` writes one for people.

>>> discount(Decimal("8.0000"), Decimal("10.0000"))
Decimal('0.2')
>>> lowest_price(Decimal("8.5000"), [Decimal("8.0000"), Decimal("8.2500")])
Decimal('8.0000')
>>> margin(Decimal("8.0000"), Decimal("6.0000"))
Decimal('0.25')
>>> margin(Decimal("8.0000"), None) is None
True
>>> needs_second_approval(Decimal("0.15"), Decimal("15"))
False
>>> needs_second_approval(Decimal("0.1501"), Decimal("15"))
True
>>> percent_text(Decimal("0.2249")), percent_text(Decimal("0.2")), percent_text(Decimal("-0.05"))
('22.5%', '20%', '-5%')
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

HUNDRED = Decimal(100)


def lowest_price(unit_price: Decimal, break_prices: Iterable[Decimal] = ()) -> Decimal:
    """The lowest price a line offers: its unit price or any of its quantity breaks' prices."""
    return min([unit_price, *break_prices])


def discount(price: Decimal, reference_price: Decimal) -> Decimal:
    """How far ``price`` is below ``reference_price``: ``1 - price / reference_price`` (negative above it;
    none against a reference of zero or less)."""
    if reference_price <= 0:
        return Decimal(0)
    return 1 - price / reference_price


def margin(price: Decimal, cost_price: Decimal | None) -> Decimal | None:
    """The share of ``price`` left over the cost: ``(price - cost) / price``; None without a cost (or a
    price of zero or less)."""
    if cost_price is None or price <= 0:
        return None
    return (price - cost_price) / price


def needs_second_approval(line_discount: Decimal, threshold_percent: Decimal) -> bool:
    """Whether a discount passes the threshold (a percentage, e.g. 15): exactly at it does not."""
    return line_discount * HUNDRED > threshold_percent


def percent_text(fraction: Decimal) -> str:
    """A fraction as a percentage to one decimal place, without a trailing ".0"."""
    value = (fraction * HUNDRED).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    text = f"{value:f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"
