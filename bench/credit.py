"""Benchmark: credit reads (one company's position, 500 at once), concurrent credit checks, finance's queue.

Run by hand (not part of the test suite):

    .venv/bin/python bench/credit.py            # full numbers, a minute or two
    .venv/bin/python bench/credit.py --quick    # smaller numbers, under a minute
    .venv/bin/python bench/credit.py --keep     # keep the scratch database afterwards

It creates a fresh PostgreSQL database (``bench_credit`` on 127.0.0.1:5432 as postgres, or
BENCH_PG_URL / --database), migrates it with the test settings and fills it with bulk_create:

1. ``credit_position_get`` for one company with 2,000 invoices (posted or paid, due 0-150 days ago
   or later) and 2,000 orders in every status (some invoiced, half of those mirrored on an invoice):
   p50/p95 over 200 calls; then ``credit_positions`` for 500 companies (each with 20 invoices and 20
   orders) at once: ms and the number of SQL queries.
2. Finance's queue ``/finance/holds/`` with 200 open holds over 100 companies (and some decided ones),
   through Django's test Client as a Finance staff user: p50/p95 over 30 requests and the query count.
3. Credit-check throughput: N threads (8) each submit M orders (25) through
   ``purchase_order_submit_and_route``, started together on a Barrier, each with its own connection:
   (a) all for ONE company (the checks queue on its row lock) vs (b) each thread its own company.
   Limits are set so that about half the orders are held; for (a) the approved total must stay within
   the limit.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import log, run_in_scratch_database  # noqa: E402 - after the path

SEED = 20_240_601
AMOUNT = Decimal("150.00")  # the one product's list price: every benchmark order is one unit of it

FULL = {
    "invoices": 2000,
    "orders": 2000,
    "get_calls": 200,
    "companies": 500,
    "per_company": 20,
    "many_calls": 20,
    "holds": 200,
    "hold_companies": 100,
    "page_requests": 30,
    "threads": 8,
    "per_thread": 25,
}
QUICK = {
    "invoices": 500,
    "orders": 500,
    "get_calls": 50,
    "companies": 500,
    "per_company": 5,
    "many_calls": 5,
    "holds": 200,
    "hold_companies": 100,
    "page_requests": 10,
    "threads": 4,
    "per_thread": 10,
}


def percentile(values: Sequence[float], pct: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def timed(call: Callable[[], Any], times: int) -> list[float]:
    out = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


# --- Scratch database ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller numbers, under a minute")
    parser.add_argument("--threads", type=int, default=None, help="submitting threads (8)")
    parser.add_argument("--per-thread", type=int, default=None, help="orders each thread submits (25)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--database", default="bench_credit", help="scratch database name (recreated)")
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    if args.threads:
        sizes["threads"] = args.threads
    if args.per_thread:
        sizes["per_thread"] = args.per_thread
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    return run_in_scratch_database(args.database, keep=args.keep, run=lambda: run(sizes))


# --- Building --------------------------------------------------------------------------------------------


class Build:
    def __init__(self, rng: random.Random) -> None:
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from apps.catalog.models import Product

        self.rng = rng
        self.today = timezone.localdate()
        self.company_seq = 0
        self.order_seq = 0
        self.invoice_seq = 0
        self.buyer = get_user_model().objects.create_user(
            username="buyer@bench.example", email="buyer@bench.example"
        )
        self.product = Product.objects.create(
            erp_id="P-BOLT", sku="BOLT", name="Bench bolt", unit="each", list_price=AMOUNT
        )

    def companies(self, count: int, limit: Decimal | None, prefix: str) -> list[Any]:
        from apps.accounts.models import Company
        from apps.credit.models import CreditAccount

        made = Company.objects.bulk_create(
            Company(
                name=f"{prefix} {self.company_seq + n:04d}", erp_customer_code=f"B-{self.company_seq + n:05d}"
            )
            for n in range(count)
        )
        self.company_seq += count
        CreditAccount.objects.bulk_create(
            CreditAccount(company=company, credit_limit=limit) for company in made
        )
        return made

    def invoices(self, company: Any, count: int) -> list[Any]:
        """Posted (open, some part-paid) or paid invoices, due 150 days ago up to 30 days ahead."""
        from apps.credit.models import Invoice

        rng, rows = self.rng, []
        for _ in range(count):
            self.invoice_seq += 1
            due = self.today - timedelta(days=rng.randint(-30, 150))
            total = Decimal(rng.randint(1_000, 500_000)) / 100
            paid = rng.random() < 0.4
            rows.append(
                Invoice(
                    company=company,
                    erp_id=f"inv-{self.invoice_seq}",
                    number=f"INV-{self.invoice_seq:07d}",
                    invoice_date=due - timedelta(days=30),
                    due_date=due,
                    total_amount=total,
                    amount_paid=total if paid else (total / 3).quantize(Decimal("0.01")) * rng.randint(0, 1),
                    state=Invoice.State.PAID if paid else Invoice.State.POSTED,
                )
            )
        return Invoice.objects.bulk_create(rows)

    def orders(
        self, company: Any, count: int, invoices: Sequence[Any], statuses: Sequence[str] = ()
    ) -> list[Any]:
        """Orders in every status past draft; half of the invoiced ones are mirrored on an invoice."""
        from apps.credit.models import Invoice
        from apps.purchase_orders.models import PurchaseOrder

        status_pool = list(statuses) or [s for s in PurchaseOrder.Status.values if s != "draft"]
        rows = []
        for _ in range(count):
            self.order_seq += 1
            rows.append(
                PurchaseOrder(
                    company=company,
                    buyer=self.buyer,
                    customer_po_number=f"PO-{self.order_seq:07d}",
                    status=self.rng.choice(status_pool),
                    total_amount=Decimal(self.rng.randint(1_000, 200_000)) / 100,
                )
            )
        made = PurchaseOrder.objects.bulk_create(rows)
        if invoices:
            through = Invoice.purchase_orders.through
            links = [
                through(invoice_id=self.rng.choice(invoices).pk, purchaseorder_id=order.pk)
                for order in made
                if order.status == PurchaseOrder.Status.INVOICED and self.rng.random() < 0.5
            ]
            through.objects.bulk_create(links)
        return made


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --- The three measurements ------------------------------------------------------------------------------


def run(sizes: dict[str, int]) -> dict[str, Any]:
    from django.db import transaction

    log(f"sizes: {sizes}")
    rng = random.Random(SEED)  # noqa: S311  (a reproducible data set, not secrets)
    started = time.perf_counter()
    with transaction.atomic():
        build = Build(rng)
        main_company = build.companies(1, Decimal("1000000.00"), "Big")[0]
        invoices = build.invoices(main_company, sizes["invoices"])
        build.orders(main_company, sizes["orders"], invoices)
        many = build.companies(sizes["companies"], Decimal("50000.00"), "Many")
        for company in many:
            company_invoices = build.invoices(company, sizes["per_company"])
            build.orders(company, sizes["per_company"], company_invoices)
    analyze()
    log(
        f"built 1 company with {sizes['invoices']} invoices and {sizes['orders']} orders, "
        f"{sizes['companies']} companies with {sizes['per_company']} of each "
        f"in {time.perf_counter() - started:.1f} s"
    )
    result: dict[str, Any] = {"metric": "credit"}
    result.update(measure_positions(sizes, main_company, many))
    result.update(measure_queue(sizes, build, many))
    result.update(measure_throughput(sizes, build))
    return result


def measure_positions(sizes: dict[str, int], company: Any, many: Sequence[Any]) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.credit.selectors import credit_position_get, credit_positions

    position = credit_position_get(company=company)
    for _ in range(5):
        credit_position_get(company=company)
    with CaptureQueriesContext(connection) as one:
        credit_position_get(company=company)
    get_queries = len(one.captured_queries)
    get_ms = timed(lambda: credit_position_get(company=company), sizes["get_calls"])
    log(
        f"credit_position_get ({sizes['invoices']} invoices, {sizes['orders']} orders): "
        f"p50 {statistics.median(get_ms):.2f} ms  p95 {percentile(get_ms, 95):.2f} ms  "
        f"over {len(get_ms)} calls, {get_queries} queries; exposure {position.exposure}, "
        f"open invoices {position.open_invoices}, past due {position.past_due.count}"
    )

    ids = [c.pk for c in many]
    credit_positions(company_ids=ids)
    with CaptureQueriesContext(connection) as captured:
        positions = credit_positions(company_ids=ids)
    queries = len(captured.captured_queries)
    many_ms = timed(lambda: credit_positions(company_ids=ids), sizes["many_calls"])
    log(
        f"credit_positions ({len(ids)} companies at once): p50 {statistics.median(many_ms):.1f} ms  "
        f"p95 {percentile(many_ms, 95):.1f} ms  over {len(many_ms)} calls, {queries} queries; "
        f"{sum(1 for p in positions.values() if p.past_due.count)} companies with invoices past due"
    )
    return {
        "position_get_ms_p50": round(statistics.median(get_ms), 2),
        "position_get_ms_p95": round(percentile(get_ms, 95), 2),
        "position_get_queries": get_queries,
        "positions_500_ms": round(statistics.median(many_ms), 1),
        "positions_500_queries": queries,
    }


def measure_queue(sizes: dict[str, int], build: Build, many: Sequence[Any]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from apps.accounts.models import StaffRole
    from apps.accounts.services import staff_user_set_roles
    from apps.credit.models import CreditHold
    from apps.purchase_orders.models import PurchaseOrder

    companies = list(many[: sizes["hold_companies"]])
    user_model = get_user_model()
    with transaction.atomic():
        finance = user_model.objects.create_user(
            username="finance@bench.example", email="finance@bench.example"
        )
        staff_user_set_roles(user=finance, roles=[StaffRole.FINANCE])
        held: list[Any] = []
        per_company = -(-sizes["holds"] // len(companies))
        for company in companies:
            held += build.orders(company, per_company + 1, [], statuses=[PurchaseOrder.Status.CREDIT_HOLD])
        now = timezone.now()
        holds = []
        for n, order in enumerate(held):
            is_open = n % (per_company + 1) != per_company  # one decided hold per company, the rest open
            holds.append(
                CreditHold(
                    purchase_order=order,
                    company_id=order.company_id,
                    status=CreditHold.Status.OPEN if is_open else CreditHold.Status.RELEASED,
                    reasons=["over_limit"],
                    message="this order would take the account over its credit limit",
                    order_amount=order.total_amount,
                    credit_limit=Decimal("50000.00"),
                    exposure=Decimal("49000.00"),
                    decided_by=None if is_open else finance,
                    decided_at=None if is_open else now,
                    decision_note="" if is_open else "known customer",
                )
            )
        CreditHold.objects.bulk_create(holds)
        # Keep exactly the wanted number open.
        extra = list(
            CreditHold.objects.filter(status=CreditHold.Status.OPEN)
            .order_by("-id")
            .values_list("pk", flat=True)
        )[: max(len([h for h in holds if h.status == CreditHold.Status.OPEN]) - sizes["holds"], 0)]
        CreditHold.objects.filter(pk__in=extra).update(
            status=CreditHold.Status.CANCELLED, decided_at=now, decision_note="bench"
        )
    analyze()
    open_count = CreditHold.objects.filter(status=CreditHold.Status.OPEN).count()
    open_companies = CreditHold.objects.filter(status="open").values("company").distinct().count()

    client = Client()
    client.force_login(finance)
    for _ in range(3):
        response = client.get("/finance/holds/")
        if response.status_code != 200:
            raise SystemExit(f"/finance/holds/: HTTP {response.status_code}")
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/finance/holds/")
    # Count now: captured_queries reads the live log, which the next request clears.
    queries = len(captured.captured_queries)
    rows = response.content.decode().count('<tr id="hold-')
    if rows != open_count:
        raise SystemExit(f"/finance/holds/ shows {rows} holds, {open_count} are open")
    page_ms = timed(lambda: client.get("/finance/holds/"), sizes["page_requests"])
    log(
        f"/finance/holds/ ({open_count} open holds over {open_companies} companies): "
        f"p50 {statistics.median(page_ms):.1f} ms  p95 {percentile(page_ms, 95):.1f} ms  "
        f"over {len(page_ms)} requests, {queries} queries, {rows} rows, {len(response.content) // 1024} KiB"
    )
    return {
        "holds_page_ms_p50": round(statistics.median(page_ms), 1),
        "holds_page_ms_p95": round(percentile(page_ms, 95), 1),
        "holds_page_queries": queries,
        "holds_open": open_count,
    }


def drafts_make(build: Build, company: Any, count: int, label: str) -> list[Any]:
    """``count`` ready-to-submit drafts of one unit of the 150.00 product for ``company``."""
    from apps.accounts.models import ShipToAddress
    from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine

    ship_to = ShipToAddress.objects.create(
        company=company,
        label="Main",
        street="1 Bench Road",
        city="Benchville",
        postal_code="12345",
        country="US",
    )
    made = PurchaseOrder.objects.bulk_create(
        PurchaseOrder(
            company=company,
            buyer=build.buyer,
            customer_po_number=f"{label}-{n:04d}",
            ship_to=ship_to,
            status=PurchaseOrder.Status.DRAFT,
        )
        for n in range(count)
    )
    PurchaseOrderLine.objects.bulk_create(
        PurchaseOrderLine(purchase_order=order, product=build.product, quantity=Decimal("1"))
        for order in made
    )
    return made


def submit_concurrently(work: list[list[Any]], actors: list[Any]) -> tuple[float, list[BaseException]]:
    """One thread per list of drafts, started together; wall seconds from the start to the last commit."""
    from django.db import connection

    from apps.purchase_orders.services import purchase_order_submit_and_route

    barrier = threading.Barrier(len(work) + 1)
    errors: list[BaseException] = []

    def submit(drafts: list[Any], actor: Any) -> None:
        try:
            connection.ensure_connection()  # connect first, so that only the submits are timed
            barrier.wait(timeout=60)
            for draft in drafts:
                purchase_order_submit_and_route(purchase_order=draft, actor=actor)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=submit, args=(drafts, actor))
        for drafts, actor in zip(work, actors, strict=True)
    ]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=60)
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=600)
    return time.perf_counter() - started, errors


def measure_throughput(sizes: dict[str, int], build: Build) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db.models import Sum

    from apps.purchase_orders.models import PurchaseOrder

    threads, per_thread = sizes["threads"], sizes["per_thread"]
    total = threads * per_thread
    user_model = get_user_model()
    actors = [
        user_model.objects.create_user(
            username=f"submitter{n}@bench.example", email=f"submitter{n}@bench.example"
        )
        for n in range(threads)
    ]
    Status = PurchaseOrder.Status

    # (a) one company: its limit fits half of all the orders.
    shared_limit = AMOUNT * (total // 2)
    shared = build.companies(1, shared_limit, "Shared")[0]
    drafts = drafts_make(build, shared, total, "SHARED")
    work = [drafts[n * per_thread : (n + 1) * per_thread] for n in range(threads)]
    # (b) one company per thread: each limit fits half of that thread's orders.
    own_limit = AMOUNT * (per_thread // 2)
    own = build.companies(threads, own_limit, "Own")
    own_work = [drafts_make(build, company, per_thread, f"OWN{n}") for n, company in enumerate(own)]
    analyze()

    log(
        f"submitting {threads} threads x {per_thread} orders of {AMOUNT} "
        "through purchase_order_submit_and_route"
    )
    shared_s, errors = submit_concurrently(work, actors)
    if errors:
        raise SystemExit(f"(a) one company: {len(errors)} submits failed, first: {errors[0]!r}")
    orders = PurchaseOrder.objects.filter(company=shared, status__in=[Status.APPROVED, Status.CREDIT_HOLD])
    statuses = Counter(orders.values_list("status", flat=True))
    approved_total = orders.filter(status=Status.APPROVED).aggregate(total=Sum("total_amount"))["total"]
    approved_total = approved_total or Decimal("0.00")
    within = (
        approved_total <= shared_limit and statuses[Status.APPROVED] + statuses[Status.CREDIT_HOLD] == total
    )
    shared_rate = total / shared_s
    log(
        f"(a) one company:      {total} orders in {shared_s:.2f} s = {shared_rate:7.1f} orders/s; "
        f"approved {statuses[Status.APPROVED]} ({approved_total}) held {statuses[Status.CREDIT_HOLD]}; "
        f"limit {shared_limit}: "
        f"{'OK, approved total within the limit' if within else 'FAILED: over the limit'}"
    )

    own_s, errors = submit_concurrently(own_work, actors)
    if errors:
        raise SystemExit(f"(b) own companies: {len(errors)} submits failed, first: {errors[0]!r}")
    own_statuses = Counter(
        PurchaseOrder.objects.filter(company__in=own, customer_po_number__startswith="OWN").values_list(
            "status", flat=True
        )
    )
    own_rate = total / own_s
    log(
        f"(b) own company each: {total} orders in {own_s:.2f} s = {own_rate:7.1f} orders/s; "
        f"approved {own_statuses[Status.APPROVED]} held {own_statuses[Status.CREDIT_HOLD]} "
        f"(limit {own_limit} each)"
    )
    log(f"ratio own companies / one company: {own_rate / shared_rate:.2f}x")
    if not within:
        raise SystemExit("the approved total of the shared company passed its limit")
    return {
        "threads": threads,
        "orders_per_thread": per_thread,
        "one_company_orders_per_s": round(shared_rate, 1),
        "own_companies_orders_per_s": round(own_rate, 1),
        "throughput_ratio": round(own_rate / shared_rate, 2),
        "one_company_approved": statuses[Status.APPROVED],
        "one_company_held": statuses[Status.CREDIT_HOLD],
        "one_company_within_limit": within,
    }


if __name__ == "__main__":
    sys.exit(main())
