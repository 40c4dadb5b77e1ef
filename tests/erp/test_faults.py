"""Fault tests with real processes: two ``qcluster``s (production settings, Redis broker) and an
order-state pull loop, all on this test's PostgreSQL database, pushing to a real Tryton that is killed,
stopped and cut off while buyers' orders keep coming.

How work reaches the clusters, explicitly: this process (test settings, ERP_SYNC_ENABLED off, so nothing
runs inline here) approves orders through the real services and then enqueues one
``apps.erp.tasks.dispatch`` on the clusters' Redis (``cluster.dispatch_kick``), as the web process does
on commit. Everything after a crash or an outage (claims of killed workers, retries whose backoff ended)
is found by the clusters themselves: their outbox waker and schedule, nothing from here.

Redis: a dedicated database (FAULTS_REDIS_URL, default db 14), flushed before each test. Transactional
tests: every write of this process is committed, so the subprocesses see it; the tables are emptied after.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection as db_connection

from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import ErpConnection, SyncEvent, SyncJob
from apps.purchase_orders.erp import ORDER_PUSH
from apps.purchase_orders.models import PurchaseOrder
from tools import cluster
from tools.tryton import erp

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("FAULTS_REDIS_URL", "redis://127.0.0.1:6379/14")
LEASE_SECONDS = 5
DRAIN_TIMEOUT = 90.0
CHURN_SECONDS = 32
CHURN_EVERY = 5.0  # one of the two clusters is SIGKILLed this often


@pytest.fixture
def scenario(erp_connection: ErpConnection) -> Any:
    from tools import sync_scenario

    sync_scenario.master_data_pull(erp_connection)
    return sync_scenario


@pytest.fixture
def shop(scenario: Any) -> Any:
    return scenario.Shop.open()


@pytest.fixture
def cluster_env(erp_server: erp.ErpServer, erp_connection: ErpConnection, settings: Any) -> dict[str, str]:
    cluster.redis_flush(REDIS_URL)
    return cluster.portal_env(
        database_url=cluster.database_url(db_connection.settings_dict),
        redis_url=REDIS_URL,
        erp=erp_server,
        lease_seconds=LEASE_SECONDS,
        secret_key=settings.SECRET_KEY,  # the tasks this process enqueues are signed with it
        workers=1,
        extra={
            # The test ERP is one trytond on SQLite: concurrent write transactions retry each other out
            # (a 50-sale confirm beside another then takes longer than the 30 s request timeout), and a
            # killed worker's request goes on in the ERP. One worker per cluster and batches of 10 keep a
            # batch well under the kill period; otherwise no batch could ever finish, whatever the engine.
            "ERP_PUSH_BATCH_SIZE": "10",
            # Retries within seconds, so an outage of a few seconds is bridged within the 8 attempts.
            "ERP_BACKOFF_BASE_SECONDS": "2",
            "ERP_BACKOFF_MAX_SECONDS": "6",
            "ERP_OUTBOX_WAKER_SECONDS": "1",
        },
    )


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[cluster.Processes]:
    with cluster.Processes(tmp_path / "logs") as processes:
        yield processes
    leftovers = {name: proc.members() for name, proc in processes.procs.items() if proc.members()}
    assert not leftovers, f"processes left behind: {leftovers}"


@pytest.fixture
def erp_admin_client(erp_server: erp.ErpServer) -> Iterator[TrytonClient]:
    client = TrytonClient(erp_server.url, erp_server.database, erp.ERP_ADMIN_USER, erp.ERP_ADMIN_PASSWORD)
    yield client
    client.close()


def _ids(orders: list[PurchaseOrder]) -> list[int]:
    return [order.pk for order in orders]


def _outbox(orders: list[PurchaseOrder]) -> str:
    from tools import sync_scenario

    jobs = SyncJob.objects.filter(kind=ORDER_PUSH, target_id__in=[str(o.pk) for o in orders])
    stuck = [
        f"{job.target_id}:{job.status}/{job.attempts}/{job.claimed_by or '-'}/{job.last_error[:80]!r}"
        for job in jobs.exclude(status=SyncJob.Status.SUCCEEDED)[:15]
    ]
    return f"{dict(sync_scenario.outbox_counts(_ids(orders)))} {stuck}"


def _drain(orders: list[PurchaseOrder], procs: cluster.Processes, timeout: float = DRAIN_TIMEOUT) -> float:
    """Seconds until every order.push job of ``orders`` succeeded (the clusters find the work alone)."""
    from tools import sync_scenario

    started = time.monotonic()
    last_report = [started]

    def drained() -> bool:
        if time.monotonic() - last_report[0] >= 5:
            last_report[0] = time.monotonic()
            print(f"  drain +{last_report[0] - started:.0f} s: {_outbox(orders)[:400]}", flush=True)
        return sync_scenario.outbox_drained(_ids(orders))

    try:
        cluster.wait_until(drained, timeout=timeout, interval=0.5, message="drained")
    except cluster.ClusterError:
        pytest.fail(f"outbox not drained in {timeout:.0f} s: {_outbox(orders)}\n{procs.logs()}")
    return time.monotonic() - started


def _assert_delivered(orders: list[PurchaseOrder], client: TrytonClient, procs: cluster.Processes) -> None:
    from tools import sync_scenario

    delivery = sync_scenario.delivery_check(orders, client)
    assert delivery.ok, f"{delivery}\n{procs.logs()}"
    assert delivery.jobs == {SyncJob.Status.SUCCEEDED: len(orders)}
    assert delivery.max_attempts_seen <= 8


def test_sigkill_churn_of_two_clusters_while_orders_are_pushed_and_pulled(
    shop: Any,
    scenario: Any,
    cluster_env: dict[str, str],
    procs: cluster.Processes,
    erp_admin_client: TrytonClient,
    erp_server: erp.ErpServer,
) -> None:
    """Orders keep coming in batches and the ERP invoices some sales while the order-state pull runs in
    a loop; every 5 s one of the two clusters is SIGKILLed (workers and all) and restarted 1 s later."""
    clusters = [procs.qcluster("cluster-a", cluster_env), procs.qcluster("cluster-b", cluster_env)]
    procs.pull_loop("pull-orders", cluster_env, stream="orders", interval=0.3)
    orders: list[PurchaseOrder] = []
    invoiced: list[str] = []
    stop = threading.Event()

    def accounting() -> None:
        """Accounting posts the invoice of a confirmed sale now and then, in the ERP (its own client):
        the order-state pull then moves that order on to invoiced, whatever the pushes are doing."""
        client = TrytonClient(erp_server.url, erp_server.database, erp.ERP_ADMIN_USER, erp.ERP_ADMIN_PASSWORD)
        try:
            while not stop.wait(2.0) and len(invoiced) < 10:
                candidates = [
                    o.customer_po_number for o in orders[::3] if o.customer_po_number not in invoiced
                ]
                invoiced.extend(scenario.erp_invoices_post(client, candidates, limit=1))
        finally:
            client.close()

    clerk = threading.Thread(target=accounting, name="accounting", daemon=True)
    started = time.monotonic()
    with cluster.Churn(clusters, every=CHURN_EVERY, down=1.0) as churn:
        clerk.start()
        while time.monotonic() - started < CHURN_SECONDS:
            orders += shop.orders_approve(2, label="K")
            cluster.dispatch_kick(REDIS_URL)
            if int(time.monotonic() - started) % 5 == 0:
                elapsed = time.monotonic() - started
                print(f"  churn +{elapsed:.0f} s, {churn.kills} kills: {_outbox(orders)[:300]}")
            time.sleep(0.5)
        stop.set()
        clerk.join(timeout=60)
    assert churn.errors == []
    assert churn.kills >= CHURN_SECONDS // CHURN_EVERY - 1
    assert all(proc.alive() for proc in clusters)

    drain_seconds = _drain(orders, procs)
    since_last_kill = time.monotonic() - churn.last_kill_at
    # The pull loop moves the invoiced sales' orders on, whatever the pushes did meanwhile.
    cluster.wait_until(
        lambda: (
            set(
                PurchaseOrder.objects.filter(customer_po_number__in=invoiced).values_list("status", flat=True)
            )
            <= {PurchaseOrder.Status.INVOICED}
        ),
        timeout=30,
        message="invoiced orders followed",
    )
    procs.kill_all()
    print(
        f"churn: {len(orders)} orders, {churn.kills} kills, {len(invoiced)} invoiced in the ERP, "
        f"drained {drain_seconds:.1f} s after the churn ({since_last_kill:.1f} s after "
        "the last kill)"
    )

    assert len(orders) >= 40
    if not invoiced:
        refs = [o.customer_po_number for o in orders[:10]]
        print("DIAG sales", scenario.erp_sales(erp_admin_client, refs))
        print("DIAG post", scenario.erp_invoices_post(erp_admin_client, refs))
    assert invoiced, "the ERP invoiced none of the sales: the pull had nothing to move on"
    _assert_delivered(orders, erp_admin_client, procs)
    assert drain_seconds < 60


def test_erp_outage_with_orders_approved_during_it(
    shop: Any,
    cluster_env: dict[str, str],
    procs: cluster.Processes,
    erp_server: erp.ErpServer,
    erp_admin_client: TrytonClient,
) -> None:
    """Tryton stops; 20 orders are approved meanwhile; their jobs retry with the outage as their error
    (none dead, none stuck in flight); Tryton comes back on the same port and database; all go through."""
    procs.qcluster("cluster-a", cluster_env)
    procs.qcluster("cluster-b", cluster_env)
    procs.pull_loop("pull-orders", cluster_env, stream="orders", interval=0.5)
    before = shop.orders_approve(4, label="B")
    cluster.dispatch_kick(REDIS_URL)
    _drain(before, procs, timeout=60)

    erp_server.stop()
    outage_started = time.monotonic()
    during = shop.orders_approve(20, label="O")
    cluster.dispatch_kick(REDIS_URL)
    jobs = SyncJob.objects.filter(kind=ORDER_PUSH, target_id__in=[str(o.pk) for o in during])

    def all_retrying() -> bool:
        return jobs.filter(status=SyncJob.Status.PENDING, attempts__gte=1).exclude(
            last_error=""
        ).count() == len(during)

    try:
        cluster.wait_until(all_retrying, timeout=30, interval=0.3, message="outage seen by every job")
    except cluster.ClusterError:
        pytest.fail(f"jobs did not record the outage: {_outbox(during)}\n{procs.logs()}")
    errors = set(jobs.values_list("last_error", flat=True))
    kinds = set(jobs.values_list("last_error_kind", flat=True))
    while time.monotonic() - outage_started < 10:  # the outage lasts; nothing may die or stick meanwhile
        assert not jobs.filter(status__in=[SyncJob.Status.DEAD, SyncJob.Status.FAILED]).exists(), _outbox(
            during
        )
        time.sleep(0.5)
    assert not jobs.filter(status__in=[SyncJob.Status.DEAD, SyncJob.Status.FAILED]).exists(), _outbox(during)
    assert kinds == {SyncJob.ErrorKind.UNAVAILABLE}, errors

    erp_server.restart()
    drain_seconds = _drain(during, procs, timeout=60)
    procs.kill_all()

    _assert_delivered(before + during, erp_admin_client, procs)
    # Each order's timeline keeps what happened while the ERP was away.
    retried = set(
        SyncEvent.objects.filter(
            outcome=SyncEvent.Outcome.RETRYING, target_id__in=[str(o.pk) for o in during]
        ).values_list("target_id", flat=True)
    )
    assert retried == {str(o.pk) for o in during}
    assert drain_seconds < 30, f"drained {drain_seconds:.1f} s after the ERP came back"


def test_sigterm_stops_a_cluster_within_seconds_and_hands_back_its_jobs(
    shop: Any,
    cluster_env: dict[str, str],
    procs: cluster.Processes,
    erp_admin_client: TrytonClient,
) -> None:
    """SIGTERM to a busy cluster's process group (what systemd does): it is gone within seconds and
    nothing stays in flight claimed by it; another cluster finishes the work, each order once."""
    orders = shop.orders_approve(80, label="T")
    jobs = SyncJob.objects.filter(kind=ORDER_PUSH, target_id__in=[str(o.pk) for o in orders])
    one = procs.qcluster("cluster-a", cluster_env)
    cluster.dispatch_kick(REDIS_URL)
    try:
        cluster.wait_until(
            lambda: jobs.filter(status=SyncJob.Status.IN_FLIGHT).exists(),
            timeout=30,
            interval=0.02,
            message="a job in flight",
        )
    except cluster.ClusterError:
        pytest.fail(f"the cluster never claimed a job: {_outbox(orders)}\n{procs.logs()}")

    seconds = one.terminate(timeout=20)

    assert seconds < 10, f"SIGTERM took {seconds:.1f} s\n{one.log_tail()}"
    held = list(jobs.filter(status=SyncJob.Status.IN_FLIGHT).values_list("claimed_by", "attempts"))
    assert held == [], f"still in flight after the cluster stopped: {held}\n{one.log_tail()}"
    assert jobs.filter(status__in=[SyncJob.Status.FAILED, SyncJob.Status.DEAD]).count() == 0, _outbox(orders)

    procs.qcluster("cluster-b", cluster_env)
    _drain(orders, procs, timeout=60)
    procs.kill_all()
    _assert_delivered(orders, erp_admin_client, procs)


def test_sigterm_while_the_erp_hangs_still_stops_within_seconds(
    shop: Any,
    cluster_env: dict[str, str],
    procs: cluster.Processes,
    erp_server: erp.ErpServer,
    erp_admin_client: TrytonClient,
) -> None:
    """The ERP stops answering (frozen, the connection open) while a worker waits on it: SIGTERM still
    stops the cluster within seconds and hands the claimed jobs back; they go through once it answers."""
    orders = shop.orders_approve(10, label="H")
    jobs = SyncJob.objects.filter(kind=ORDER_PUSH, target_id__in=[str(o.pk) for o in orders])
    os.killpg(erp_server.pid, signal.SIGSTOP)
    try:
        one = procs.qcluster("cluster-a", cluster_env)
        cluster.dispatch_kick(REDIS_URL)
        try:
            cluster.wait_until(
                lambda: jobs.filter(status=SyncJob.Status.IN_FLIGHT).count() == len(orders),
                timeout=30,
                interval=0.1,
                message="the jobs in flight",
            )
        except cluster.ClusterError:
            pytest.fail(f"the cluster never claimed the jobs: {_outbox(orders)}\n{procs.logs()}")
        time.sleep(1)  # the worker is waiting on the frozen ERP

        seconds = one.terminate(timeout=20)

        assert seconds < 10, f"SIGTERM took {seconds:.1f} s\n{one.log_tail()}"
        assert not jobs.filter(status=SyncJob.Status.IN_FLIGHT).exists(), _outbox(orders)
        assert not jobs.filter(status__in=[SyncJob.Status.FAILED, SyncJob.Status.DEAD]).exists()
    finally:
        os.killpg(erp_server.pid, signal.SIGCONT)

    procs.qcluster("cluster-b", cluster_env)
    _drain(orders, procs, timeout=60)
    procs.kill_all()
    _assert_delivered(orders, erp_admin_client, procs)
