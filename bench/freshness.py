"""Benchmark: how long an ERP change takes to show on an open portal page (issue 12, freshness).

Run by hand (not part of the test suite):

    .venv/bin/python bench/freshness.py            # 20 changes (watcher), 6 (tick only), 60 s idle
    .venv/bin/python bench/freshness.py --quick    # 8 and 2, a 30 s idle count: about two minutes

It starts a fresh local Tryton from the seeded template (tools/tryton), a scratch PostgreSQL portal
database (bench/scratch.py), pulls everything once, and runs the ERP watcher as a qcluster runs it (the
``watch_forever`` loop in a thread, cache lease and all). Changes are made in the real Tryton as its users
make them: a product's list price, a product's name, a customer's credit limit, in turn. An "open page"
is simulated as the browser runs it: every ``ERP_PAGE_POLL_SECONDS`` (at a random phase) it asks the
change endpoint with the token it holds and, when told something changed, fetches the page (Django's
test Client, signed in as a buyer of the changed customer): the catalog searched for the product, or
the buyer's invoices page with its credit limit. Time: from the ERP write's return until the page's
HTML shows the new value.

Baseline, in the same run: the watcher stopped, the old 30 s schedule (the pull task every 30 s, at a
random phase) and the page re-fetched every 2 s (as fast as any old fragment polled).

Idle: with no changes, the questions the watcher asked the ERP (its counter) over 60 s (30 s quick).

The last line is one JSON object: {"metric": "erp_to_page_p95_s", "ours", "p50", "erp_calls_per_min_idle",
"baseline", "ratio"}.
"""

from __future__ import annotations

import argparse
import random
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import log, run_in_scratch_database  # noqa: E402 - after the path

PRICE_SKU = "SKU-00010"
PHASES = random.Random(12)  # noqa: S311 - when things happen, not secrets


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def run(changes: int, baseline_changes: int, idle_seconds: float) -> dict[str, Any]:
    import os

    from tools.tryton import erp

    erp.ensure_venv()
    erp.ensure_template()
    server = erp.start(Path(tempfile.mkdtemp(prefix="bench-freshness-")) / "erp")
    try:
        return _measure(server, changes, baseline_changes, idle_seconds, os.environ)
    finally:
        server.stop()


def _measure(
    server: Any, changes: int, baseline_changes: int, idle_seconds: float, environ: Any
) -> dict[str, Any]:
    from django.conf import settings
    from django.test import Client

    settings.ERP_URL = server.url
    settings.ERP_DATABASE = server.database
    settings.ERP_USERNAME = server.user
    settings.ERP_SYNC_ENABLED = True
    settings.ALLOWED_HOSTS = ["*"]
    environ["ERP_PASSWORD"] = server.password

    from django.contrib.auth import get_user_model

    from apps.accounts.models import Company, Membership, Role
    from apps.catalog.models import Product
    from apps.erp import inbound, selectors
    from apps.erp.connectors.tryton.client import TrytonClient
    from apps.erp.services import connection_get_default
    from apps.erp.watcher import watch_forever
    from tools.tryton.erp import ERP_ADMIN_PASSWORD, ERP_ADMIN_USER

    connection = connection_get_default()
    started = time.perf_counter()
    inbound.pull_all(connection=connection)
    log(f"ERP {server.url}: first pull in {time.perf_counter() - started:.1f} s")
    product = Product.objects.get(sku=PRICE_SKU)
    company = Company.objects.exclude(erp_party_id="").order_by("pk").first()
    if company is None:
        raise RuntimeError("no company came from the ERP")
    user = get_user_model().objects.create_user(
        username="bench", email="bench@freshness.example", password=secrets.token_urlsafe()
    )
    Membership.objects.create(user=user, company=company, role=Role.BUYER)
    client = Client()
    client.force_login(user)
    admin = TrytonClient(server.url, server.database, ERP_ADMIN_USER, ERP_ADMIN_PASSWORD)
    (row,) = admin.model("product.product", "read", [int(product.erp_id)], ["template"])
    template = row["template"]
    counter = iter(range(1, 10_000))

    def price_change() -> tuple[str, str, str]:
        price = Decimal("100") + Decimal(next(counter)) / 100
        admin.model("product.template", "write", [template], {"list_price": price})
        return "products,stock", f"/catalog/?q={PRICE_SKU}", f"{price:.4f} USD"

    def name_change() -> tuple[str, str, str]:
        name = f"Bench renamed {next(counter)}"
        admin.model("product.template", "write", [template], {"name": name})
        return "products,stock", f"/catalog/?q={PRICE_SKU}", name

    def limit_change() -> tuple[str, str, str]:
        limit = Decimal("50000") + next(counter)
        admin.model("party.party", "write", [int(company.erp_party_id)], {"credit_limit_amount": limit})
        return "customers,invoices,orders", "/invoices/", f"{limit:.2f}"

    kinds: list[Callable[[], tuple[str, str, str]]] = [price_change, name_change, limit_change]

    def open_page_wait(streams: str, url: str, expected: str, token: str, poll: float) -> float:
        """The browser's loop: cheap poll, then the page when told; seconds from now until seen."""
        since = time.monotonic()
        time.sleep(PHASES.uniform(0, poll))  # the page's poll phase
        while time.monotonic() - since < 120:
            answer = client.get(f"/erp/changes/?streams={streams}&v={token}")
            if answer.status_code == 200:
                token = re.search(r"v=([0-9.]+)", answer.content.decode()).group(1)  # type: ignore[union-attr]
                if expected in client.get(url).content.decode():
                    return time.monotonic() - since
            time.sleep(poll)
        raise RuntimeError(f"{expected!r} never showed on {url}")

    def reload_page_wait(url: str, expected: str, poll: float) -> float:
        since = time.monotonic()
        while time.monotonic() - since < 120:
            if expected in client.get(url).content.decode():
                return time.monotonic() - since
            time.sleep(poll)
        raise RuntimeError(f"{expected!r} never showed on {url}")

    # --- ours: the watcher ---
    stop = threading.Event()
    watcher = threading.Thread(target=watch_forever, args=(stop,), daemon=True)
    watcher.start()
    time.sleep(3)
    before = selectors.watch_calls()
    time.sleep(idle_seconds)
    idle_calls = selectors.watch_calls() - before
    per_minute = idle_calls * 60 / idle_seconds
    log(f"idle: {idle_calls} ERP questions in {idle_seconds:.0f} s = {per_minute:.1f}/min")
    ours: list[float] = []
    for n in range(changes):
        time.sleep(PHASES.uniform(0, settings.ERP_WATCH_SECONDS))  # at any moment of the watcher's look
        kind = kinds[n % len(kinds)]
        streams, url, expected = kind.__call__()  # the ERP write returns here
        token = selectors.live_token(streams.split(","))
        # The token the page held before the write: the write cannot have been pulled yet in practice;
        # should it have been, the wait measures from the write anyway.
        ours.append(open_page_wait(streams, url, expected, token, settings.ERP_PAGE_POLL_SECONDS))
        log(f"ours {kind.__name__}: {ours[-1]:.2f} s")
    stop.set()
    watcher.join(timeout=30)

    # --- baseline: the 30 s tick only ---
    ticking = threading.Event()

    def tick() -> None:
        ticking.wait(PHASES.uniform(0, 30))
        while not ticking.is_set():
            inbound.pull_all(connection=connection)  # the scheduled task (every stream due every 30 s)
            ticking.wait(30)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    baseline: list[float] = []
    for n in range(baseline_changes):
        kind = kinds[n % len(kinds)]
        _, url, expected = kind()
        baseline.append(reload_page_wait(url, expected, 2.0))
        log(f"baseline {kind.__name__}: {baseline[-1]:.2f} s")
        time.sleep(PHASES.uniform(0, 5))
    ticking.set()
    ticker.join(timeout=60)
    admin.close()

    p95, p50 = _p95(ours), statistics.median(ours)
    base = _p95(baseline)
    log(f"ours p50 {p50:.2f} s, p95 {p95:.2f} s over {len(ours)}")
    log(f"baseline p95 {base:.2f} s over {len(baseline)}")
    return {
        "metric": "erp_to_page_p95_s",
        "ours": round(p95, 2),
        "p50": round(p50, 2),
        "erp_calls_per_min_idle": round(per_minute, 1),
        "baseline": round(base, 2),
        "ratio": round(base / p95, 2) if p95 else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer changes, a 30 s idle count")
    parser.add_argument("--database", default="bench_freshness")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--verbose", action="store_true", help="log what the watcher pulls")
    args = parser.parse_args()
    changes, baseline_changes, idle = (8, 2, 30.0) if args.quick else (20, 6, 60.0)
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.INFO)
        logging.getLogger("apps.erp.watcher").setLevel(logging.INFO)
    return run_in_scratch_database(
        args.database, keep=args.keep, run=lambda: run(changes, baseline_changes, idle)
    )


if __name__ == "__main__":
    raise SystemExit(main())
