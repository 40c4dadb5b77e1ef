from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.catalog.services import product_order_rules_update, quantity_problem
from tests.catalog.factories import ProductFactory

D = Decimal


def test_order_rules_are_kept_and_checked(db: None) -> None:
    product = product_order_rules_update(
        product=ProductFactory(), order_minimum=D("6"), order_increment=D("6"), order_maximum=D("600")
    )

    assert quantity_problem(product, D("12")) == ""
    assert quantity_problem(product, D("5")) == "order at least 6"
    assert quantity_problem(product, D("13")) == "order in steps of 6 from 6"
    assert quantity_problem(product, D("606")) == "order at most 600"


@pytest.mark.parametrize(
    ("minimum", "increment", "maximum", "field"),
    [
        (D("0"), D("1"), None, "order_minimum"),
        (D("1"), D("0"), None, "order_increment"),
        (D("10"), D("1"), D("5"), "order_maximum"),
    ],
)
def test_bad_order_rules_are_refused(db: None, minimum, increment, maximum, field) -> None:  # type: ignore[no-untyped-def]
    product = ProductFactory()

    with pytest.raises(ValidationError) as info:
        product_order_rules_update(
            product=product, order_minimum=minimum, order_increment=increment, order_maximum=maximum
        )

    assert field in info.value.message_dict
    product.refresh_from_db()
    assert product.order_minimum == D("1")
