"""The pure arithmetic of an offered line (``apps.quotes.pricing``), its docstring examples included."""

from __future__ import annotations

import doctest
from decimal import Decimal

import pytest

from apps.quotes import pricing

D = Decimal


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(pricing).failed == 0


@pytest.mark.parametrize(
    ("price", "reference", "expected"),
    [
        (D("8.5000"), D("10.0000"), D("0.15")),
        (D("10.0000"), D("10.0000"), D("0")),
        (D("11.0000"), D("10.0000"), D("-0.1")),  # above the company's price: a negative discount
        (D("5.0000"), D("0"), D("0")),  # no reference price to be below
    ],
)
def test_discount(price: Decimal, reference: Decimal, expected: Decimal) -> None:
    assert pricing.discount(price, reference) == expected


@pytest.mark.parametrize(
    ("price", "cost", "expected"),
    [
        (D("10.0000"), D("7.5000"), D("0.25")),
        (D("10.0000"), D("12.0000"), D("-0.2")),  # sold below cost
        (D("10.0000"), None, None),
        (D("0"), D("1.0000"), None),
    ],
)
def test_margin(price: Decimal, cost: Decimal | None, expected: Decimal | None) -> None:
    assert pricing.margin(price, cost) == expected


def test_the_threshold_is_passed_only_beyond_it() -> None:
    threshold = D("15")
    assert not pricing.needs_second_approval(pricing.discount(D("8.5001"), D("10")), threshold)
    assert not pricing.needs_second_approval(pricing.discount(D("8.5000"), D("10")), threshold)
    assert pricing.needs_second_approval(pricing.discount(D("8.4999"), D("10")), threshold)


def test_the_lowest_price_counts_every_break() -> None:
    assert pricing.lowest_price(D("9"), [D("8.5"), D("7.9"), D("8")]) == D("7.9")
    assert pricing.lowest_price(D("9")) == D("9")
