"""Benchmark: how long the outbox takes to drain after a worker crash and after an ERP outage.

Run by hand (not part of the test suite):

    .venv/bin/python bench/sync_drain.py            # churn 30 s, outage 20 s, baseline capped at 120 s
    .venv/bin/python bench/sync_drain.py --quick    # one crash, outage 6 s, baseline capped at 25 s; < 2 min

The stack, all on 127.0.0.1 and all stopped at the end (tools/cluster.py: own process groups, SIGKILLed
on any exit): a fresh Tryton from the seeded template (tools/tryton), a scratch PostgreSQL database
``bench_sync_drain`` (bench/scratch.py: recreated, migrated, dropped), Redis db 12 (BENCH_REDIS_URL,
flushed), and two ``manage.py qcluster`` under ``config.settings.production`` (tools.cluster.portal_env;
one worker each and push batches of 10: the test ERP is one trytond on SQLite, whose concurrent write
transactions retry each other out past the request timeout with more). This process approves orders
through the real services (draft, lines, submit: approved, an ``order.push`` job each) and asks the
clusters for a dispatch on their Redis after each batch, as the web process does on commit.

Each side runs the same two phases on the same ERP and database, with its own orders:
- crash: (full: 30 s of orders arriving while one of the two clusters is SIGKILLed every 5 s and
  restarted 1 s later; quick: a burst of orders), then the last crash: the cluster holding claimed jobs
  is SIGKILLed (its whole process group) and restarted 1 s later, as systemd's Restart= would.
  ``drain_seconds_after_last_crash``: from that SIGKILL until every push job of the phase succeeded.
- outage: Tryton stops, orders are approved meanwhile, Tryton starts again on the same port and database.
  ``drain_after_erp_back_s``: from the ERP answering again until every push job of the phase succeeded.
Retries use the settings' default backoff (10 s base) on both sides.
- ours: the settings' defaults (a 15 s lease renewed while a worker works, dead local workers' claims
  taken back when a cluster starts, the outbox waker asking for a dispatch within seconds).
- baseline: the old behaviour's knobs in the same run: ERP_JOB_LEASE_SECONDS=600 and
  ERP_OUTBOX_WAKER=false (only the minute schedule and new orders' requests dispatch). Its waits are
  capped; a capped figure is a lower bound (``baseline_capped``).
At the end every order of ours is checked in the ERP (exactly once for its customer) and in the portal
(accepted or further). The last line is one JSON object: {"metric": "drain_seconds_after_last_crash",
"ours", "baseline", "ratio", "drain_after_erp_back_s", "orders", "duplicates", "lost", ...}.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import SERVER_URL, log, run_in_scratch_database  # noqa: E402
from tools import cluster  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
DATABASE = "bench_sync_drain"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one crash, a short outage: under 2 minutes")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and the logs")
    args = parser.parse_args()
    quick = args.quick
    plan = {
        "churn_s": 0 if quick else 30,
        "burst": 16 if quick else 0,
        "outage_s": 6 if quick else 20,
        "outage_orders": 10 if quick else 30,
        "cap_s": 25.0 if quick else 120.0,
        "ours_timeout_s": 60.0 if quick else 180.0,
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-drain-"))

    from tools.tryton import erp

    erp.ensure_venv()
    erp.ensure_template()
    server = erp.start(workdir / "erp")
    try:
        return run_in_scratch_database(
            DATABASE, keep=args.keep, run=lambda: _run(server, workdir, plan, keep=args.keep)
        )
    finally:
        server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def _run(server: Any, workdir: Path, plan: dict[str, Any], *, keep: bool) -> dict[str, Any]:
    from django.conf import settings

    from apps.erp.connectors.tryton.client import TrytonClient
    from apps.erp.models import SyncJob
    from apps.erp.services import connection_get_default
    from tools import sync_scenario
    from tools.tryton import erp

    settings.ERP_URL, settings.ERP_DATABASE, settings.ERP_USERNAME = server.url, server.database, server.user
    os.environ["ERP_PASSWORD"] = server.password
    started = time.perf_counter()
    connection = connection_get_default()
    sync_scenario.master_data_pull(connection)
    shop = sync_scenario.Shop.open()
    admin = TrytonClient(server.url, server.database, erp.ERP_ADMIN_USER, erp.ERP_ADMIN_PASSWORD)
    log(
        f"ERP {server.url}, portal DB {DATABASE} on {SERVER_URL}, Redis {REDIS_URL}; setup "
        f"{time.perf_counter() - started:.1f} s; plan {plan}"
    )
    base_env = {
        "database_url": f"{SERVER_URL}/{DATABASE}",
        "redis_url": REDIS_URL,
        "erp": server,
        "workers": 1,
        "secret_key": settings.SECRET_KEY,  # the dispatch requests this process enqueues are signed
    }
    common = {"ERP_PUSH_BATCH_SIZE": "10"}
    sides = {
        "ours": cluster.portal_env(lease_seconds=None, extra=common, **base_env),
        "baseline": cluster.portal_env(
            lease_seconds=600, extra={**common, "ERP_OUTBOX_WAKER": "false"}, **base_env
        ),
    }

    def drain(orders: list[Any], since: float, timeout: float) -> tuple[float, bool]:
        """Seconds from ``since`` until every push job of ``orders`` succeeded; (timeout, False) if not."""
        ids = [order.pk for order in orders]
        deadline = since + timeout
        while time.monotonic() < deadline:
            if sync_scenario.outbox_drained(ids):
                return time.monotonic() - since, True
            time.sleep(0.2)
        log(f"    not drained within {timeout:.0f} s: {dict(sync_scenario.outbox_counts(ids))}")
        return timeout, False

    def holder(procs: list[cluster.Proc], orders: list[Any]) -> cluster.Proc | None:
        claimed = SyncJob.objects.filter(
            status=SyncJob.Status.IN_FLIGHT, target_id__in=[str(order.pk) for order in orders]
        ).values_list("claimed_by", flat=True)
        pids = {int(worker.rsplit(":", 1)[1]) for worker in claimed if worker.rsplit(":", 1)[-1].isdigit()}
        return next((proc for proc in procs if pids & set(proc.members())), None)

    results: dict[str, dict[str, Any]] = {}
    all_orders: dict[str, list[Any]] = {}
    for side, env in sides.items():
        log(
            f"--- {side}: lease {env.get('ERP_JOB_LEASE_SECONDS', 'default')}, waker "
            f"{env.get('ERP_OUTBOX_WAKER', 'default (on)')}"
        )
        cluster.redis_flush(REDIS_URL)
        timeout = plan["ours_timeout_s"] if side == "ours" else plan["cap_s"]
        with cluster.Processes(workdir / f"logs-{side}") as procs:
            clusters = [procs.qcluster(f"{side}-a", env), procs.qcluster(f"{side}-b", env)]
            orders: list[Any] = []
            label = side[0].upper()
            # Phase 1: churn (full) or a burst (quick), then the last crash hits a holder of claimed jobs.
            if plan["churn_s"]:
                phase_started = time.monotonic()
                with cluster.Churn(clusters, every=5.0, down=1.0) as churn:
                    while time.monotonic() - phase_started < plan["churn_s"]:
                        orders += shop.orders_approve(2, label=f"{label}C")
                        cluster.dispatch_kick(REDIS_URL)
                        time.sleep(0.5)
                log(f"  churn: {len(orders)} orders, {churn.kills} SIGKILLs in {plan['churn_s']} s")
            more = max(plan["burst"], 10)
            orders += shop.orders_approve(more, label=f"{label}C")
            cluster.dispatch_kick(REDIS_URL)
            victim = None
            deadline = time.monotonic() + 30
            while victim is None and time.monotonic() < deadline:
                victim = holder(clusters, orders)
                time.sleep(0.05)
            if victim is None:
                raise SystemExit(f"{side}: no cluster ever held a claimed job to crash")
            held = SyncJob.objects.filter(status=SyncJob.Status.IN_FLIGHT).count()
            victim.kill()
            crashed_at = time.monotonic()
            time.sleep(1.0)
            victim.start()
            crash_drain, crash_done = drain(orders, crashed_at, timeout)
            log(
                f"  last crash: SIGKILL of {victim.name} holding jobs ({held} in flight); "
                f"{len(orders)} orders drained {crash_drain:.1f} s after it"
                + ("" if crash_done else " (cap: a lower bound)")
            )
            # Phase 2: the ERP goes away while orders are approved, then comes back.
            server.stop()
            outage = shop.orders_approve(plan["outage_orders"], label=f"{label}O")
            cluster.dispatch_kick(REDIS_URL)
            time.sleep(plan["outage_s"])
            server.restart()
            back_at = time.monotonic()
            outage_drain, outage_done = drain(outage, back_at, timeout)
            retried = (
                SyncJob.objects.filter(target_id__in=[str(o.pk) for o in outage], events__outcome="retrying")
                .distinct()
                .count()
            )
            log(
                f"  outage: {len(outage)} orders approved during {plan['outage_s']} s without the ERP "
                f"({retried} retried); drained {outage_drain:.1f} s after it came back"
                + ("" if outage_done else " (cap: a lower bound)")
            )
            all_orders[side] = orders + outage
            if not (crash_done and outage_done):  # leave the capped side's work where it is
                procs.kill_all()
            else:
                for proc in clusters:
                    try:
                        stop_s = proc.terminate(timeout=15)
                        log(f"  {proc.name} stopped on SIGTERM in {stop_s:.1f} s")
                    except cluster.ClusterError:
                        log(f"  {proc.name} did not stop on SIGTERM within 15 s: SIGKILLed")
        delivery = sync_scenario.delivery_check(all_orders[side], admin)
        results[side] = {
            "crash_s": round(crash_drain, 2),
            "crash_capped": not crash_done,
            "outage_s": round(outage_drain, 2),
            "outage_capped": not outage_done,
            "orders": delivery.orders,
            "duplicates": sum(n - 1 for n in delivery.duplicates.values()),
            "lost": len(delivery.lost),
            "not_succeeded": delivery.orders - delivery.jobs.get(SyncJob.Status.SUCCEEDED, 0),
            "max_attempts_seen": delivery.max_attempts_seen,
        }
        log(f"  {side}: {results[side]}")
    admin.close()
    ours, baseline = results["ours"], results["baseline"]
    if ours["crash_capped"] or ours["lost"] or ours["duplicates"] or ours["not_succeeded"]:
        log(f"ours did not deliver everything: {ours}")
    if not keep:
        cluster.redis_flush(REDIS_URL)
    return {
        "metric": "drain_seconds_after_last_crash",
        "ours": ours["crash_s"],
        "baseline": baseline["crash_s"],
        "ratio": round(baseline["crash_s"] / ours["crash_s"], 1) if ours["crash_s"] else None,
        "baseline_capped": baseline["crash_capped"],
        "drain_after_erp_back_s": ours["outage_s"],
        "baseline_drain_after_erp_back_s": baseline["outage_s"],
        "baseline_erp_back_capped": baseline["outage_capped"],
        "orders": ours["orders"],
        "duplicates": ours["duplicates"],
        "lost": ours["lost"],
        "not_succeeded": ours["not_succeeded"],
        "baseline_lost_at_cap": baseline["lost"],
        "baseline_duplicates": baseline["duplicates"],
    }


if __name__ == "__main__":
    sys.exit(main())
