"""The ERP invoices the price the buyer saw: portal prices pushed through the engine into Tryton, then
the ERP's own price computation compared with ``price_resolve`` for SKUs, quantities and dates."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company
from apps.catalog.erp import PRODUCTS
from apps.catalog.models import Product
from apps.erp import inbound, services
from apps.erp.models import SyncJob
from apps.pricing import services as pricing
from apps.pricing.models import PriceTier
from apps.pricing.selectors import Source, price_resolve
from tests.accounts.factories import UserFactory

D = Decimal


def test_erp_computes_the_same_unit_price_as_the_portal(erp_connection, connector, erp_admin) -> None:
    for stream in (CUSTOMERS, PRODUCTS):
        inbound.pull_stream(connection=erp_connection, stream=stream, connector=connector)
    actor = UserFactory()
    today = timezone.localdate()
    later = today + timedelta(days=40)
    gold = PriceTier.objects.create(name="Gold", default_discount_percent=D("12.50"))
    acme = Company.objects.get(erp_customer_code="CUST-001")
    globex = Company.objects.get(erp_customer_code="CUST-002")  # no tier: list price
    pricing.company_tier_assign(actor=actor, company=acme, tier=gold)
    pricing.company_tier_assign(actor=actor, company=globex, tier=None)
    p = {
        sku: Product.objects.get(sku=sku)
        for sku in ["SKU-00001", "SKU-00002", "SKU-00003", "SKU-00004", "SKU-00005"]
    }

    def tier(sku: str, minimum: str, price: str, start=today, end=None) -> None:  # type: ignore[no-untyped-def]
        pricing.tier_price_save(
            actor=actor,
            tier=gold,
            product=p[sku],
            min_quantity=D(minimum),
            unit_price=D(price),
            valid_from=start,
            valid_to=end,
        )

    def contract(sku: str, minimum: str, price: str, start=today, end=None) -> None:  # type: ignore[no-untyped-def]
        pricing.contract_price_save(
            actor=actor,
            company=acme,
            product=p[sku],
            min_quantity=D(minimum),
            unit_price=D(price),
            valid_from=start,
            valid_to=end,
        )

    # SKU-00001: tier breaks, one dearer than the default at a small break (the default must win there).
    tier("SKU-00001", "1", "99.0000")
    tier("SKU-00001", "10", "0.1100")
    tier("SKU-00001", "100", "0.0950")
    # SKU-00002: a tier price only in a future window.
    tier("SKU-00002", "1", "1.0000", start=later, end=later + timedelta(days=10))
    # SKU-00003: a contract from 20 up, and a tier price below it (the contract wins from 20).
    tier("SKU-00003", "1", "0.0500")
    contract("SKU-00003", "20", "0.0800")
    # SKU-00004: a contract that ends before `later`.
    contract("SKU-00004", "1", "3.3300", end=later - timedelta(days=1))
    # SKU-00005: nothing special: the tier default.

    report = services.dispatch(connection=erp_connection, connector=connector)
    assert report.failed == 0
    assert report.dead == 0
    # Acme's list is pushed; Globex has neither tier nor contract, so it needs none (list price).
    assert SyncJob.objects.filter(kind="pricelist.push", status=SyncJob.Status.SUCCEEDED).count() == 1

    parties = {
        row["code"]: row
        for row in erp_admin.model(
            "party.party",
            "search_read",
            [["code", "in", ["CUST-001", "CUST-002"]]],
            0,
            None,
            None,
            ["code", "sale_price_list"],
        )
    }
    compared = 0
    sources = set()
    for company in (acme, globex):
        party = parties[company.erp_customer_code]
        assert bool(party["sale_price_list"]) == (company == acme)
        price_list = {"price_list": party["sale_price_list"]} if party["sale_price_list"] else {}
        for sku, product in p.items():
            for quantity in (D("1"), D("9"), D("10"), D("20"), D("150")):
                for on in (today, later, later + timedelta(days=5)):
                    portal = price_resolve(account=company, product=product, quantity=quantity, on_date=on)
                    (row,) = erp_admin.model(
                        "product.product",
                        "read",
                        [int(product.erp_id)],
                        ["sale_price_uom"],
                        context={
                            **price_list,
                            "customer": party["id"],
                            "quantity": float(quantity),
                            "date": on,
                        },
                    )
                    erp = row["sale_price_uom"]
                    assert erp == portal.unit_price, (company.name, sku, quantity, on, erp, portal)
                    compared += 1
                    sources.add(portal.source)
    assert compared == 2 * 5 * 5 * 3
    assert sources == {Source.CONTRACT, Source.TIER_BREAK, Source.TIER_DEFAULT, Source.LIST}
