"""Benchmark: push approved portal orders to the ERP through the outbox vs a bare JSON-RPC batch.

Run by hand (not part of the test suite):

    .venv/bin/python bench/po_push.py            # 60 orders a round, 3 rounds each
    .venv/bin/python bench/po_push.py --quick    # 20 orders a round, 2 rounds each, under a minute

It starts TWO fresh local Trytons from the seeded template (tools/tryton), one for each side, so both
ERPs grow by the same number of sales over the rounds and each side meets the same database size.
It migrates a scratch portal database (DATABASE_URL, default a temporary SQLite file; a PostgreSQL URL
works too, but the database is written to: give it a scratch one), pulls customers, products and stock
through the sync engine, and gives a buyer to each of the customers with the biggest credit limits.

Every round builds N portal orders of 10 lines (cheap products in stock, small quantities, spread over
those customers so that no credit limit comes near) through the real services: draft, lines,
submit_and_route (no approval rules: approved, an ``order.push`` job queued). Then, alternating which
goes first:
- ours: ``services.dispatch`` drains the outbox (batches of ERP_PUSH_BATCH_SIZE): the connector's
  lookups, one create, one quote, confirm calls (one per round of credit-limited parties), the final
  read, and the portal's job and order updates. Only the dispatch is timed (the connector signs in
  before); every order must end ``accepted`` and the ERP must hold exactly N sales with those references.
  Each ERP call and the dispatcher's steps are timed too (wrappers in this process, microseconds each):
  the progress lines split the time into ERP RPCs by method, the connector's own Python and the portal's
  database work, and list each confirm call's size and time.
- baseline: the same orders (customers, addresses, products, quantities, frozen prices) with fresh
  references on the other ERP, by a plain ``TrytonClient``: one ``sale.sale.create`` with all N sales
  and their lines, one ``quote``, one ``confirm``. Master data (units, addresses, payment terms) is
  read before the clock starts.
The last line is one JSON object: {"metric": "erp_push_pos_per_s", "ours", "baseline", "ratio"}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LINES_PER_ORDER = 10
PRODUCT_POOL = 40  # cheap products in stock the orders' lines cycle through
MAX_LIST_PRICE = Decimal("5")  # per unit: an order stays under 10 x 3 x 5 = 150
MIN_STOCK = Decimal("200")
CUSTOMERS = 7  # the customers with the biggest credit limits (the seed's 50k and 25k ones)
ACCEPTED_STATES = ("confirmed", "processing")


class Phases:
    """Wall time and call counts by label, for wrapped callables (microseconds of overhead a call)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.confirms: list[tuple[int, float]] = []  # (sales, seconds) of each sale.sale.confirm call

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] += seconds
        self.calls[label] += 1

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)

        return timed

    def wrap_rpc(self, prefix: str, model: Callable[..., Any]) -> Callable[..., Any]:
        """``TrytonClient.model(model, method, ...)``: one label per model and method."""

        def timed(name: str, method: str, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return model(name, method, *args, **kwargs)
            finally:
                seconds = time.perf_counter() - started
                self.add(f"{prefix}{name}.{method}", seconds)
                if (name, method) == ("sale.sale", "confirm"):
                    self.confirms.append((len(args[0]), seconds))

        return timed

    def total(self, prefix: str) -> float:
        return sum(seconds for label, seconds in self.seconds.items() if label.startswith(prefix))

    def merge(self, other: Phases) -> None:
        for label, seconds in other.seconds.items():
            self.seconds[label] += seconds
            self.calls[label] += other.calls[label]
        self.confirms.extend(other.confirms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 orders, 2 rounds")
    parser.add_argument("--orders", type=int, default=None, help="orders a round (default 60, quick 20)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds each (default 3, quick 2)")
    args = parser.parse_args()
    n_orders = args.orders or (20 if args.quick else 60)
    rounds = args.rounds or (2 if args.quick else 3)

    scratch = Path(tempfile.mkdtemp(prefix="bench-po-push-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'portal.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"  # ERP_SYNC_ENABLED off: no inline runs

    from tools.tryton import erp

    erp.ensure_venv()
    erp.ensure_template()
    ours_server = erp.start(scratch / "erp-ours")
    try:
        base_server = erp.start(scratch / "erp-baseline")
    except BaseException:
        ours_server.stop()
        raise
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth.models import User
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        settings.ERP_URL = ours_server.url
        settings.ERP_DATABASE = ours_server.database
        settings.ERP_USERNAME = ours_server.user
        os.environ["ERP_PASSWORD"] = ours_server.password

        from apps.accounts.erp import CUSTOMERS as CUSTOMERS_STREAM
        from apps.accounts.models import Company, Membership, Role, ShipToAddress
        from apps.catalog.erp import PRODUCTS, STOCK
        from apps.catalog.models import Product
        from apps.erp import inbound, services
        from apps.erp.connectors import connector_for
        from apps.erp.connectors.tryton.client import TrytonClient
        from apps.erp.models import SyncJob
        from apps.purchase_orders import erp as po_erp
        from apps.purchase_orders import services as po_services
        from apps.purchase_orders.lines import ParsedLine
        from apps.purchase_orders.models import PurchaseOrder
        from apps.purchase_orders.services import purchase_order_submit_and_route

        connection = services.connection_get_default()
        print(
            f"ERPs {ours_server.url} (ours) and {base_server.url} (baseline), fresh from the template; "
            f"portal DB {settings.DATABASES['default']['NAME']}; {n_orders} orders x {LINES_PER_ORDER} "
            f"lines, {rounds} rounds each, push batch {settings.ERP_PUSH_BATCH_SIZE}",
            flush=True,
        )

        # --- Setup: master data through the engine, buyers, the product pool --------------------------
        started = time.perf_counter()
        connector = connector_for(connection)
        for stream in (CUSTOMERS_STREAM, PRODUCTS, STOCK):
            report = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
            if report.error:
                raise SystemExit(f"the {stream} pull failed: {report.error}")
        connector.close()
        companies = sorted(
            Company.objects.filter(erp_party_id__gt="", credit_account__credit_limit__isnull=False)
            .select_related("credit_account")
            .exclude(status=Company.Status.ON_HOLD),
            key=lambda company: (-company.credit_account.credit_limit, company.erp_customer_code),
        )[:CUSTOMERS]
        if len(companies) < CUSTOMERS:
            raise SystemExit(f"only {len(companies)} ERP customers with a credit limit were pulled")
        ship_to: dict[int, ShipToAddress] = {}
        for company in companies:
            address = (
                company.ship_to_addresses.filter(erp_address_id__gt="", is_active=True)
                .order_by("-is_default", "id")
                .first()
            )
            if address is None:
                raise SystemExit(f"{company.erp_customer_code} has no ERP address")
            ship_to[company.pk] = address
        tag = uuid.uuid4().hex[:6].upper()  # fresh usernames and PO numbers even on a reused portal DB
        buyers: dict[int, User] = {}
        for company in companies:
            user = User.objects.create_user(
                username=f"bench-{tag}-{company.erp_customer_code}".lower(),
                email=f"buyer-{tag}-{company.erp_customer_code}@bench.example".lower(),
                password=None,
            )
            Membership.objects.create(user=user, company=company, role=Role.BUYER)
            buyers[company.pk] = user
        pool = list(
            Product.objects.filter(
                is_active=True,
                list_price__gt=0,
                list_price__lte=MAX_LIST_PRICE,
                stock__quantity__gte=MIN_STOCK,
                order_minimum__lte=1,
                order_increment=1,
                order_maximum__isnull=True,
            ).order_by("sku")[:PRODUCT_POOL]
        )
        if len(pool) < LINES_PER_ORDER:
            raise SystemExit(f"only {len(pool)} cheap products in stock; need {LINES_PER_ORDER}")
        # Credit: the most any one customer can have ordered on either ERP by the end of the run.
        per_customer = rounds * -(-n_orders // len(companies))
        worst = LINES_PER_ORDER * 3 * max(product.list_price for product in pool)
        for company in companies:
            if per_customer * worst > company.credit_account.credit_limit / 2:
                raise SystemExit(
                    f"{company.erp_customer_code}: up to {per_customer} orders of {worst} would come near "
                    f"its credit limit {company.credit_account.credit_limit}; use fewer orders or rounds"
                )
        print(
            f"setup {time.perf_counter() - started:.1f} s: customers "
            + ", ".join(f"{c.erp_customer_code} ({c.credit_account.credit_limit:.0f})" for c in companies)
            + f"; {len(pool)} products <= {MAX_LIST_PRICE} with >= {MIN_STOCK} in stock; "
            f"at most {per_customer} orders of <= {worst:.2f} per customer",
            flush=True,
        )

        # Baseline master data, read before any clock starts (the same ids on both ERPs: same template).
        base = TrytonClient(base_server.url, base_server.database, base_server.user, base_server.password)
        base.login()
        party_ids = sorted({int(company.erp_party_id) for company in companies})
        parties = {
            row["id"]: row
            for row in base.model(
                "party.party",
                "read",
                party_ids,
                ["addresses", "customer_payment_term", "sale_price_list"],
            )
        }
        address_rows = base.model(
            "party.address",
            "read",
            [address for party in parties.values() for address in party["addresses"]],
            ["invoice"],
        )
        invoice_flag = {row["id"]: row["invoice"] for row in address_rows}
        invoice_address = {
            party_id: next(
                (address for address in party["addresses"] if invoice_flag.get(address)),
                party["addresses"][0],
            )
            for party_id, party in parties.items()
        }
        sale_unit = {
            row["id"]: row["sale_uom"]
            for row in base.model(
                "product.product", "read", [int(product.erp_id) for product in pool], ["sale_uom"]
            )
        }
        verify = {
            "ours": TrytonClient(
                ours_server.url, ours_server.database, ours_server.user, ours_server.password
            ),
            "baseline": base,
        }

        def erp_sales(side: str, references: list[str]) -> list[dict[str, Any]]:
            return verify[side].model(
                "sale.sale",
                "search_read",
                [["reference", "in", references]],
                0,
                None,
                None,
                ["reference", "party", "state", "lines", "number"],
            )

        # --- Portal orders, built through the real services -------------------------------------------
        def build(round_number: int) -> list[PurchaseOrder]:
            built = []
            for i in range(n_orders):
                company = companies[i % len(companies)]
                buyer = buyers[company.pk]
                order = po_services.purchase_order_draft_get(company=company, buyer=buyer)
                order.customer_po_number = f"BENCH-{tag}-R{round_number}-{i + 1:04d}"
                order.ship_to = ship_to[company.pk]
                order.save(update_fields=["customer_po_number", "ship_to", "updated_at"])
                first = (i * 7) % len(pool)
                lines = [
                    ParsedLine(
                        j + 1,
                        pool[(first + j) % len(pool)].sku,
                        Decimal(1 + (i + j) % 3),
                        "",
                    )
                    for j in range(LINES_PER_ORDER)
                ]
                result = po_services.purchase_order_lines_add(purchase_order=order, lines=lines)
                if result.added != LINES_PER_ORDER:
                    raise SystemExit(f"order {order.customer_po_number}: lines refused: {result.report}")
                order = purchase_order_submit_and_route(purchase_order=order, actor=buyer)
                if order.status != PurchaseOrder.Status.APPROVED:
                    raise SystemExit(f"order {order.customer_po_number} is {order.status}, not approved")
                built.append(order)
            return built

        # --- ours: the outbox dispatcher ----------------------------------------------------------------
        ours_phases = Phases()

        def ours(orders: list[PurchaseOrder]) -> float:
            due = SyncJob.objects.filter(kind=po_erp.ORDER_PUSH, status=SyncJob.Status.PENDING)
            if due.count() != len(orders):
                raise SystemExit(f"{due.count()} order.push jobs pending, expected {len(orders)}")
            phases = Phases()
            active = connector_for(connection)
            active.client.login()
            # Measurement only: wrap the connector's RPCs and the dispatcher's steps, in this process.
            active.client.model = phases.wrap_rpc("rpc ", active.client.model)  # type: ignore[method-assign]
            active.push_orders = phases.wrap("connector.push_orders", active.push_orders)  # type: ignore[method-assign]
            patched = [
                (services, "jobs_claim_due", phases.wrap("portal jobs_claim_due", services.jobs_claim_due)),
                (po_erp, "job_succeed", phases.wrap("portal job_succeed", po_erp.job_succeed)),
                (po_erp, "order_push_for", phases.wrap("portal order_push_for", po_erp.order_push_for)),
            ]
            originals = [(module, name, getattr(module, name)) for module, name, _ in patched]
            for module, name, wrapper in patched:
                setattr(module, name, wrapper)
            try:
                started = time.perf_counter()
                report = services.dispatch(connection=connection, connector=active)
                elapsed = time.perf_counter() - started
            finally:
                for module, name, original in originals:
                    setattr(module, name, original)
                active.close()
            phases.add("dispatch", elapsed)
            ours_phases.merge(phases)
            if report.succeeded != len(orders) or report.failed or report.dead or report.retrying:
                raise SystemExit(f"dispatch did not push every order: {report}")
            statuses = Counter(
                PurchaseOrder.objects.filter(pk__in=[order.pk for order in orders]).values_list(
                    "status", flat=True
                )
            )
            if statuses != Counter({PurchaseOrder.Status.ACCEPTED: len(orders)}):
                raise SystemExit(f"portal orders did not all end accepted: {dict(statuses)}")
            references = [order.customer_po_number for order in orders]
            sales = erp_sales("ours", references)
            parties_of = {order.customer_po_number: int(order.company.erp_party_id) for order in orders}
            if (
                sorted(sale["reference"] for sale in sales) != sorted(references)
                or any(sale["state"] not in ACCEPTED_STATES for sale in sales)
                or any(len(sale["lines"]) != LINES_PER_ORDER for sale in sales)
                or any(sale["party"] != parties_of[sale["reference"]] for sale in sales)
            ):
                raise SystemExit(f"the ERP does not hold exactly the {len(orders)} confirmed sales")
            print(f"  ours: {_phase_line(phases, elapsed)}", flush=True)
            print(
                "  ours' confirm calls (sales: seconds): "
                + ", ".join(f"{size}: {seconds:.2f}" for size, seconds in phases.confirms),
                flush=True,
            )
            return elapsed

        # --- baseline: create all, quote all, confirm all -----------------------------------------------
        base_phases = Phases()

        def baseline(orders: list[PurchaseOrder], round_number: int) -> float:
            today = datetime.now(tz=UTC).date()  # as the connector does: the ERP has no time zone
            values = []
            references = []
            for i, order in enumerate(orders):
                party = int(order.company.erp_party_id)
                reference = f"BASE-{tag}-R{round_number}-{i + 1:04d}"
                references.append(reference)
                values.append(
                    {
                        "party": party,
                        "invoice_address": invoice_address[party],
                        "shipment_address": int(order.ship_to.erp_address_id),
                        "payment_term": parties[party]["customer_payment_term"],
                        "price_list": parties[party]["sale_price_list"],
                        "reference": reference,
                        "sale_date": today,
                        "lines": [
                            [
                                "create",
                                [
                                    {
                                        "type": "line",
                                        "product": int(line.product.erp_id),
                                        "quantity": float(line.quantity),
                                        "unit": sale_unit[int(line.product.erp_id)],
                                        "unit_price": line.unit_price,
                                    }
                                    for line in order.lines.select_related("product")
                                ],
                            ]
                        ],
                    }
                )
            phases = Phases()
            call = phases.wrap_rpc("rpc ", base.model)
            started = time.perf_counter()
            sale_ids = call("sale.sale", "create", values)
            call("sale.sale", "quote", sale_ids)
            call("sale.sale", "confirm", sale_ids)
            elapsed = time.perf_counter() - started
            phases.add("dispatch", elapsed)
            base_phases.merge(phases)
            sales = erp_sales("baseline", references)
            if (
                sorted(sale["reference"] for sale in sales) != sorted(references)
                or any(sale["state"] not in ACCEPTED_STATES for sale in sales)
                or any(len(sale["lines"]) != LINES_PER_ORDER for sale in sales)
            ):
                raise SystemExit(f"the baseline ERP does not hold exactly the {len(orders)} confirmed sales")
            print(f"  baseline: {_phase_line(phases, elapsed)}", flush=True)
            return elapsed

        ours_rates, base_rates = [], []
        for round_number in range(1, rounds + 1):
            started = time.perf_counter()
            orders = build(round_number)
            print(
                f"round {round_number}: {len(orders)} orders built and approved in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            if round_number % 2:
                secs_b = baseline(orders, round_number)
                secs_o = ours(orders)
            else:
                secs_o = ours(orders)
                secs_b = baseline(orders, round_number)
            ours_rates.append(len(orders) / secs_o)
            base_rates.append(len(orders) / secs_b)
            print(
                f"round {round_number}: ours {secs_o:.2f} s ({len(orders) / secs_o:.1f}/s), "
                f"baseline {secs_b:.2f} s ({len(orders) / secs_b:.1f}/s)",
                flush=True,
            )
        for name, phases in (("ours", ours_phases), ("baseline", base_phases)):
            print(f"{name}, all rounds: {_phase_line(phases, phases.seconds['dispatch'])}", flush=True)
        for client in verify.values():
            client.close()
        ours_rate = statistics.median(ours_rates)
        base_rate = statistics.median(base_rates)
        print(
            json.dumps(
                {
                    "metric": "erp_push_pos_per_s",
                    "ours": round(ours_rate, 2),
                    "baseline": round(base_rate, 2),
                    "ratio": round(ours_rate / base_rate, 3),
                }
            )
        )
    finally:
        base_server.stop()
        ours_server.stop()
    return 0


def _phase_line(phases: Phases, elapsed: float) -> str:
    """``total``, then each phase: seconds, share of the total, calls (RPCs first, by time)."""
    parts = [f"{elapsed:.2f} s"]
    labels = sorted(
        (label for label in phases.seconds if label != "dispatch"),
        key=lambda label: (not label.startswith("rpc "), -phases.seconds[label]),
    )
    for label in labels:
        seconds = phases.seconds[label]
        parts.append(f"{label} {seconds:.2f} s {seconds / elapsed:.0%} x{phases.calls[label]}")
    rpc = phases.total("rpc ")
    if "connector.push_orders" in phases.seconds:
        connector = phases.seconds["connector.push_orders"]
        portal = elapsed - connector
        parts.append(f"= ERP RPCs {rpc:.2f} s {rpc / elapsed:.0%}")
        parts.append(f"connector Python {connector - rpc:.2f} s {(connector - rpc) / elapsed:.0%}")
        parts.append(f"portal (DB, outside the connector) {portal:.2f} s {portal / elapsed:.0%}")
    return "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
