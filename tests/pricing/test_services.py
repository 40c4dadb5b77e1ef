from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.erp.models import SyncJob
from apps.erp.services import connection_get_default
from apps.pricing import services
from apps.pricing.models import CompanyPricing, PriceChange, TierPrice
from tests.accounts.factories import CompanyFactory, UserFactory
from tests.catalog.factories import ProductFactory
from tests.pricing.factories import PriceTierFactory, TierPriceFactory

D = Decimal


@pytest.fixture
def actor(db: None):
    return UserFactory(email="am@wholesale.example")


def _save(actor, tier, product, **overrides):  # type: ignore[no-untyped-def]
    fields = {
        "min_quantity": D("1"),
        "unit_price": D("9.5000"),
        "valid_from": date(2026, 12, 1),
        "valid_to": None,
    }
    fields.update(overrides)
    return services.tier_price_save(actor=actor, tier=tier, product=product, **fields)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"unit_price": D("-0.01")}, "unit_price", "cannot be negative"),
        ({"unit_price": D("1.23456")}, "unit_price", "at most 4 decimals"),
        ({"min_quantity": D("0")}, "min_quantity", "more than zero"),
        ({"valid_to": date(2026, 11, 1)}, "valid_to", "before the start"),
    ],
)
def test_invalid_prices_are_refused_and_nothing_is_written(actor, overrides, field, message) -> None:
    tier, product = PriceTierFactory(), ProductFactory()

    with pytest.raises(ValidationError) as info:
        _save(actor, tier, product, **overrides)

    assert message in " ".join(info.value.message_dict[field])
    assert not TierPrice.objects.exists()
    assert not PriceChange.objects.exists()


def test_overlapping_windows_for_the_same_sku_quantity_and_tier_are_refused(actor) -> None:
    tier, product = PriceTierFactory(), ProductFactory()
    _save(actor, tier, product, valid_from=date(2026, 12, 1), valid_to=date(2026, 12, 31))

    with pytest.raises(ValidationError, match="Overlaps"):
        _save(actor, tier, product, valid_from=date(2026, 12, 15))
    _save(actor, tier, product, valid_from=date(2027, 1, 1))  # the day after: fine
    _save(actor, tier, product, min_quantity=D("10"), valid_from=date(2026, 12, 15))  # another break: fine
    _save(actor, PriceTierFactory(), product, valid_from=date(2026, 12, 15))  # another tier: fine

    assert TierPrice.objects.count() == 4


def test_every_change_is_audited_with_old_and_new(actor) -> None:
    tier, product = PriceTierFactory(name="Gold"), ProductFactory(sku="SKU-9")
    row = _save(actor, tier, product)
    _save(actor, tier, product, row=row, unit_price=D("8.2500"))

    change = PriceChange.objects.first()
    assert change.actor == actor
    assert change.description == "Gold price of SKU-9"
    assert change.old_value.startswith("9.5000 USD")
    assert change.new_value.startswith("8.2500 USD")


def test_tier_changes_queue_one_price_list_push_per_account_of_the_tier(actor) -> None:
    connection_get_default()
    tier = PriceTierFactory()
    accounts = [CompanyFactory(erp_party_id=str(n)) for n in range(3)]
    for company in accounts:
        CompanyPricing.objects.create(company=company, tier=tier)
    CompanyFactory(erp_party_id="99")  # not in the tier

    _save(actor, tier, ProductFactory())
    _save(actor, tier, ProductFactory())  # still waiting: reuses the queued pushes

    jobs = SyncJob.objects.filter(kind="pricelist.push")
    assert sorted(int(job.target_id) for job in jobs) == sorted(company.pk for company in accounts)


def test_assigning_a_tier_is_audited_and_queues_a_push(actor) -> None:
    connection_get_default()
    company = CompanyFactory(erp_party_id="5")
    tier = PriceTierFactory(name="Silver")

    services.company_tier_assign(actor=actor, company=company, tier=tier)
    services.company_tier_assign(actor=actor, company=company, tier=tier)  # same: no-op

    assert company.pricing.tier == tier
    change = PriceChange.objects.get(kind=PriceChange.Kind.TIER_ASSIGNMENT)
    assert (change.old_value, change.new_value) == ("list price", "Silver")
    assert SyncJob.objects.filter(kind="pricelist.push", target_id=str(company.pk)).count() == 1


def test_tier_default_discount_outside_0_to_100_is_refused(actor) -> None:
    tier = PriceTierFactory(default_discount_percent=D("10"))

    with pytest.raises(ValidationError):
        services.tier_default_update(actor=actor, tier=tier, default_discount_percent=D("120"))
    tier.refresh_from_db()
    assert tier.default_discount_percent == D("10")


def test_existing_tier_price_row_of_another_tier_cannot_be_hijacked(actor) -> None:
    row = TierPriceFactory()

    with pytest.raises(ValidationError):
        _save(actor, PriceTierFactory(), row.product, row=row)
