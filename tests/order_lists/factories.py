from __future__ import annotations

from decimal import Decimal

import factory

from apps.order_lists.models import OrderList, OrderListLine
from tests.catalog.factories import ProductFactory


class OrderListFactory(factory.django.DjangoModelFactory[OrderList]):
    class Meta:
        model = OrderList

    name = factory.Sequence(lambda n: f"List {n}")
    owner = factory.LazyAttribute(lambda o: o.company.memberships.first().user)
    visibility = OrderList.Visibility.PRIVATE


class OrderListLineFactory(factory.django.DjangoModelFactory[OrderListLine]):
    class Meta:
        model = OrderListLine

    product = factory.SubFactory(ProductFactory)
    default_quantity = Decimal("1")
    price_when_added = Decimal("9.9900")
