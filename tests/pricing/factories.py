from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory

from apps.pricing.models import ContractPrice, PriceTier, TierPrice
from tests.accounts.factories import CompanyFactory
from tests.catalog.factories import ProductFactory


class PriceTierFactory(factory.django.DjangoModelFactory[PriceTier]):
    class Meta:
        model = PriceTier
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Tier {n}")
    default_discount_percent = Decimal("10.00")


class TierPriceFactory(factory.django.DjangoModelFactory[TierPrice]):
    class Meta:
        model = TierPrice

    tier = factory.SubFactory(PriceTierFactory)
    product = factory.SubFactory(ProductFactory)
    min_quantity = Decimal("1")
    unit_price = Decimal("8.0000")
    valid_from = date(2026, 1, 1)


class ContractPriceFactory(factory.django.DjangoModelFactory[ContractPrice]):
    class Meta:
        model = ContractPrice

    company = factory.SubFactory(CompanyFactory)
    product = factory.SubFactory(ProductFactory)
    min_quantity = Decimal("1")
    unit_price = Decimal("7.0000")
    valid_from = date(2026, 1, 1)
