from __future__ import annotations

from decimal import Decimal

import factory

from apps.catalog.models import Category, Product


class CategoryFactory(factory.django.DjangoModelFactory[Category]):
    class Meta:
        model = Category

    erp_id = factory.Sequence(lambda n: f"cat-{n}")
    name = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(factory.django.DjangoModelFactory[Product]):
    class Meta:
        model = Product

    erp_id = factory.Sequence(lambda n: str(100000 + n))
    sku = factory.Sequence(lambda n: f"TEST-{n:05d}")
    name = factory.Sequence(lambda n: f"Test product {n}")
    category = factory.SubFactory(CategoryFactory)
    unit = "u"
    list_price = Decimal("9.9900")
