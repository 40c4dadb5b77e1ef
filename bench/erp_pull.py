"""Benchmark: pull the ERP's products through the sync engine vs a bare JSON-RPC search_read loop.

Run by hand (not part of the test suite):

    .venv/bin/python bench/erp_pull.py            # 5 rounds each
    .venv/bin/python bench/erp_pull.py --quick    # 2 rounds each, under a minute

It starts a fresh local Tryton from the seeded template (tools/tryton), migrates a scratch portal
database (DATABASE_URL, default a temporary SQLite file), then alternates:
- ours: ``inbound.pull_stream(products)`` from an empty cursor: JSON-RPC pages, category lookups,
  upserts of every product, a timeline event per product, cursor commits;
- baseline: the same ``search_read`` pages with the same fields, decoded, nothing stored.
The last line is one JSON object: {"metric": "erp_pull_products_per_s", "ours", "baseline", "ratio"}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE_SIZE = 500
FIELDS = [
    "code",
    "name",
    "active",
    "list_price_used",
    "default_uom.symbol",
    "template.categories",
    "template.active",
    "template.salable",
    "template.write_date",
    "template.create_date",
    "write_date",
    "create_date",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 5")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)

    scratch = Path(tempfile.mkdtemp(prefix="bench-erp-pull-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'portal.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"

    from tools.tryton import erp

    erp.ensure_venv()
    erp.ensure_template()
    server = erp.start(scratch / "erp")
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        settings.ERP_URL = server.url
        settings.ERP_DATABASE = server.database
        settings.ERP_USERNAME = server.user
        os.environ["ERP_PASSWORD"] = server.password

        from apps.catalog.erp import PRODUCTS
        from apps.catalog.models import Category, Product
        from apps.erp import inbound, services
        from apps.erp.connectors.tryton import TrytonConnector
        from apps.erp.connectors.tryton.client import TrytonClient
        from apps.erp.models import SyncCursor, SyncEvent

        connection = services.connection_get_default()
        print(
            f"ERP {server.url}, portal DB {settings.DATABASES['default']['NAME']}, {rounds} rounds",
            flush=True,
        )

        def ours() -> tuple[int, float]:
            SyncEvent.objects.all().delete()
            Product.objects.all().delete()
            Category.objects.all().delete()
            SyncCursor.objects.all().delete()
            connector = TrytonConnector.for_connection(connection)
            connector.client.login()
            started = time.perf_counter()
            report = inbound.pull_stream(
                connection=connection,
                stream=PRODUCTS,
                connector=connector,
                page_size=PAGE_SIZE,
            )
            elapsed = time.perf_counter() - started
            connector.close()
            if report.error or Product.objects.count() != report.seen:
                raise SystemExit(f"engine pull went wrong: {report}")
            return report.seen, elapsed

        def baseline() -> tuple[int, float]:
            client = TrytonClient(server.url, server.database, server.user, server.password)
            client.login()
            started = time.perf_counter()
            rows, after = 0, 0
            while True:
                page = client.model(
                    "product.product",
                    "search_read",
                    [["id", ">", after]],
                    0,
                    PAGE_SIZE,
                    [["id", "ASC"]],
                    FIELDS,
                    context={"active_test": False},
                )
                rows += len(page)
                if len(page) < PAGE_SIZE:
                    break
                after = page[-1]["id"]
            elapsed = time.perf_counter() - started
            client.close()
            return rows, elapsed

        ours_rates, base_rates = [], []
        for round_number in range(1, rounds + 1):
            rows_b, secs_b = baseline()
            rows_o, secs_o = ours()
            if rows_o != rows_b:
                raise SystemExit(f"the two pulls read different rows: {rows_o} vs {rows_b}")
            base_rates.append(rows_b / secs_b)
            ours_rates.append(rows_o / secs_o)
            print(
                f"round {round_number}: {rows_o} products; ours {secs_o:.2f} s ({rows_o / secs_o:.0f}/s), "
                f"baseline {secs_b:.2f} s ({rows_b / secs_b:.0f}/s)",
                flush=True,
            )
        ours_rate = statistics.median(ours_rates)
        base_rate = statistics.median(base_rates)
        print(
            json.dumps(
                {
                    "metric": "erp_pull_products_per_s",
                    "ours": round(ours_rate, 1),
                    "baseline": round(base_rate, 1),
                    "ratio": round(ours_rate / base_rate, 3),
                }
            )
        )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
