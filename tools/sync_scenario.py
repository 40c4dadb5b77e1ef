"""The order-sync scenario shared by the fault tests (tests/erp/test_faults.py) and the drain benchmark
(bench/sync_drain.py): buyers and approved orders made through the real services, the ERP changing
sales the way its users do, and the end state checked on both sides.

Import it only once Django is configured (it imports the portal's models at module level).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Max

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Membership, Role, ShipToAddress
from apps.catalog.erp import PRODUCTS, STOCK
from apps.catalog.models import Product
from apps.erp import inbound
from apps.erp.connectors import connector_for
from apps.erp.models import ErpConnection, SyncJob
from apps.purchase_orders import services as po_services
from apps.purchase_orders.erp import ORDER_PUSH
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route

Status = PurchaseOrder.Status
# Where an order pushed to the ERP ends: accepted, or further along when the ERP moved it on.
ACCEPTED_OR_FURTHER = frozenset(
    {Status.ACCEPTED, Status.PARTIALLY_SHIPPED, Status.SHIPPED, Status.INVOICED, Status.CLOSED}
)
LINES_PER_ORDER = 2
MAX_LIST_PRICE = Decimal("5")


def master_data_pull(connection: ErpConnection) -> None:
    """Customers, products and stock from the ERP, as the first scheduled pulls would."""
    connector = connector_for(connection)
    try:
        for stream in (CUSTOMERS, PRODUCTS, STOCK):
            report = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
            if report.error:
                raise RuntimeError(f"the {stream} pull failed: {report.error}")
    finally:
        connector.close()


@dataclasses.dataclass
class Shop:
    """Buyers of the ERP customers with the biggest credit limits, and cheap products to order."""

    companies: list[Company]
    buyers: dict[int, User]
    ship_to: dict[int, ShipToAddress]
    products: list[Product]
    tag: str
    made: int = 0

    @classmethod
    def open(cls, *, customers: int = 4, products: int = 12) -> Shop:
        companies = sorted(
            Company.objects.filter(erp_party_id__gt="", credit_account__credit_limit__isnull=False)
            .select_related("credit_account")
            .exclude(status=Company.Status.ON_HOLD),
            key=lambda company: (-company.credit_account.credit_limit, company.erp_customer_code),
        )[:customers]
        if len(companies) < customers:
            raise RuntimeError(f"only {len(companies)} ERP customers with a credit limit were pulled")
        tag = uuid.uuid4().hex[:6].upper()
        buyers, ship_to = {}, {}
        for company in companies:
            address = (
                company.ship_to_addresses.filter(erp_address_id__gt="", is_active=True)
                .order_by("-is_default", "id")
                .first()
            )
            if address is None:
                raise RuntimeError(f"{company.erp_customer_code} has no ERP address")
            ship_to[company.pk] = address
            user = User.objects.create_user(
                username=f"faults-{tag}-{company.erp_customer_code}".lower(),
                email=f"buyer-{tag}-{company.erp_customer_code}@faults.example".lower(),
                password=None,
            )
            Membership.objects.create(user=user, company=company, role=Role.BUYER)
            buyers[company.pk] = user
        pool = list(
            Product.objects.filter(
                is_active=True,
                list_price__gt=0,
                list_price__lte=MAX_LIST_PRICE,
                order_minimum__lte=1,
                order_increment=1,
                order_maximum__isnull=True,
            ).order_by("sku")[:products]
        )
        if len(pool) < LINES_PER_ORDER:
            raise RuntimeError(f"only {len(pool)} cheap products; need {LINES_PER_ORDER}")
        return cls(companies=companies, buyers=buyers, ship_to=ship_to, products=pool, tag=tag)

    def orders_approve(self, count: int, *, label: str = "O") -> list[PurchaseOrder]:
        """``count`` approved orders (an ``order.push`` job each), spread over the customers; every
        order is its own transaction, committed when this returns."""
        made = []
        for _ in range(count):
            i = self.made
            self.made += 1
            company = self.companies[i % len(self.companies)]
            buyer = self.buyers[company.pk]
            order = po_services.purchase_order_draft_get(company=company, buyer=buyer)
            order.customer_po_number = f"F-{self.tag}-{label}-{i + 1:04d}"
            order.ship_to = self.ship_to[company.pk]
            order.save(update_fields=["customer_po_number", "ship_to", "updated_at"])
            lines = [
                ParsedLine(
                    j + 1, self.products[(i + j) % len(self.products)].sku, Decimal(1 + (i + j) % 3), ""
                )
                for j in range(LINES_PER_ORDER)
            ]
            result = po_services.purchase_order_lines_add(purchase_order=order, lines=lines)
            if result.added != LINES_PER_ORDER:
                raise RuntimeError(f"order {order.customer_po_number}: lines refused: {result.report}")
            order = purchase_order_submit_and_route(purchase_order=order, actor=buyer)
            if order.status != Status.APPROVED:
                raise RuntimeError(f"order {order.customer_po_number} is {order.status}, not approved")
            made.append(order)
        return made


# --- ERP side --------------------------------------------------------------------------------------------


def erp_sales(client: Any, references: list[str]) -> list[dict[str, Any]]:
    """The ERP's sales with these references (any party): id, reference, party, state, invoices."""
    if not references:
        return []
    return client.model(
        "sale.sale",
        "search_read",
        [["reference", "in", references]],
        0,
        None,
        None,
        ["reference", "party", "state", "invoices", "number"],
    )


def erp_invoices_post(client: Any, references: list[str], *, limit: int | None = None) -> list[str]:
    """Accounting posts the invoices of those of these sales that the ERP confirmed (the order-state
    pull then moves their orders on to invoiced); returns the references whose invoices were posted."""
    posted: list[str] = []
    for sale in erp_sales(client, references):
        if limit is not None and len(posted) >= limit:
            break
        if sale["state"] != "processing" or not sale["invoices"]:
            continue
        drafts = client.model(
            "account.invoice", "search", [["id", "in", sale["invoices"]], ["state", "=", "draft"]]
        )
        if drafts:
            client.model("account.invoice", "post", drafts)
            posted.append(sale["reference"])
    return posted


# --- End state -------------------------------------------------------------------------------------------


def outbox_counts(order_ids: list[int]) -> Counter[str]:
    """The order.push jobs of these orders by status."""
    rows = (
        SyncJob.objects.filter(kind=ORDER_PUSH, target_id__in=[str(pk) for pk in order_ids])
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return Counter(dict(rows))


def outbox_drained(order_ids: list[int]) -> bool:
    counts = outbox_counts(order_ids)
    return counts.get(SyncJob.Status.SUCCEEDED, 0) == len(order_ids)


@dataclasses.dataclass
class Delivery:
    """What became of a set of orders, on both sides."""

    orders: int
    jobs: dict[str, int]
    missing_jobs: int
    over_max_attempts: list[str]
    max_attempts_seen: int
    lost: list[str]  # in no ERP sale
    duplicates: dict[str, int]  # reference -> sales of the order's customer
    wrong_party: list[str]
    not_accepted: dict[str, str]  # reference -> portal status
    unfinished: list[dict[str, Any]]  # jobs not succeeded: status, attempts, claimed_by, last_error

    @property
    def ok(self) -> bool:
        return not (
            self.missing_jobs
            or self.over_max_attempts
            or self.lost
            or self.duplicates
            or self.wrong_party
            or self.not_accepted
            or self.unfinished
        )


def delivery_check(orders: list[PurchaseOrder], client: Any) -> Delivery:
    """Every order in the ERP exactly once (for its customer), every push job succeeded within its
    attempts, every order accepted or further in the portal."""
    by_pk = {
        order.pk: order
        for order in PurchaseOrder.objects.select_related("company").filter(pk__in=[o.pk for o in orders])
    }
    jobs = list(SyncJob.objects.filter(kind=ORDER_PUSH, target_id__in=[str(pk) for pk in by_pk]))
    statuses = Counter(job.status for job in jobs)
    sales = erp_sales(client, [order.customer_po_number for order in by_pk.values()])
    per_reference: Counter[str] = Counter()
    parties: dict[str, set[str]] = {}
    for sale in sales:
        per_reference[sale["reference"]] += 1
        parties.setdefault(sale["reference"], set()).add(str(sale["party"]))
    lost, duplicates, wrong_party, not_accepted = [], {}, [], {}
    for order in by_pk.values():
        reference = order.customer_po_number
        if per_reference[reference] == 0:
            lost.append(reference)
        elif per_reference[reference] > 1:
            duplicates[reference] = per_reference[reference]
        elif parties[reference] != {order.company.erp_party_id}:
            wrong_party.append(reference)
        if order.status not in ACCEPTED_OR_FURTHER:
            not_accepted[reference] = order.status
    return Delivery(
        orders=len(by_pk),
        jobs=dict(statuses),
        missing_jobs=len(by_pk) - len(jobs),
        over_max_attempts=[job.idempotency_key for job in jobs if job.attempts > job.max_attempts],
        max_attempts_seen=max((job.attempts for job in jobs), default=0),
        lost=sorted(lost),
        duplicates=duplicates,
        wrong_party=sorted(wrong_party),
        not_accepted=not_accepted,
        unfinished=[
            {
                "job": job.pk,
                "order": job.target_id,
                "status": job.status,
                "attempts": job.attempts,
                "max_attempts": job.max_attempts,
                "claimed_by": job.claimed_by,
                "claimed_at": job.claimed_at and job.claimed_at.isoformat(),
                "next_attempt_at": job.next_attempt_at.isoformat(),
                "last_error": job.last_error[:300],
            }
            for job in jobs
            if job.status != SyncJob.Status.SUCCEEDED
        ][:20],
    )


def attempts_max(order_ids: list[int]) -> int:
    return (
        SyncJob.objects.filter(kind=ORDER_PUSH, target_id__in=[str(pk) for pk in order_ids]).aggregate(
            top=Max("attempts")
        )["top"]
        or 0
    )
