"""How the portal's prices become one ERP price list per company.

The portal's rule: a contract price that applies (valid on the date, minimum quantity reached) wins,
lowest first; otherwise the lowest of the tier's applicable breaks and the tier default. Tryton takes
the first line that matches, in sequence, so each product's lines are written cheapest first:
contract lines, then tier lines with that product's tier default among them, then one catch-all line
with the tier's default discount for every other product.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import BigIntegerField, CharField, F, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from apps.accounts.models import Company
from apps.erp import registry
from apps.erp.connectors.base import (
    Connector,
    ErpBusinessError,
    ErpError,
    ErpTransientError,
    PriceListLine,
    PriceListPush,
    ReconcileRecord,
    reconcile_price_list_lines,
)
from apps.erp.models import SyncJob
from apps.erp.registry import PortalRow
from apps.erp.services import job_enqueue, job_fail, job_succeed
from apps.pricing.models import ContractPrice, TierPrice
from apps.pricing.selectors import HUNDRED, company_tier, tier_default_price

ZERO = Decimal("0")
PRICE_LIST_PUSH = "pricelist.push"


PRICE_LIST_KEY_PREFIX = "portal-company-"


def price_list_key(company: Company) -> str:
    return f"{PRICE_LIST_KEY_PREFIX}{company.pk}"


def price_list_for_company(company: Company) -> PriceListPush:
    today = timezone.localdate()
    current = Q(valid_to__isnull=True) | Q(valid_to__gte=today)
    tier = company_tier(company)
    lines: list[PriceListLine] = []

    contract: dict[str, list[ContractPrice]] = defaultdict(list)
    for row in ContractPrice.objects.filter(current, company=company).select_related("product"):
        contract[row.product.erp_id].append(row)
    for erp_id, rows in sorted(contract.items()):
        for row in sorted(rows, key=lambda r: (r.unit_price, -r.min_quantity)):
            lines.append(
                PriceListLine(
                    erp_id,
                    row.min_quantity,
                    unit_price=row.unit_price,
                    start=row.valid_from,
                    end=row.valid_to,
                )
            )

    discount = (tier.default_discount_percent / HUNDRED) if tier else ZERO
    if tier is not None:
        tiered: dict[str, list[TierPrice]] = defaultdict(list)
        list_prices: dict[str, Decimal] = {}
        for tier_row in TierPrice.objects.filter(current, tier=tier).select_related("product"):
            tiered[tier_row.product.erp_id].append(tier_row)
            list_prices[tier_row.product.erp_id] = tier_row.product.list_price
        for erp_id, tier_rows in sorted(tiered.items()):
            default = tier_default_price(list_prices[erp_id], tier)
            entries: list[tuple[Decimal, int, PriceListLine]] = [
                (
                    r.unit_price,
                    0,
                    PriceListLine(
                        erp_id, r.min_quantity, unit_price=r.unit_price, start=r.valid_from, end=r.valid_to
                    ),
                )
                for r in tier_rows
            ]
            entries.append((default, 1, PriceListLine(erp_id, ZERO, discount=discount)))
            lines.extend(line for _, _, line in sorted(entries, key=lambda e: (e[0], e[1])))
    lines.append(PriceListLine(None, ZERO, discount=discount))
    name = f"{company.name} ({tier.name if tier else 'list price'})"
    return PriceListPush(
        key=price_list_key(company), name=name, lines=lines, customer_erp_ids=[company.erp_party_id]
    )


def price_lists_enqueue(companies: list[Company]) -> None:
    """Queue a push of each company's ERP price list; a push still waiting is reused, not doubled (each
    push sends the whole list as it is when it runs, so one waiting push covers every change)."""
    for company in companies:
        if not company.erp_party_id and not company.erp_customer_code:
            continue
        waiting = SyncJob.objects.filter(
            kind=PRICE_LIST_PUSH, target_id=str(company.pk), status=SyncJob.Status.PENDING, attempts=0
        ).exists()
        if waiting:
            continue
        generation = SyncJob.objects.filter(kind=PRICE_LIST_PUSH, target_id=str(company.pk)).count() + 1
        job_enqueue(
            kind=PRICE_LIST_PUSH,
            target=company,
            idempotency_key=f"{PRICE_LIST_PUSH}:{company.pk}:{generation}",
        )


def price_lists_push(connector: Connector, jobs: list[SyncJob]) -> None:
    """Replace each company's ERP price list with the portal's current prices, assigned to the customer."""
    companies = Company.objects.in_bulk([int(job.target_id) for job in jobs])
    ready: list[tuple[SyncJob, PriceListPush]] = []
    for job in jobs:
        company = companies.get(int(job.target_id))
        if company is None:
            job_fail(job=job, error=ErpBusinessError("The company no longer exists."))
        elif not company.erp_party_id:
            # The customer is still on its way to the ERP (or not pulled yet): wait, with backoff.
            job_fail(job=job, error=ErpTransientError("Waiting for the company's ERP customer to exist."))
        else:
            ready.append((job, price_list_for_company(company)))
    if not ready:
        return
    try:
        results = {result.key: result for result in connector.push_price_lists([push for _, push in ready])}
    except ErpError as exc:
        for job, _ in ready:
            job_fail(job=job, error=exc)
        return
    for job, push in ready:
        result = results.get(push.key)
        if result is None:
            job_fail(job=job, error=ErpBusinessError("The ERP returned no price list."))
            continue
        job_succeed(
            job=job,
            erp_reference=result.erp_id,
            message=(
                f"price list {result.erp_id} {'created' if result.created else 'replaced'}: "
                f"{len(push.lines)} lines"
            ),
        )


# --- Reconciliation: each company's ERP price list against the portal's prices ---------------------------

PRICE_LISTS = "price_lists"


def price_lists_lookup(records: list[ReconcileRecord]) -> dict[str, PortalRow]:
    by_reference = {record.reference: record.key for record in records if record.reference}
    prefix = PRICE_LIST_KEY_PREFIX
    ids = [
        int(ref[len(prefix) :])
        for ref in by_reference
        if ref.startswith(prefix) and ref[len(prefix) :].isdigit()
    ]
    rows = {}
    for company in Company.objects.filter(pk__in=ids):
        key = by_reference[price_list_key(company)]
        push = price_list_for_company(company)
        rows[key] = PortalRow(
            company.pk,
            key,
            company.name,
            {
                "lines": reconcile_price_list_lines(push.lines),
                "customers": ",".join(sorted(push.customer_erp_ids)),
            },
        )
    return rows


def price_lists_linked() -> QuerySet[Company]:
    """Companies whose price list reached the ERP at least once."""
    pushed = (
        SyncJob.objects.filter(kind=PRICE_LIST_PUSH, status=SyncJob.Status.SUCCEEDED)
        .annotate(company_pk=Cast("target_id", BigIntegerField()))
        .values("company_pk")
    )
    return Company.objects.filter(pk__in=pushed).annotate(
        key=Concat(Value(PRICE_LIST_KEY_PREFIX), Cast("pk", CharField())), label=F("name")
    )


def price_list_repush(company_id: int) -> SyncJob | None:
    company = Company.objects.get(pk=company_id)
    price_lists_enqueue([company])
    return SyncJob.objects.filter(kind=PRICE_LIST_PUSH, target_id=str(company.pk)).order_by("-id").first()


def register() -> None:
    registry.job_kind_register(registry.JobKind(PRICE_LIST_PUSH, price_lists_push, "ERP price list"))
    registry.reconcile_register(
        registry.ReconcileSpec(
            entity=PRICE_LISTS,
            label="Price lists",
            model=Company,
            read=lambda connector, after, limit: connector.reconcile_price_lists(after, limit),
            lookup=price_lists_lookup,
            linked=price_lists_linked,
            imported=False,
            repush=price_list_repush,
        )
    )
