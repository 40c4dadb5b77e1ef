"""Bulk price changes by CSV: parse into a preview with a per-line report and an impact summary, then
publish in the background with progress."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Upper
from django.utils import timezone
from django_q.tasks import async_task

from apps.accounts.models import Company
from apps.catalog.models import Product
from apps.core import csvio
from apps.core.money import PRICE_DECIMAL_PLACES
from apps.pricing import services
from apps.pricing.exceptions import PricingError
from apps.pricing.models import ContractPrice, PriceTier, PriceUpload, TierPrice
from apps.pricing.selectors import price_resolve_many, tier_default_price

COLUMNS = ["tier", "company_code", "sku", "min_quantity", "unit_price", "valid_from", "valid_to"]
MAX_LINES = 20_000
PUBLISH_CHUNK = 200  # rows per transaction while publishing; progress is saved after each chunk


def _reader(text: str) -> csv.DictReader[str]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=csvio.separator(text))
    if reader.fieldnames is None:
        raise PricingError("The file is empty.")
    reader.fieldnames = [name.strip().lower().replace(" ", "_") for name in reader.fieldnames]
    missing = [column for column in COLUMNS if column not in reader.fieldnames]
    if missing:
        raise PricingError(f"Missing column(s): {', '.join(missing)}. Expected: {', '.join(COLUMNS)}.")
    return reader


def _decimal(value: str, name: str) -> Decimal:
    try:
        number = Decimal(value.strip().replace(" ", ""))
    except InvalidOperation as exc:
        raise ValueError(f"{name} {value!r} is not a number") from exc
    if not number.is_finite():
        raise ValueError(f"{name} {value!r} is not a number")
    return number


def _date(value: str, name: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} {value!r} is not a date (use YYYY-MM-DD)") from exc


@dataclass
class _Line:
    line: int
    tier_id: int | None
    company_id: int | None
    product_id: int
    sku: str
    min_quantity: Decimal
    unit_price: Decimal
    valid_from: date
    valid_to: date | None


def upload_parse(*, actor: User, filename: str, content: bytes, companies: QuerySet[Company]) -> PriceUpload:
    """Check every line and keep the good ones for publishing; nothing changes prices yet.

    ``companies`` are the accounts this person may price (an account manager's own, or all).
    """
    try:
        text = csvio.decode(content)
    except csvio.CsvError as exc:
        raise PricingError(exc.message) from exc
    reader = _reader(text)
    tiers = {tier.name.lower(): tier for tier in PriceTier.objects.all()}
    allowed = {
        company.erp_customer_code.upper(): company for company in companies if company.erp_customer_code
    }
    raw = [(reader.line_num, row) for row in reader]
    if len(raw) > MAX_LINES:
        raise PricingError(f"The file has {len(raw)} lines; upload at most {MAX_LINES:,} at a time.")
    skus = {(row.get("sku") or "").strip().upper() for _, row in raw}
    products: dict[str, Product] = {
        product.sku.upper(): product
        for product in Product.objects.annotate(sku_upper=Upper("sku")).filter(
            sku_upper__in=[s for s in skus if s]
        )
    }
    report: list[dict[str, Any]] = []
    good: dict[tuple[Any, ...], _Line] = {}
    for line_number, row in raw:
        values = {key: (value or "").strip() for key, value in row.items() if key}
        if not any(values.values()):
            continue  # blank line
        try:
            parsed = _parse_line(line_number, values, tiers, allowed, products)
        except ValueError as exc:
            report.append({"line": line_number, "ok": False, "message": str(exc)})
            continue
        key = (parsed.tier_id, parsed.company_id, parsed.product_id, parsed.min_quantity, parsed.valid_from)
        if key in good:
            report.append(
                {
                    "line": line_number,
                    "ok": True,
                    "message": f"replaces line {good[key].line} (same price, later wins)",
                }
            )
        else:
            report.append({"line": line_number, "ok": True, "message": ""})
        good[key] = parsed
    rows = _with_actions(list(good.values()), report)
    upload = PriceUpload.objects.create(
        uploaded_by=actor, filename=filename[:200], rows=rows, report=report, total_lines=len(rows)
    )
    return upload


def _parse_line(
    line: int,
    values: dict[str, str],
    tiers: dict[str, PriceTier],
    allowed: dict[str, Company],
    products: dict[str, Product],
) -> _Line:
    tier_name, company_code = values.get("tier", ""), values.get("company_code", "").upper()
    if bool(tier_name) == bool(company_code):
        raise ValueError("give either a tier or a company_code")
    tier = tiers.get(tier_name.lower()) if tier_name else None
    if tier_name and tier is None:
        raise ValueError(f"unknown tier {tier_name!r}")
    company = allowed.get(company_code) if company_code else None
    if company_code and company is None:
        raise ValueError(f"unknown company code {company_code!r}, or not one of your accounts")
    sku = values.get("sku", "")
    product = products.get(sku.upper())
    if product is None:
        raise ValueError(f"unknown SKU {sku!r}" if sku else "the SKU is missing")
    min_quantity = _decimal(values.get("min_quantity") or "1", "min_quantity")
    if min_quantity <= 0:
        raise ValueError("min_quantity must be more than zero")
    unit_price = _decimal(values.get("unit_price", ""), "unit_price")
    if unit_price < 0:
        raise ValueError("a price cannot be negative")
    if unit_price.as_tuple().exponent < -PRICE_DECIMAL_PLACES:  # type: ignore[operator]
        raise ValueError(f"unit_price has more than {PRICE_DECIMAL_PLACES} decimals")
    valid_from = _date(values.get("valid_from", ""), "valid_from") or timezone.localdate()
    valid_to = _date(values.get("valid_to", ""), "valid_to")
    if valid_to and valid_to < valid_from:
        raise ValueError("valid_to is before valid_from")
    return _Line(
        line,
        tier.pk if tier else None,
        company.pk if company else None,
        product.pk,
        product.sku,
        min_quantity,
        unit_price,
        valid_from,
        valid_to,
    )


def _with_actions(lines: list[_Line], report: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Match each line to the row it replaces (same target, SKU, quantity and start) and check overlaps."""
    by_line = {entry["line"]: entry for entry in report}
    tier_rows = TierPrice.objects.filter(product_id__in={line.product_id for line in lines if line.tier_id})
    contract_rows = ContractPrice.objects.filter(
        product_id__in={line.product_id for line in lines if line.company_id}
    )
    existing: dict[tuple[Any, ...], list[Any]] = {}
    for tier_row in tier_rows:
        existing.setdefault(("t", tier_row.tier_id, tier_row.product_id, tier_row.min_quantity), []).append(
            tier_row
        )
    for contract_row in contract_rows:
        existing.setdefault(
            ("c", contract_row.company_id, contract_row.product_id, contract_row.min_quantity), []
        ).append(contract_row)
    rows = []
    for line in lines:
        scope = ("t", line.tier_id) if line.tier_id else ("c", line.company_id)
        siblings = existing.get((*scope, line.product_id, line.min_quantity), [])
        same = next((row for row in siblings if row.valid_from == line.valid_from), None)
        clash = next(
            (
                row
                for row in siblings
                if row is not same
                and (row.valid_to is None or row.valid_to >= line.valid_from)
                and (line.valid_to is None or row.valid_from <= line.valid_to)
            ),
            None,
        )
        if clash is not None:
            by_line[line.line].update(ok=False, message=f"overlaps the existing price {services._fmt(clash)}")
            continue
        by_line[line.line]["message"] = by_line[line.line]["message"] or (
            "updates a price" if same else "new price"
        )
        rows.append(
            {
                "line": line.line,
                "tier_id": line.tier_id,
                "company_id": line.company_id,
                "product_id": line.product_id,
                "sku": line.sku,
                "min_quantity": str(line.min_quantity),
                "unit_price": str(line.unit_price),
                "valid_from": line.valid_from.isoformat(),
                "valid_to": line.valid_to.isoformat() if line.valid_to else None,
                "row_id": same.pk if same else None,
            }
        )
    return rows


@dataclass(frozen=True)
class Impact:
    accounts: int
    account_names: list[str]
    skus: int
    rows: int
    average_change_percent: Decimal | None
    increases: int
    decreases: int


def upload_impact(upload: PriceUpload) -> Impact:
    """Which accounts and how many SKUs change, and by how much on average, compared with today's prices."""
    rows = upload.rows
    tier_ids = {row["tier_id"] for row in rows if row["tier_id"]}
    companies_by_tier: dict[int, list[int]] = {}
    for company_id, tier_id in Company.objects.filter(pricing__tier_id__in=tier_ids).values_list(
        "pk", "pricing__tier_id"
    ):
        companies_by_tier.setdefault(tier_id, []).append(company_id)
    accounts = {row["company_id"] for row in rows if row["company_id"]}
    for tier_id in tier_ids:
        accounts.update(companies_by_tier.get(tier_id, []))
    products = Product.objects.in_bulk({row["product_id"] for row in rows})
    tiers = PriceTier.objects.in_bulk(tier_ids)
    company_rows = _group(rows, "company_id")
    olds: dict[int, Decimal] = {}
    for company in Company.objects.filter(pk__in=company_rows):
        for row in company_rows[company.pk]:
            quote = price_resolve_many(
                account=company,
                products=[products[row["product_id"]]],
                quantity=Decimal(row["min_quantity"]),
                on_date=date.fromisoformat(row["valid_from"]),
            )[row["product_id"]]
            olds[row["line"]] = quote.unit_price
    # The tier rows being replaced, in one query (not one per CSV line).
    replaced = TierPrice.objects.in_bulk([row["row_id"] for row in rows if row["tier_id"] and row["row_id"]])
    for row in rows:
        if row["tier_id"]:
            old_row = replaced.get(row["row_id"]) if row["row_id"] else None
            olds[row["line"]] = (
                old_row.unit_price
                if old_row
                else tier_default_price(products[row["product_id"]].list_price, tiers[row["tier_id"]])
            )
    changes = [
        (Decimal(row["unit_price"]) - olds[row["line"]]) / olds[row["line"]] * 100
        for row in rows
        if olds.get(row["line"])
    ]
    return Impact(
        accounts=len(accounts),
        account_names=list(
            Company.objects.filter(pk__in=accounts).order_by("name").values_list("name", flat=True)
        ),
        skus=len({row["product_id"] for row in rows}),
        rows=len(rows),
        average_change_percent=(sum(changes, Decimal(0)) / len(changes)).quantize(Decimal("0.01"))
        if changes
        else None,
        increases=sum(1 for change in changes if change > 0),
        decreases=sum(1 for change in changes if change < 0),
    )


def _group(rows: Iterable[dict[str, Any]], key: str) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row[key]:
            grouped.setdefault(row[key], []).append(row)
    return grouped


@transaction.atomic
def upload_publish(*, upload: PriceUpload) -> PriceUpload:
    upload = PriceUpload.objects.select_for_update().get(pk=upload.pk)
    if upload.status != PriceUpload.Status.PREVIEW:
        raise PricingError(
            f"This upload is {upload.get_status_display().lower()}; it cannot be published again."
        )
    upload.status = PriceUpload.Status.PUBLISHING
    upload.done_lines = 0
    upload.save(update_fields=["status", "done_lines", "updated_at"])
    transaction.on_commit(lambda: async_task("apps.pricing.tasks.upload_apply", upload.pk))
    return upload


@transaction.atomic
def upload_discard(*, upload: PriceUpload) -> PriceUpload:
    upload = PriceUpload.objects.select_for_update().get(pk=upload.pk)
    if upload.status != PriceUpload.Status.PREVIEW:
        raise PricingError("Only an upload in preview can be discarded.")
    upload.status = PriceUpload.Status.DISCARDED
    upload.save(update_fields=["status", "updated_at"])
    return upload


def upload_apply(*, upload: PriceUpload) -> PriceUpload:
    """Apply a publishing upload in chunks, saving progress; lines that no longer fit are reported."""
    actor = upload.uploaded_by
    report = {entry["line"]: entry for entry in upload.report}
    tiers = PriceTier.objects.in_bulk({row["tier_id"] for row in upload.rows if row["tier_id"]})
    companies = Company.objects.in_bulk({row["company_id"] for row in upload.rows if row["company_id"]})
    touched: set[int] = set()
    for start in range(upload.done_lines, len(upload.rows), PUBLISH_CHUNK):
        chunk = upload.rows[start : start + PUBLISH_CHUNK]
        products = Product.objects.in_bulk({row["product_id"] for row in chunk})
        with transaction.atomic():
            for row in chunk:
                fields: dict[str, Any] = {
                    "actor": actor,
                    "product": products[row["product_id"]],
                    "min_quantity": Decimal(row["min_quantity"]),
                    "unit_price": Decimal(row["unit_price"]),
                    "valid_from": date.fromisoformat(row["valid_from"]),
                    "valid_to": date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
                    "upload": upload,
                    "push": False,
                }
                try:
                    with transaction.atomic():
                        if row["tier_id"]:
                            tier = tiers[row["tier_id"]]
                            existing = (
                                TierPrice.objects.filter(pk=row["row_id"], tier=tier).first()
                                if row["row_id"]
                                else None
                            )
                            services.tier_price_save(tier=tier, row=existing, **fields)
                            touched.update(
                                Company.objects.filter(pricing__tier=tier).values_list("pk", flat=True)
                            )
                        else:
                            company = companies[row["company_id"]]
                            existing_contract = (
                                ContractPrice.objects.filter(pk=row["row_id"], company=company).first()
                                if row["row_id"]
                                else None
                            )
                            services.contract_price_save(company=company, row=existing_contract, **fields)
                            touched.add(company.pk)
                except ValidationError as exc:
                    report[row["line"]].update(ok=False, message="not applied: " + "; ".join(exc.messages))
            upload.done_lines = start + len(chunk)
            upload.report = list(report.values())
            upload.save(update_fields=["done_lines", "report", "updated_at"])
    with transaction.atomic():
        services.price_lists_enqueue(list(Company.objects.filter(pk__in=touched)))
        upload.status = PriceUpload.Status.PUBLISHED
        upload.published_at = timezone.now()
        upload.save(update_fields=["status", "published_at", "updated_at"])
    return upload


def upload_example() -> str:
    return (
        "tier,company_code,sku,min_quantity,unit_price,valid_from,valid_to\n"
        "Gold,,SKU-00001,1,0.1200,2026-12-01,\n"
        "Gold,,SKU-00001,100,0.1000,2026-12-01,\n"
        ",CUST-001,SKU-00042,1,21.5000,2026-12-01,2027-03-31\n"
    )
