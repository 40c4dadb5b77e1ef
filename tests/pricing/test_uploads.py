from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from apps.accounts.models import Company
from apps.pricing import uploads
from apps.pricing.exceptions import PricingError
from apps.pricing.models import CompanyPricing, ContractPrice, PriceChange, PriceUpload, TierPrice
from tests.accounts.factories import CompanyFactory, UserFactory
from tests.catalog.factories import ProductFactory
from tests.pricing.factories import PriceTierFactory, TierPriceFactory

D = Decimal
HEADER = "tier,company_code,sku,min_quantity,unit_price,valid_from,valid_to"


@pytest.fixture
def world(db: None) -> dict:
    gold = PriceTierFactory(name="Gold", default_discount_percent=D("10"))
    acme = CompanyFactory(erp_customer_code="CUST-001")
    other = CompanyFactory(erp_customer_code="CUST-002")
    CompanyPricing.objects.create(company=acme, tier=gold)
    return {
        "gold": gold,
        "acme": acme,
        "other": other,
        "a": ProductFactory(sku="SKU-A", list_price=D("10.0000")),
        "b": ProductFactory(sku="SKU-B", list_price=D("20.0000")),
        "actor": UserFactory(),
    }


def _parse(world: dict, text: str, companies=None) -> PriceUpload:  # type: ignore[no-untyped-def]
    return uploads.upload_parse(
        actor=world["actor"],
        filename="prices.csv",
        content=text.encode("utf-8"),
        companies=companies if companies is not None else Company.objects.all(),
    )


def test_real_world_file_gets_a_clear_answer_per_line_and_keeps_the_good_ones(world: dict) -> None:
    text = "\ufeff" + "\r\n".join(
        [
            HEADER.replace(",", ";"),
            "Gold;;SKU-A;1;9,00;2026-12-01;",  # decimal comma
            'Gold;;"SKU-B";10;17.5000;2026-12-01;',
            "",
            "Platinum;;SKU-A;1;9;;",
            "Gold;CUST-001;SKU-A;1;9;;",
            ";CUST-001;NOPE;1;9;;",
            ";CUST-001;SKU-A;1;-3;;",
            ";CUST-001;SKU-A;1;1.23456;;",
            ";CUST-001;SKU-A;0;3;;",
            ";CUST-001;SKU-A;1;3;2026-13-01;",
            ";CUST-001;SKU-A;5;3.1000;2026-12-01;2026-11-01",
            ";CUST-001;SKU-A;5;4.5000;2026-12-01;",
            "",
        ]
    )

    upload = _parse(world, text)

    report = {entry["line"]: entry for entry in upload.report}
    assert report[2] == {"line": 2, "ok": False, "message": "unit_price '9,00' is not a number"}
    assert report[3]["ok"]
    assert report[3]["message"] == "new price"
    assert report[5]["message"] == "unknown tier 'Platinum'"
    assert report[6]["message"] == "give either a tier or a company_code"
    assert report[7]["message"] == "unknown SKU 'NOPE'"
    assert report[8]["message"] == "a price cannot be negative"
    assert report[9]["message"] == "unit_price has more than 4 decimals"
    assert report[10]["message"] == "min_quantity must be more than zero"
    assert report[11]["message"] == "valid_from '2026-13-01' is not a date (use YYYY-MM-DD)"
    assert report[12]["message"] == "valid_to is before valid_from"
    assert report[13]["ok"]
    assert len(upload.rows) == 2
    assert not TierPrice.objects.exists()
    assert not ContractPrice.objects.exists()


def test_missing_columns_and_empty_files_are_explained(world: dict) -> None:
    with pytest.raises(PricingError, match="Missing column"):
        _parse(world, "sku,price\nSKU-A,1\n")
    with pytest.raises(PricingError, match="empty"):
        _parse(world, "")


def test_an_account_manager_cannot_price_someone_elses_account(world: dict) -> None:
    text = f"{HEADER}\n,CUST-002,SKU-A,1,5,,\n"

    upload = _parse(world, text, companies=Company.objects.filter(pk=world["acme"].pk))

    assert upload.report[0]["message"] == "unknown company code 'CUST-002', or not one of your accounts"
    assert upload.rows == []


def test_overlap_with_an_existing_price_is_refused_and_same_start_updates(world: dict) -> None:
    TierPriceFactory(
        tier=world["gold"], product=world["a"], unit_price=D("9.0000"), valid_from=date(2026, 12, 1)
    )
    text = f"{HEADER}\nGold,,SKU-A,1,8.5,2026-12-01,\nGold,,SKU-A,1,8,2027-01-01,\n"

    upload = _parse(world, text)

    assert upload.report[0]["message"] == "updates a price"
    assert upload.report[1]["ok"] is False
    assert "overlaps the existing price" in upload.report[1]["message"]


def test_impact_preview_then_publish_with_progress(world: dict, django_capture_on_commit_callbacks) -> None:
    text = f"{HEADER}\nGold,,SKU-A,1,8.0000,2026-12-01,\n,CUST-001,SKU-B,1,19.0000,2026-12-01,\n"
    upload = _parse(world, text)

    impact = uploads.upload_impact(upload)

    # Gold default is 9.00 for SKU-A (-11.11%); CUST-001 pays 18.00 for SKU-B today (+5.56%).
    assert (impact.accounts, impact.skus, impact.rows) == (1, 2, 2)
    assert impact.account_names == [world["acme"].name]
    assert impact.average_change_percent == D("-2.78")
    assert (impact.increases, impact.decreases) == (1, 1)

    with django_capture_on_commit_callbacks(execute=True):
        uploads.upload_publish(upload=upload)

    upload.refresh_from_db()
    assert upload.status == PriceUpload.Status.PUBLISHED
    assert upload.done_lines == upload.total_lines == 2
    assert TierPrice.objects.get(product=world["a"]).unit_price == D("8.0000")
    assert ContractPrice.objects.get(company=world["acme"]).unit_price == D("19.0000")
    assert PriceChange.objects.filter(upload=upload).count() == 2
    with pytest.raises(PricingError):
        uploads.upload_publish(upload=upload)


def test_discard_changes_nothing(world: dict) -> None:
    upload = _parse(world, f"{HEADER}\nGold,,SKU-A,1,8,,\n")

    uploads.upload_discard(upload=upload)

    assert PriceUpload.objects.get().status == PriceUpload.Status.DISCARDED
    assert not TierPrice.objects.exists()


def test_large_upload_publishes_in_chunks(world: dict, django_capture_on_commit_callbacks) -> None:
    products = ProductFactory.create_batch(450)
    text = HEADER + "\n" + "\n".join(f"Gold,,{p.sku},1,1.{n:04d},2026-12-01," for n, p in enumerate(products))
    upload = _parse(world, text)

    with django_capture_on_commit_callbacks(execute=True):
        uploads.upload_publish(upload=upload)

    upload.refresh_from_db()
    assert upload.done_lines == 450
    assert TierPrice.objects.count() == 450


def test_impact_of_a_large_upload_costs_a_constant_number_of_queries(
    world: dict, django_assert_max_num_queries
) -> None:
    products = ProductFactory.create_batch(120)
    for product in products:
        TierPriceFactory(
            tier=world["gold"], product=product, unit_price=D("2.0000"), valid_from=date(2026, 12, 1)
        )
    text = HEADER + "\n" + "\n".join(f"Gold,,{p.sku},1,1.5,2026-12-01," for p in products)
    upload = _parse(world, text)
    assert all(row["row_id"] for row in upload.rows)

    with django_assert_max_num_queries(10):
        impact = uploads.upload_impact(upload)

    assert impact.skus == 120
    assert impact.average_change_percent == D("-25.00")
