"""Benchmark: the buyer catalog page (prices resolved per company) vs the plain staff product list.

Run by hand (not part of the test suite):

    .venv/bin/python bench/catalog.py            # 200 requests of each page, a few minutes
    .venv/bin/python bench/catalog.py --quick    # 60 requests of each page, under a minute
    .venv/bin/python bench/catalog.py --keep     # keep the scratch database afterwards

It creates a fresh PostgreSQL database (``bench_catalog`` on 127.0.0.1:5432 as postgres, or
BENCH_PG_URL / --database), migrates it with the test settings and fills it with COPY:
100,000 SKUs in 20 categories (stock for most), 500 companies, 5 tiers with tier prices for a good
share of SKUs (quantity breaks, expired and future-dated rows) and 20,000 contract prices. Every
company gets a tier; one company gets a buyer, with contract prices on every page requested below.

Then, after warm-up, it alternates requests through Django's test Client, same page number each:
- ours: ``/catalog/?page=K`` as the buyer (50 products, each price resolved for the buyer's company);
- baseline: ``/manager/products/?page=K`` as an account manager (the same 50 products, no pricing).
Both order by SKU; the SKUs of both pages are checked to match. It counts the SQL queries of one
catalog page and EXPLAINs the pricing queries. The last line is one JSON object:
{"metric": "catalog_page_ms_p95", "ours", "baseline", "ratio", "queries"}.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import log, run_in_scratch_database  # noqa: E402 - after the path

N_PRODUCTS = 100_000
N_CATEGORIES = 20
N_COMPANIES = 500
TIERS = [("List", "0"), ("Bronze", "5"), ("Silver", "10"), ("Gold", "15"), ("Platinum", "20")]
N_CONTRACT_PRICES = 20_000
PAGE_SIZE = 50  # both views
N_PAGES_USED = 40  # distinct page numbers the requests cycle through
BUYER_CONTRACT_SKUS_PER_PAGE = 8
WARMUP_ROUNDS = 5
SEED = 20_240_601

BUYER_SKU_RE = re.compile(r'<tr data-sku="([^"]+)"')
LIST_SKU_RE = re.compile(r'<td><a href="/manager/products/\d+/">([^<]+)</a></td>')


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def percentile(values: Sequence[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


# --- Scratch database ------------------------------------------------------------------------------------


# --- Building the data set -------------------------------------------------------------------------------


def copy_rows(model: Any, fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY rows into a model's table. Columns not in ``fields`` get their Python default once (and
    ``now`` for auto_now/auto_now_add), so every NOT NULL column is filled as Django would fill it."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    meta = model._meta
    given = [meta.get_field(name) for name in fields]
    extra: list[tuple[str, Any]] = []
    for field in meta.concrete_fields:
        if field.primary_key or field in given:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            extra.append((field.column, now))
        else:
            extra.append((field.column, field.get_default()))
    columns = [field.column for field in given] + [column for column, _ in extra]
    tail = tuple(value for _, value in extra)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(meta.db_table), sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    )
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row((*row, *tail))
            count += 1
    return count


class Build:
    """The data set, built in steps with timings; keeps what the benchmark needs afterwards."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today
        self.timings: list[tuple[str, float]] = []
        self.product_ids: list[int] = []  # in SKU order
        self.list_cents: list[int] = []
        self.companies: list[Any] = []
        self.tiers: list[Any] = []
        self.counts: dict[str, int] = {}

    def step(self, label: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        self.timings.append((label, elapsed))
        log(f"  built {label} in {elapsed:.1f} s")

    def products(self) -> None:
        from apps.catalog.models import Category, Product, StockLevel

        started = time.perf_counter()
        categories = Category.objects.bulk_create(
            Category(erp_id=f"CAT-{n:02d}", name=f"Category {n:02d}") for n in range(1, N_CATEGORIES + 1)
        )
        category_ids = [category.pk for category in categories]
        rng = self.rng
        self.list_cents = [rng.randint(150, 250_000) for _ in range(N_PRODUCTS)]
        units = ["each", "box", "kg", "m", "pack"]
        self.counts["products"] = copy_rows(
            Product,
            ["erp_id", "sku", "name", "category", "unit", "list_price", "is_active"],
            (
                (
                    f"P{n:06d}",
                    f"SKU-{n:06d}",
                    f"Bench product {n} {units[n % 5]}",
                    category_ids[rng.randrange(N_CATEGORIES)],
                    units[n % 5],
                    money(self.list_cents[n]),
                    True,
                )
                for n in range(N_PRODUCTS)
            ),
        )
        by_sku = dict(Product.objects.values_list("sku", "pk"))
        self.product_ids = [by_sku[f"SKU-{n:06d}"] for n in range(N_PRODUCTS)]
        self.step(f"{N_CATEGORIES} categories, {self.counts['products']:,} products", started)

        started = time.perf_counter()
        as_of = f"{self.today.isoformat()}T06:00:00+00:00"
        self.counts["stock"] = copy_rows(
            StockLevel,
            ["product", "quantity", "as_of"],
            (
                (product_id, f"{rng.randint(0, 5000)}.0000", as_of)
                for product_id in self.product_ids
                if rng.random() < 0.9
            ),
        )
        self.step(f"{self.counts['stock']:,} stock levels", started)

    def companies_and_tiers(self) -> None:
        from apps.accounts.models import Company
        from apps.pricing.models import CompanyPricing, PriceTier

        started = time.perf_counter()
        self.tiers = PriceTier.objects.bulk_create(
            PriceTier(name=name, default_discount_percent=Decimal(discount)) for name, discount in TIERS
        )
        self.companies = Company.objects.bulk_create(
            Company(name=f"Bench Company {n:03d}", erp_customer_code=f"BENCH-{n:04d}")
            for n in range(N_COMPANIES)
        )
        CompanyPricing.objects.bulk_create(
            CompanyPricing(company=company, tier=self.tiers[n % len(self.tiers)])
            for n, company in enumerate(self.companies)
        )
        self.step(f"{len(self.tiers)} tiers, {len(self.companies)} companies with a tier", started)

    def _window(self, kind: str) -> tuple[str, str | None]:
        rng, today = self.rng, self.today
        if kind == "past":  # expired: ended before today
            end = today - timedelta(days=rng.randint(1, 300))
            return (end - timedelta(days=rng.randint(30, 600))).isoformat(), end.isoformat()
        if kind == "future":  # not yet valid
            return (today + timedelta(days=rng.randint(1, 120))).isoformat(), None
        start = (today - timedelta(days=rng.randint(0, 700))).isoformat()
        if rng.random() < 0.1:
            return start, (today + timedelta(days=rng.randint(0, 365))).isoformat()
        return start, None

    def tier_prices(self) -> None:
        from apps.pricing.models import TierPrice

        started = time.perf_counter()
        rng = self.rng

        def rows() -> Iterable[tuple[Any, ...]]:
            for tier in self.tiers:
                discount = int(tier.default_discount_percent)
                for n, product_id in enumerate(self.product_ids):
                    if rng.random() >= 0.4:
                        continue
                    base = self.list_cents[n] * (100 - discount - rng.randint(1, 8)) // 100
                    start, end = self._window("current")
                    if rng.random() < 0.8:
                        yield (tier.pk, product_id, "1", money(base), start, end)
                    if rng.random() < 0.35:  # quantity breaks
                        yield (tier.pk, product_id, "10", money(base * 95 // 100), start, end)
                        yield (tier.pk, product_id, "50", money(base * 90 // 100), start, end)
                    if rng.random() < 0.1:
                        yield (tier.pk, product_id, "1", money(base * 85 // 100), *self._window("past"))
                    if rng.random() < 0.05:
                        yield (tier.pk, product_id, "1", money(base * 97 // 100), *self._window("future"))

        self.counts["tier_prices"] = copy_rows(
            TierPrice, ["tier", "product", "min_quantity", "unit_price", "valid_from", "valid_to"], rows()
        )
        self.step(f"{self.counts['tier_prices']:,} tier prices", started)

    def contract_prices(self, buyer_company: Any, pages: Sequence[int]) -> None:
        """20,000 contract rows: the buyer's on every requested page (and elsewhere), the rest spread."""
        from apps.pricing.models import ContractPrice

        started = time.perf_counter()
        rng = self.rng
        pairs: list[tuple[int, int]] = []  # (company index, product index)
        seen: set[tuple[int, int]] = set()
        buyer_index = self.companies.index(buyer_company)
        for page in pages:
            first = (page - 1) * PAGE_SIZE
            on_page = range(first, min(first + PAGE_SIZE, N_PRODUCTS))
            for n in rng.sample(on_page, min(BUYER_CONTRACT_SKUS_PER_PAGE, len(on_page))):
                pairs.append((buyer_index, n))
                seen.add((buyer_index, n))
        while len(pairs) < 600:
            pair = (buyer_index, rng.randrange(N_PRODUCTS))
            if pair not in seen:
                pairs.append(pair)
                seen.add(pair)

        def rows() -> Iterable[tuple[Any, ...]]:
            emitted = 0
            index = 0
            while emitted < N_CONTRACT_PRICES:
                if index < len(pairs):
                    company_index, n = pairs[index]
                    index += 1
                else:
                    company_index, n = rng.randrange(N_COMPANIES), rng.randrange(N_PRODUCTS)
                    if (company_index, n) in seen:
                        continue
                    seen.add((company_index, n))
                company_id = self.companies[company_index].pk
                product_id = self.product_ids[n]
                base = self.list_cents[n] * rng.randint(60, 85) // 100
                choice = rng.random()
                batch = []
                if choice < 0.05:  # expired contract: the tier applies again
                    batch.append(("1", money(base), *self._window("past")))
                elif choice < 0.10:  # starts later
                    batch.append(("1", money(base), *self._window("future")))
                else:
                    start, end = self._window("current")
                    batch.append(("1", money(base), start, end))
                    if rng.random() < 0.25:
                        batch.append(("20", money(base * 93 // 100), start, end))
                for row in batch[: N_CONTRACT_PRICES - emitted]:
                    yield (company_id, product_id, *row)
                    emitted += 1

        self.counts["contract_prices"] = copy_rows(
            ContractPrice,
            ["company", "product", "min_quantity", "unit_price", "valid_from", "valid_to"],
            rows(),
        )
        self.counts["buyer_contract_prices"] = ContractPrice.objects.filter(company=buyer_company).count()
        self.step(
            f"{self.counts['contract_prices']:,} contract prices over "
            f"{ContractPrice.objects.values('company').distinct().count()} companies "
            f"({self.counts['buyer_contract_prices']} for the buyer's company)",
            started,
        )

    def analyze(self) -> None:
        from django.db import connection

        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        self.step("VACUUM ANALYZE", started)


# --- Measuring -------------------------------------------------------------------------------------------


def page_skus(response: Any, pattern: re.Pattern[str], label: str) -> list[str]:
    if response.status_code != 200:
        raise SystemExit(f"{label}: HTTP {response.status_code}")
    return pattern.findall(response.content.decode())


def explain(captured: Sequence[dict[str, Any]]) -> None:
    """EXPLAIN ANALYZE every pricing query of one catalog page."""
    from django.db import connection

    for query in captured:
        statement = query["sql"]
        if "pricing_" not in statement:
            continue
        log(f"  EXPLAIN {statement[:160]}{'…' if len(statement) > 160 else ''}")
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")
            for (line,) in cursor.fetchall():
                log(f"    {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 requests of each page instead of 200")
    parser.add_argument("--requests", type=int, default=None, help="timed requests of each page")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--database", default="bench_catalog", help="scratch database name (recreated)")
    args = parser.parse_args()
    requests = args.requests or (60 if args.quick else 200)
    # WhiteNoise warns once that collectstatic has not run; irrelevant to the pages measured.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    return run_in_scratch_database(args.database, keep=args.keep, run=lambda: run(requests))


def run(requests: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from apps.accounts.models import Membership, Role, StaffRole
    from apps.accounts.services import staff_user_set_roles
    from apps.catalog.models import Product
    from apps.pricing.selectors import Source, price_resolve_many

    today = timezone.localdate()
    n_pages = -(-N_PRODUCTS // PAGE_SIZE)
    pages = sorted({1 + i * (n_pages - 1) // (N_PAGES_USED - 1) for i in range(N_PAGES_USED)})

    build = Build(random.Random(SEED), today)  # noqa: S311  (a reproducible data set, not secrets)
    build_started = time.perf_counter()
    log(f"building: {N_PRODUCTS:,} SKUs, {N_COMPANIES} companies, {len(TIERS)} tiers, …")
    with transaction.atomic():
        build.products()
        build.companies_and_tiers()
        build.tier_prices()
        buyer_company = build.companies[2]  # tier Silver (10 % off by default)
        build.contract_prices(buyer_company, pages)
        started = time.perf_counter()
        user_model = get_user_model()
        buyer = user_model.objects.create_user(username="buyer@bench.example", email="buyer@bench.example")
        Membership.objects.create(user=buyer, company=buyer_company, role=Role.BUYER)
        manager = user_model.objects.create_user(username="am@bench.example", email="am@bench.example")
        staff_user_set_roles(user=manager, roles=[StaffRole.ACCOUNT_MANAGER])
        build.step("buyer and account manager users", started)
    build.analyze()
    build_seconds = time.perf_counter() - build_started
    log(f"build done in {build_seconds:.1f} s")

    buyer_client, manager_client = Client(), Client()
    buyer_client.force_login(buyer)
    manager_client.force_login(manager)

    def catalog(page: int) -> Any:
        return buyer_client.get(f"/catalog/?page={page}")

    def product_list(page: int) -> Any:
        return manager_client.get(f"/manager/products/?page={page}")

    # Check the pages: same 50 SKUs on both, in SKU order, with contract prices for the buyer.
    ordered = Product.objects.filter(is_active=True).order_by("sku")
    sources: dict[str, int] = {}
    for page in pages:
        ours_skus = page_skus(catalog(page), BUYER_SKU_RE, f"/catalog/?page={page}")
        base_skus = page_skus(product_list(page), LIST_SKU_RE, f"/manager/products/?page={page}")
        products = list(ordered[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
        expected = [product.sku for product in products]
        if not (ours_skus == base_skus == expected) or len(expected) != PAGE_SIZE:
            raise SystemExit(f"page {page}: the two pages show different SKUs: {ours_skus} vs {base_skus}")
        quotes = price_resolve_many(account=buyer_company, products=products).values()
        if not any(quote.source == Source.CONTRACT for quote in quotes):
            raise SystemExit(f"page {page}: no contract price of the buyer's company on it")
        for quote in quotes:
            sources[quote.source] = sources.get(quote.source, 0) + 1
    log(
        f"checked {len(pages)} pages ({pages[0]}…{pages[-1]} of {n_pages}): same {PAGE_SIZE} SKUs on both; "
        f"buyer prices by source: {dict(sorted(sources.items()))}"
    )

    for round_number in range(WARMUP_ROUNDS):
        page = pages[(round_number * 7) % len(pages)]
        catalog(page)
        product_list(page)

    with CaptureQueriesContext(connection) as captured_ours:
        catalog(pages[len(pages) // 2])
    with CaptureQueriesContext(connection) as captured_base:
        product_list(pages[len(pages) // 2])
    queries = len(captured_ours.captured_queries)
    log(
        f"queries of one page: catalog {queries} "
        f"({sum(float(q['time']) for q in captured_ours.captured_queries) * 1000:.1f} ms SQL), "
        f"product list {len(captured_base.captured_queries)} "
        f"({sum(float(q['time']) for q in captured_base.captured_queries) * 1000:.1f} ms SQL)"
    )
    for query in captured_ours.captured_queries:
        log(f"  {float(query['time']) * 1000:6.1f} ms  {query['sql'][:140]}")
    explain(captured_ours.captured_queries)

    ours_ms: list[float] = []
    base_ms: list[float] = []
    log(f"timing {requests} requests of each page over {len(pages)} page numbers, interleaved")
    for index in range(requests):
        page = pages[(index * 7) % len(pages)]
        order = [(catalog, ours_ms), (product_list, base_ms)]
        if index % 2:
            order.reverse()
        for fetch, times in order:
            started = time.perf_counter()
            response = fetch(page)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"page {page}: HTTP {response.status_code}")
            times.append(elapsed)
        if (index + 1) % max(requests // 4, 1) == 0:
            log(
                f"  {index + 1}/{requests}: catalog p50 {statistics.median(ours_ms):.1f} ms, "
                f"product list p50 {statistics.median(base_ms):.1f} ms"
            )

    extra = [ours - base for ours, base in zip(ours_ms, base_ms, strict=True)]
    log(
        f"paired difference catalog - product list, same page: median {statistics.median(extra):+.1f} ms, "
        f"p95 {percentile(extra, 95):+.1f} ms"
    )
    ours_p50, base_p50 = statistics.median(ours_ms), statistics.median(base_ms)
    ours_p95, base_p95 = percentile(ours_ms, 95), percentile(base_ms, 95)
    log(f"catalog page       /catalog/?page=K          p50 {ours_p50:7.1f} ms  p95 {ours_p95:7.1f} ms")
    log(f"plain product list /manager/products/?page=K p50 {base_p50:7.1f} ms  p95 {base_p95:7.1f} ms")
    log(
        f"data: {build.counts['products']:,} SKUs, {build.counts['stock']:,} stock levels, "
        f"{N_COMPANIES} companies, {len(TIERS)} tiers, {build.counts['tier_prices']:,} tier prices, "
        f"{build.counts['contract_prices']:,} contract prices; built in {build_seconds:.1f} s"
    )
    return {
        "metric": "catalog_page_ms_p95",
        "ours": round(ours_p95, 1),
        "baseline": round(base_p95, 1),
        "ratio": round(ours_p95 / base_p95, 3),
        "queries": queries,
    }


if __name__ == "__main__":
    sys.exit(main())
