"""Benchmark: does the embedded default (SQLite, `make run`) answer "database is locked" while its own
worker writes?

Run by hand (tests/core/test_sqlite_locking.py runs a short round of the project's settings):

    .venv/bin/python bench/sqlite_locking.py            # 45 s per configuration
    .venv/bin/python bench/sqlite_locking.py --quick    # 10 s per configuration, under two minutes

Each configuration runs in its own process on a fresh SQLite file (WAL is a property of the file):

- ``ours``: the project's settings (config/settings/base.py: WAL, ``BEGIN IMMEDIATE``, 20 s busy
  timeout, synchronous=NORMAL);
- ``baseline``: the same project with Django's default SQLite options (rollback journal, deferred
  transactions, Python's 5 s timeout).

In each: ``migrate`` and ``seed_demo`` (local settings), then for the given seconds, at once:

- reader threads, each with its own Django test Client and connection, signed in as a viewer, a buyer
  or a portal admin, reading the catalog, the order list, an order page, the invoices and the sync
  monitor;
- buyer threads building and submitting orders through the UI (quick order, header, submit), which
  approve and queue a push job in the same transaction as in production;
- one worker thread doing what ``qcluster`` does: the products and stock pulls (``pull_stream``, one
  transaction per page, the next page fetched while this one is written) and the outbox
  (``dispatch``: claim, push, ``job_succeed`` moving each order to sent to ERP and accepted).

The worker's ERP is an in-process stand-in that answers at once (pages of products and stock, every
pushed order a confirmed sale): the question is the portal's database, and an instant ERP makes the
worker write as fast as it can, the worst case for the readers. Neither the pull nor the dispatcher
holds a database transaction while it waits for the ERP (read in apps/erp/inbound.py `_pull` and
apps/purchase_orders/erp.py), so a real ERP only spaces the same writes out.

Every request or worker step that raises is counted: "database is locked" apart from any other error.
The last line is one JSON object: metric, ours, baseline, ratio, errors, and each run's figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FULL = {"seconds": 45, "readers": 6, "buyers": 2, "products": 600}
QUICK = {"seconds": 10, "readers": 4, "buyers": 2, "products": 300}
# What the embedded default must not inherit from the calling process (the suite runs with DEBUG off).
NOT_INHERITED = {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "REDIS_URL"}
PAGE_SIZE = 100  # rows per pull page: several write transactions per pull
EXTRA_SECONDS = 120  # how long --until-pushed may stretch a run


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class InstantErp:
    """The worker's ERP, answering at once. Thread-safe: the pull fetches its next page from a thread."""

    def __init__(self, products: int) -> None:
        self.products = products
        self.round = 0
        self.sales = 0
        self.lock = threading.Lock()

    def _ids(self, after_id: int, limit: int) -> tuple[list[int], bool]:
        ids = list(range(after_id + 1, min(after_id + limit, self.products) + 1))
        return ids, bool(ids) and ids[-1] < self.products

    def pull_products(self, cursor: Any, limit: int) -> Any:
        from django.utils import timezone

        from apps.erp.connectors.base import Page, ProductRecord

        ids, more = self._ids(int(cursor.after or 0), limit)
        if not cursor.after:
            with self.lock:
                self.round += 1
        now = timezone.now()
        records = [
            ProductRecord(
                erp_id=str(i),
                sku=f"SKU-{i:05d}",
                name=f"Bench product {i}",
                category_id=str(1 + i % 5),
                category_name=f"Category {1 + i % 5}",
                unit="Unit",
                list_price=Decimal(10 + i % 40 + self.round % 2),  # every round changes every row
                is_active=True,
                changed_at=now,
            )
            for i in ids
        ]
        return Page(records=records, next=str(ids[-1]) if ids else cursor.after, has_more=more)

    def pull_stock(self, cursor: Any, limit: int) -> Any:
        from django.utils import timezone

        from apps.erp.connectors.base import Page, StockRecord

        ids, more = self._ids(int(cursor.after or 0), limit)
        now = timezone.now()
        records = [
            StockRecord(product_erp_id=str(i), quantity=Decimal(100 + (i + self.round) % 7), as_of=now)
            for i in ids
        ]
        return Page(records=records, next=str(ids[-1]) if ids else cursor.after, has_more=more)

    def push_orders(self, orders: Sequence[Any]) -> list[Any]:
        from apps.erp.connectors.base import OrderPushResult

        results = []
        for order in orders:
            with self.lock:
                self.sales += 1
                number = self.sales
            results.append(
                OrderPushResult(
                    reference=order.reference,
                    customer_erp_id=order.customer_erp_id,
                    erp_id=str(number),
                    number=f"SO{number:05d}",
                    state="confirmed",
                    created=True,
                )
            )
        return results

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def unavailable(*args: Any, **kwargs: Any) -> Any:
            from apps.erp.connectors.base import ErpTransientError

            raise ErpTransientError(f"{name} is not part of this benchmark")

        return unavailable

    def close(self) -> None:
        pass


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.read_ms: list[float] = []
        self.samples: list[str] = []

    def add(self, key: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[key] += amount

    def error(self, where: str, exc: BaseException) -> None:
        locked = "database is locked" in str(exc) or "database table is locked" in str(exc)
        with self.lock:
            self.counts["locked" if locked else "other_errors"] += 1
            if len(self.samples) < 5:
                self.samples.append(f"{where}: {type(exc).__name__}: {str(exc)[:160]}")


def _guarded(tally: Tally, where: str, stop: threading.Event, step: Callable[[], None]) -> None:
    from django.db import connection

    try:
        while not stop.is_set():
            try:
                step()
            except Exception as exc:  # every failure is counted, the thread goes on
                tally.error(where, exc)
    finally:
        connection.close()


def child(
    mode: str,
    database: Path,
    seconds: float,
    readers: int,
    buyers: int,
    products: int,
    until_pushed: int = 0,
) -> dict[str, Any]:
    """One configuration in this process: set Django up on ``database`` and run the load.

    ``until_pushed``: after ``seconds``, keep the whole load running until the worker has pushed that
    many orders (at most EXTRA_SECONDS more), so that a slow machine, whose buyers submit their first
    order late, still shows the worker writing while the others read and write."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    from django.conf import settings

    if mode == "baseline":
        settings.DATABASES["default"]["OPTIONS"] = {}  # Django's defaults
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from apps.accounts.models import Company
    from apps.catalog.erp import PRODUCTS, STOCK
    from apps.erp.inbound import pull_stream
    from apps.erp.services import connection_get_default, dispatch
    from apps.purchase_orders.models import PurchaseOrder

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())
    journal = connection.cursor().execute("PRAGMA journal_mode").fetchone()[0]
    erp = InstantErp(products)
    erp_connection = connection_get_default()
    for stream in (PRODUCTS, STOCK):
        pull_stream(connection=erp_connection, stream=stream, connector=erp, page_size=PAGE_SIZE)
    for number, company in enumerate(Company.objects.order_by("pk"), start=1):
        Company.objects.filter(pk=company.pk).update(erp_party_id=str(number))
    log(f"{mode}: migrated and seeded in {time.perf_counter() - started:.1f} s (journal_mode={journal})")

    users = get_user_model().objects
    slugs = ["globex", "harborpoint", "acme"]
    tally = Tally()
    stop = threading.Event()

    def signed_in(username: str) -> Client:
        client = Client(raise_request_exception=True)
        client.force_login(users.get(username=username))
        return client

    def reader(index: int) -> Callable[[], None]:
        slug = slugs[index % len(slugs)]
        client = signed_in(f"viewer@{slug}.example" if index % 3 else f"buyer@{slug}.example")
        staff = signed_in("admin@wholesale.example")
        company = Company.objects.get(billing_email=f"ap@{slug}.example")
        turn = [0]

        def step() -> None:
            turn[0] += 1
            latest = PurchaseOrder.objects.filter(company=company).exclude(status="draft").order_by("-pk")
            order_id = latest.values_list("pk", flat=True).first()
            urls = ["/catalog/", "/orders/", "/invoices/"] + ([f"/orders/{order_id}/"] if order_id else [])
            url = urls[turn[0] % len(urls)]
            who = staff if turn[0] % 7 == 0 else client
            url = "/staff/sync/" if who is staff else url
            began = time.perf_counter()
            response = who.get(url)
            elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} answered {response.status_code}")
            with tally.lock:
                tally.read_ms.append(elapsed)
            tally.add("reads")

        return step

    def buyer(index: int) -> Callable[[], None]:
        slug = slugs[index % len(slugs)]
        client = signed_in(f"buyer@{slug}.example")
        company = Company.objects.get(billing_email=f"ap@{slug}.example")
        ship_to = company.ship_to_addresses.get(is_default=True)
        turn = [0]

        def step() -> None:
            turn[0] += 1
            sku = 1 + (turn[0] * 7 + index) % products
            posts = [
                ("/orders/draft/quick/", {"lines": f"SKU-{sku:05d} 2\nSKU-{1 + sku % products:05d} 1"}, 200),
                (
                    "/orders/draft/header/",
                    {"customer_po_number": f"{mode}-{index}-{turn[0]}", "ship_to": ship_to.pk},
                    200,
                ),
                ("/orders/draft/submit/", {}, 302),
            ]
            for url, data, expected in posts:
                response = client.post(url, data)
                tally.add("writes")
                if response.status_code != expected:
                    raise RuntimeError(f"POST {url} answered {response.status_code}")
            tally.add("orders_submitted")

        return step

    def worker() -> None:
        for stream in (PRODUCTS, STOCK):
            report = pull_stream(connection=erp_connection, stream=stream, connector=erp, page_size=PAGE_SIZE)
            tally.add("pull_pages", report.pages)
        tally.add("orders_pushed", dispatch(connection=erp_connection, connector=erp).succeeded)

    threads = [
        *(threading.Thread(target=_guarded, args=(tally, "reader", stop, reader(i))) for i in range(readers)),
        *(threading.Thread(target=_guarded, args=(tally, "buyer", stop, buyer(i))) for i in range(buyers)),
        threading.Thread(target=_guarded, args=(tally, "worker", stop, worker)),
    ]
    connection.close()  # each thread uses its own connection
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    time.sleep(seconds)
    while (
        tally.counts["orders_pushed"] < until_pushed and time.perf_counter() - began < seconds + EXTRA_SECONDS
    ):
        time.sleep(0.2)
    ran = time.perf_counter() - began
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    reads = sorted(tally.read_ms)
    return {
        "mode": mode,
        "journal_mode": journal,
        "seconds": seconds,
        "seconds_run": round(ran, 1),
        "reader_threads": readers,
        "buyer_threads": buyers,
        "reads": tally.counts["reads"],
        "read_p50_ms": round(statistics.median(reads), 1) if reads else None,
        "read_p95_ms": round(reads[int(len(reads) * 0.95) - 1], 1) if len(reads) >= 20 else None,
        "writes": tally.counts["writes"],
        "orders_submitted": tally.counts["orders_submitted"],
        "orders_pushed": tally.counts["orders_pushed"],
        "pull_pages": tally.counts["pull_pages"],
        "locked": tally.counts["locked"],
        "other_errors": tally.counts["other_errors"],
        "error_samples": tally.samples,
    }


def _run_child(mode: str, workdir: Path, figures: dict[str, Any]) -> dict[str, Any]:
    database = workdir / f"{mode}.sqlite3"
    args = [f"--{key.replace('_', '-')}={value}" for key, value in figures.items()]
    result = subprocess.run(  # noqa: S603 - this very script
        [sys.executable, __file__, "--child", mode, "--database", str(database), *args],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in NOT_INHERITED},
        capture_output=True,
        text=True,
        timeout=figures["seconds"] + 300,
        check=False,
    )
    sys.stderr.write(result.stderr[-3000:])
    if result.returncode != 0:
        raise SystemExit(f"the {mode} run failed (exit {result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10 s per configuration")
    parser.add_argument("--child", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--until-pushed", type=int, default=0, help=argparse.SUPPRESS)
    for key in FULL:
        parser.add_argument(f"--{key}", type=float if key == "seconds" else int)
    options = parser.parse_args(argv)
    figures = {
        key: getattr(options, key) or default for key, default in (QUICK if options.quick else FULL).items()
    }
    if options.child:
        run = child(options.child, options.database, **figures, until_pushed=options.until_pushed)
        print(json.dumps(run), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as workdir:
        runs = {mode: _run_child(mode, Path(workdir), figures) for mode in ("ours", "baseline")}
    for run in runs.values():
        log(
            f"{run['mode']:>8}: {run['reads']} reads (p95 {run['read_p95_ms']} ms), "
            f"{run['orders_submitted']} orders submitted, {run['orders_pushed']} pushed, "
            f"{run['pull_pages']} pull pages; database is locked: {run['locked']}, "
            f"other errors: {run['other_errors']} {run['error_samples']}"
        )
    ours, baseline = runs["ours"]["locked"], runs["baseline"]["locked"]
    print(
        json.dumps(
            {
                "metric": "database_locked_errors_under_worker_writes",
                "ours": ours,
                "baseline": baseline,
                "ratio": round(ours / baseline, 4) if baseline else None,
                "errors": ours + runs["ours"]["other_errors"],
                "runs": runs,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
