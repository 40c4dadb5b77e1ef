"""Benchmark: reconcile products and orders (``reconcile_run``) vs a bare paged read of the same ERP rows.

Run by hand (not part of the test suite):

    .venv/bin/python bench/reconcile.py            # 100,000 products, 20,000 orders
    .venv/bin/python bench/reconcile.py --quick    # 10,000 products, 2,000 orders, under two minutes

It starts a fresh local Tryton from the seeded template (tools/tryton, 1,200 products, no sales) and a
scratch PostgreSQL portal database (bench/scratch.py). Seeding (timed, not part of the metric): a few
confirmed sales through JSON-RPC (references PO-BENCH-000001…), then, with the server stopped, rows
cloned in the ERP's SQLite file by ``INSERT … SELECT`` with new ids (every column kept): product,
template, list price and category rows up to N products, sale and sale line rows up to M sales (same
parties, states and lines, references PO-BENCH-n). The portal gets the customers through their pull, the
products through the products applier (the connector's reconcile read, page by page), and M accepted
purchase orders bulk-created with the sales' references, numbers and lines.

Memory: the products are grown in three steps (10k, 50k, 100k; quick: 2k, 5k, 10k) and at each a
``reconcile_run`` of products runs in a fresh subprocess: its peak RSS (VmHWM) minus its RSS before the
run. It must stay flat (the engine keeps its seen-set in the database as ReconcileMark rows).

Then drifts are planted (products: 3 prices changed in the portal, 2 deleted in the ERP, 2 deleted in the
portal; orders: 2 line quantities changed in the portal, 1 accepted order the ERP never got, 1 ERP sale
duplicated) and, timed side by side:
- ours: ``reconcile_run(entity="products")`` then ``reconcile_run(entity="orders")``, full runs; the
  drifts found are checked against the planted ones, kind by kind;
- baseline: the same ``search_read`` pages (same domain, ids, fields, page size), nothing done with them.
The last line is one JSON object: {"metric": "reconcile_rows_per_s", "ours", "baseline", "ratio",
"products", "orders", "seconds", "memory_mb"}.
"""

# ruff: noqa: S608 - the SQL built here holds only this file's table and column names and integers

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import log, run_in_scratch_database  # noqa: E402 - after the path

PAGE_SIZE = 500
TEMPLATE_PRODUCTS = 1200
SEED_SALES = 5  # sales made through JSON-RPC, one per customer; the rest are their clones
LINES_PER_SALE = 4
PRODUCTS_EXPECTED = {"field_differs": 3, "deleted_in_erp": 2, "missing_in_portal": 2}
ORDERS_EXPECTED = {"field_differs": 2, "deleted_in_erp": 1, "duplicated": 1}


# --- The ERP's SQLite file ------------------------------------------------------------------------------


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]


def _clone(db: sqlite3.Connection, table: str, count: int, source_on: str, overrides: dict[str, str]) -> None:
    """Insert ``count`` rows into ``table``, row ``i`` (1…count) a copy of the source row joined by
    ``source_on`` (SQL on ``i`` and ``src``) with ``overrides`` (column: SQL expression) replaced."""
    columns = _columns(db, table)
    values = ", ".join(overrides.get(column, f'src."{column}"') for column in columns)
    names = ", ".join(f'"{column}"' for column in columns)
    insert = f'INSERT INTO "{table}" ({names}) SELECT {values} FROM seq JOIN "{table}" src ON {source_on}'
    db.execute(_numbers(count) + insert)


def _numbers(count: int) -> str:
    """A CTE ``seq(i)``: 1…count."""
    return f"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {count}) "


def _max_id(db: sqlite3.Connection, table: str) -> int:
    query = f'SELECT COALESCE(MAX(id), 0) FROM "{table}"'
    return int(db.execute(query).fetchone()[0])


def erp_products_grow(path: Path, total: int) -> int:
    """Clone template products (1…1200, cyclically) until the ERP holds ``total``; returns how many."""
    with sqlite3.connect(path) as db:
        have = int(db.execute("SELECT COUNT(*) FROM product_product").fetchone()[0])
        count = total - have
        if count <= 0:
            return 0
        base_p, base_t = _max_id(db, "product_product"), _max_id(db, "product_template")
        base_lp, base_c = _max_id(db, "product_list_price"), _max_id(db, "product_template-product_category")
        source = f"((i - 1) % {TEMPLATE_PRODUCTS}) + 1"
        _clone(db, "product_template", count, f"src.id = {source}", {"id": f"{base_t} + i"})
        sku = f"'BSKU-' || printf('%07d', {base_p} + i)"
        _clone(
            db,
            "product_product",
            count,
            f"src.id = {source}",
            {"id": f"{base_p} + i", "template": f"{base_t} + i", "code": sku, "suffix_code": sku},
        )
        _clone(
            db,
            "product_list_price",
            count,
            f"src.template = {source} AND src.product IS NULL",
            {"id": f"{base_lp} + i", "template": f"{base_t} + i"},
        )
        _clone(
            db,
            "product_template-product_category",
            count,
            f"src.template = {source}",
            {"id": f"{base_c} + i", "template": f"{base_t} + i"},
        )
        return count


def erp_sales_clone(path: Path, seed_ids: list[int], total: int) -> None:
    """Clone the seed sales (cyclically) and their lines until the ERP holds ``total`` benchmark sales,
    sale ``n`` with reference PO-BENCH-<n> and number BENCH-<n>."""
    count = total - len(seed_ids)
    first = seed_ids[0]
    if seed_ids != list(range(first, first + len(seed_ids))):
        raise SystemExit(f"the seed sales' ids are not consecutive: {seed_ids}")
    with sqlite3.connect(path) as db:
        base = _max_id(db, "sale_sale")
        source = f"{first} + ((i - 1) % {len(seed_ids)})"
        n = f"({len(seed_ids)} + i)"
        _clone(
            db,
            "sale_sale",
            count,
            f"src.id = {source}",
            {
                "id": f"{base} + i",
                "reference": f"'PO-BENCH-' || printf('%06d', {n})",
                "number": f"'BENCH-' || printf('%06d', {n})",
            },
        )
        columns = [column for column in _columns(db, "sale_line") if column != "id"]
        names = ", ".join(f'"{column}"' for column in columns)
        values = ", ".join(f"{base} + i" if column == "sale" else f'l."{column}"' for column in columns)
        insert = (
            f"INSERT INTO sale_line ({names}) SELECT {values} FROM seq JOIN sale_line l ON l.sale = {source} "
        )
        db.execute(_numbers(count) + insert + "ORDER BY i, l.id")


def erp_plant(path: Path, deleted_products: list[int], duplicated_sale: int) -> None:
    """Behind the portal's back: two products deleted, one sale entered twice (same reference, number,
    party and lines)."""
    with sqlite3.connect(path) as db:
        ids = ", ".join(str(int(erp_id)) for erp_id in deleted_products)
        db.execute(f"DELETE FROM product_product WHERE id IN ({ids})")
        base = _max_id(db, "sale_sale")
        _clone(db, "sale_sale", 1, f"src.id = {duplicated_sale}", {"id": f"{base} + i"})
        columns = [column for column in _columns(db, "sale_line") if column != "id"]
        names = ", ".join(f'"{column}"' for column in columns)
        values = ", ".join(str(base + 1) if column == "sale" else f'"{column}"' for column in columns)
        query = (
            f"INSERT INTO sale_line ({names}) SELECT {values} FROM sale_line WHERE sale = {duplicated_sale}"
        )
        db.execute(query)


# --- Memory probe (a subprocess on the same databases) ----------------------------------------------------


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_probe() -> int:
    """One products run in this fresh process; prints {"rows", "seconds", "rss_growth_mb"}."""
    import django

    django.setup()
    from django.conf import settings

    settings.ERP_URL = os.environ["ERP_URL"]
    settings.ERP_DATABASE = os.environ["ERP_DATABASE"]
    settings.ERP_USERNAME = os.environ["ERP_USERNAME"]
    from apps.erp import services
    from apps.erp.connectors import connector_for
    from apps.erp.models import ReconcileRun
    from apps.erp.reconcile import reconcile_run

    connection = services.connection_get_default()
    connector = connector_for(connection)
    connector.client.login()  # type: ignore[attr-defined]
    ReconcileRun.objects.count()  # the database connection opened before the measure
    before = _proc_status_kb("VmRSS")
    started = time.perf_counter()
    run = reconcile_run(entity="products", connection=connection, connector=connector, page_size=PAGE_SIZE)
    seconds = time.perf_counter() - started
    peak = _proc_status_kb("VmHWM")
    connector.close()
    if run.status != ReconcileRun.Status.DONE:
        raise SystemExit(f"the products run did not finish: {run.status} {run.last_error}")
    print(json.dumps({"rows": run.erp_rows, "seconds": seconds, "rss_growth_mb": (peak - before) / 1024}))
    return 0


# --- The benchmark ---------------------------------------------------------------------------------------


def run(n_products: int, n_orders: int, steps: list[int], rounds: int, profile: bool) -> dict[str, Any]:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connections, transaction

    from apps.accounts.erp import CUSTOMERS
    from apps.accounts.models import Company
    from apps.catalog.erp import products_apply
    from apps.catalog.models import Product
    from apps.erp import inbound, services
    from apps.erp.connectors import connector_for
    from apps.erp.connectors.base import ProductRecord
    from apps.erp.connectors.tryton.client import TrytonClient
    from apps.erp.connectors.tryton.orders import ORDER_FIELDS, WITH_REFERENCE
    from apps.erp.connectors.tryton.products import PRODUCT_FIELDS
    from apps.erp.models import Drift, ReconcileRun
    from apps.erp.reconcile import reconcile_run
    from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
    from tools.tryton import erp

    scratch = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    erp.ensure_venv()
    erp.ensure_template()
    server = erp.start(scratch / "erp")
    db_path = server.workdir / "db" / f"{server.database}.sqlite"
    try:
        settings.ERP_URL = server.url
        settings.ERP_DATABASE = server.database
        settings.ERP_USERNAME = server.user
        os.environ["ERP_PASSWORD"] = server.password
        connection = services.connection_get_default()
        log(f"ERP {server.url} ({db_path}), {n_products} products, {n_orders} orders, steps {steps}")

        # --- Seed sales through JSON-RPC --------------------------------------------------------------
        started = time.perf_counter()
        connector = connector_for(connection)
        report = inbound.pull_stream(connection=connection, stream=CUSTOMERS, connector=connector)
        connector.close()
        if report.error:
            raise SystemExit(f"the customers pull failed: {report.error}")
        companies = sorted(
            Company.objects.filter(erp_party_id__gt="", credit_account__credit_limit__isnull=False)
            .select_related("credit_account")
            .exclude(status=Company.Status.ON_HOLD),
            key=lambda company: (-company.credit_account.credit_limit, company.erp_customer_code),
        )[:SEED_SALES]
        if len(companies) < SEED_SALES:
            raise SystemExit(f"only {len(companies)} customers with a credit limit")
        client = TrytonClient(server.url, server.database, server.user, server.password)
        client.login()
        party_ids = [int(company.erp_party_id) for company in companies]
        parties = {
            row["id"]: row
            for row in client.read(
                "party.party", party_ids, ["addresses", "customer_payment_term", "sale_price_list"]
            )
        }
        goods = client.search_read(
            "product.product",
            [["template.salable", "=", True], ["id", "<=", TEMPLATE_PRODUCTS]],
            ["sale_uom"],
            limit=LINES_PER_SALE * SEED_SALES,
            order=[["id", "ASC"]],
        )
        values = []
        for k, party in enumerate(party_ids):
            address = parties[party]["addresses"][0]
            values.append(
                {
                    "party": party,
                    "invoice_address": address,
                    "shipment_address": address,
                    "payment_term": parties[party]["customer_payment_term"],
                    "price_list": parties[party]["sale_price_list"],
                    "reference": f"PO-BENCH-{k + 1:06d}",
                    "lines": [
                        [
                            "create",
                            [
                                {
                                    "type": "line",
                                    "product": row["id"],
                                    "quantity": float(1 + j),
                                    "unit": row["sale_uom"],
                                    "unit_price": Decimal("1.25") + j,
                                }
                                for j, row in enumerate(goods[k * LINES_PER_SALE : (k + 1) * LINES_PER_SALE])
                            ],
                        ]
                    ],
                }
            )
        seed_ids = sorted(client.model("sale.sale", "create", values))
        client.model("sale.sale", "quote", seed_ids)
        client.model("sale.sale", "confirm", seed_ids)
        seeds = client.read("sale.sale", seed_ids, ["state", "shipment_state", "invoice_state"])
        client.close()
        states = [(seed["state"], seed["shipment_state"], seed["invoice_state"]) for seed in seeds]
        log(f"seed sales {seed_ids} {states} in {time.perf_counter() - started:.1f} s")

        # --- Grow the ERP and the portal, measuring memory at each step ------------------------------
        portal_after = ""  # the position after the last ERP product the portal has

        def portal_products_fill() -> int:
            nonlocal portal_after
            started = time.perf_counter()
            filled = 0
            active = connector_for(connection)
            while True:
                page = active.reconcile_products(portal_after, PAGE_SIZE)
                with transaction.atomic():
                    products_apply([r.record for r in page.records if isinstance(r.record, ProductRecord)])
                filled += len(page.records)
                portal_after = page.next or portal_after
                if not page.has_more:
                    break
            active.close()
            log(f"  portal: {filled} products applied in {time.perf_counter() - started:.1f} s")
            return filled

        memory: dict[str, float] = {}
        probe_env = {
            **os.environ,
            "ERP_URL": server.url,
            "ERP_DATABASE": server.database,
            "ERP_USERNAME": server.user,
            "ERP_PASSWORD": server.password,
        }
        for index, step in enumerate(steps):
            started = time.perf_counter()
            server.stop()
            grown = erp_products_grow(db_path, step)
            if index == 0:
                erp_sales_clone(db_path, seed_ids, n_orders)
            server.restart()
            log(
                f"step {step}: ERP +{grown} products"
                + (f", +{n_orders - len(seed_ids)} sales" if index == 0 else "")
                + f" in SQLite, server restarted, {time.perf_counter() - started:.1f} s (seeding, not timed)"
            )
            portal_products_fill()
            connections.close_all()
            probe = subprocess.run(  # noqa: S603 - this script, by its own path
                [sys.executable, __file__, "--memory-probe"],
                env=probe_env,
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode != 0:
                raise SystemExit(f"memory probe failed:\n{probe.stdout}\n{probe.stderr}")
            figures = json.loads(probe.stdout.strip().splitlines()[-1])
            if figures["rows"] != step:
                raise SystemExit(f"the probe compared {figures['rows']} products, not {step}")
            memory[str(step)] = round(figures["rss_growth_mb"], 1)
            log(
                f"  memory probe: {figures['rows']} products reconciled in {figures['seconds']:.1f} s, "
                f"peak RSS growth {figures['rss_growth_mb']:.1f} MB"
            )
        if Drift.objects.filter(status__in=[Drift.Status.OPEN, Drift.Status.FIXING]).exists():
            raise SystemExit("the probes found drift where there should be none")

        # --- The portal's orders: one accepted order per benchmark sale -------------------------------
        started = time.perf_counter()
        buyer = User.objects.create_user(username="bench-reconcile", password=None)
        by_party = {company.erp_party_id: company for company in Company.objects.exclude(erp_party_id="")}
        client = TrytonClient(server.url, server.database, server.user, server.password)
        client.login()
        sales: list[dict[str, Any]] = []
        while True:  # in pages: 20,000 sales with their lines in one call outlast the client's timeout
            page = client.search_read(
                "sale.sale",
                [["id", ">", sales[-1]["id"] if sales else 0], *WITH_REFERENCE],
                ["reference", "number", "party", "lines.product", "lines.quantity", "lines.unit_price"],
                limit=2000,
                order=[["id", "ASC"]],
            )
            sales.extend(page)
            if len(page) < 2000:
                break
        client.close()
        products = dict(Product.objects.values_list("erp_id", "pk"))
        orders = PurchaseOrder.objects.bulk_create(
            [
                PurchaseOrder(
                    company=by_party[str(sale["party"])],
                    buyer=buyer,
                    customer_po_number=sale["reference"],
                    status=PurchaseOrder.Status.ACCEPTED,
                    erp_reference=sale["number"],
                )
                for sale in sales
            ],
            batch_size=2000,
        )
        PurchaseOrderLine.objects.bulk_create(
            [
                PurchaseOrderLine(
                    purchase_order=order,
                    product_id=products[str(line["product"])],
                    quantity=Decimal(str(line["quantity"])),
                    unit_price=line["unit_price"],
                )
                for order, sale in zip(orders, sales, strict=True)
                for line in sale["lines."]
            ],
            batch_size=5000,
        )
        log(f"portal: {len(orders)} accepted orders bulk-created in {time.perf_counter() - started:.1f} s")
        if len(orders) != n_orders:
            raise SystemExit(f"the ERP holds {len(orders)} benchmark sales, not {n_orders}")

        # --- Plant the drifts ------------------------------------------------------------------------
        started = time.perf_counter()
        clones = list(
            Product.objects.filter(sku__startswith="BSKU-")
            .order_by("erp_id")
            .values_list("erp_id", flat=True)
        )
        server.stop()
        erp_plant(db_path, [int(erp_id) for erp_id in clones[10:12]], duplicated_sale=seed_ids[-1] + 2)
        server.restart()
        Product.objects.filter(erp_id__in=clones[20:22]).delete()
        for product in Product.objects.filter(erp_id__in=clones[30:33]):
            product.list_price += Decimal("1")
            product.save(update_fields=["list_price"])
        for order in orders[100:102]:
            line = order.lines.first()
            assert line is not None  # noqa: S101 - every order has lines
            line.quantity += 1
            line.save(update_fields=["quantity"])
        PurchaseOrder.objects.create(
            company=orders[0].company,
            buyer=buyer,
            customer_po_number="PO-BENCH-GONE",
            status=PurchaseOrder.Status.ACCEPTED,
            erp_reference="BENCH-GONE",
        )
        log(f"drifts planted in {time.perf_counter() - started:.1f} s")

        # --- Timed: ours and the bare read, side by side ---------------------------------------------
        def baseline() -> tuple[int, float]:
            bare = TrytonClient(server.url, server.database, server.user, server.password)
            bare.login()
            started = time.perf_counter()
            rows = 0
            for model, domain, fields, context in (
                ("product.product", [], PRODUCT_FIELDS, {"active_test": False}),
                (
                    "sale.sale",
                    WITH_REFERENCE,
                    [*ORDER_FIELDS, "untaxed_amount", "lines.product", "lines.quantity", "lines.unit_price"],
                    None,
                ),
            ):
                after = 0
                while True:
                    page = bare.search_read(
                        model,
                        [["id", ">", after], *domain],
                        fields,
                        limit=PAGE_SIZE,
                        order=[["id", "ASC"]],
                        context=context,
                    )
                    rows += len(page)
                    if len(page) < PAGE_SIZE:
                        break
                    after = page[-1]["id"]
            elapsed = time.perf_counter() - started
            bare.close()
            return rows, elapsed

        def ours() -> tuple[int, float, dict[str, Counter[str]]]:
            active = connector_for(connection)
            active.client.login()  # type: ignore[attr-defined]
            profiler = cProfile.Profile() if profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            runs = [
                reconcile_run(entity=entity, connection=connection, connector=active, page_size=PAGE_SIZE)
                for entity in ("products", "orders")
            ]
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
            active.close()
            for done in runs:
                if done.status != ReconcileRun.Status.DONE:
                    raise SystemExit(f"the {done.entity} run did not finish: {done.last_error}")
            if profiler:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
                log(out.getvalue())
            found = {
                entity: Counter(
                    Drift.objects.filter(
                        entity=entity, status__in=[Drift.Status.OPEN, Drift.Status.FIXING]
                    ).values_list("kind", flat=True)
                )
                for entity in ("products", "orders")
            }
            return sum(done.erp_rows for done in runs), elapsed, found

        results = []
        for round_number in range(1, rounds + 1):
            rows_b, secs_b = baseline()
            rows_o, secs_o, found = ours()
            if rows_o != rows_b:
                raise SystemExit(f"ours compared {rows_o} ERP rows, the bare read read {rows_b}")
            for entity, expected in (("products", PRODUCTS_EXPECTED), ("orders", ORDERS_EXPECTED)):
                if dict(found[entity]) != expected:
                    raise SystemExit(f"{entity}: found {dict(found[entity])}, planted {expected}")
            log(
                f"round {round_number}: {rows_o} ERP rows; ours {secs_o:.1f} s ({rows_o / secs_o:.0f}/s), "
                f"baseline {secs_b:.1f} s ({rows_b / secs_b:.0f}/s); drifts found as planted: "
                f"products {dict(found['products'])}, orders {dict(found['orders'])}"
            )
            results.append((rows_o, secs_o, secs_b))
        rows, secs_o, secs_b = min(results, key=lambda result: result[1])
        return {
            "metric": "reconcile_rows_per_s",
            "ours": round(rows / secs_o, 1),
            "baseline": round(rows / secs_b, 1),
            "ratio": round(secs_b / secs_o, 3),
            "products": n_products,
            "orders": n_orders,
            "seconds": round(secs_o, 2),
            "memory_mb": memory,
        }
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k products, 2k orders, memory at 2k/5k/10k")
    parser.add_argument("--products", type=int, default=None)
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile around our runs")
    parser.add_argument("--database", default="bench_reconcile")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        return memory_probe()
    n_products = args.products or (10_000 if args.quick else 100_000)
    n_orders = args.orders or (2_000 if args.quick else 20_000)
    steps = sorted(
        {n_products // 5, n_products // 2, n_products}
        if args.quick
        else {
            n_products // 10,
            n_products // 2,
            n_products,
        }
    )
    return run_in_scratch_database(
        args.database,
        keep=args.keep,
        run=lambda: run(n_products, n_orders, steps, args.rounds, args.profile),
    )


if __name__ == "__main__":
    sys.exit(main())
