"""Fault tests with real processes against Business Central and Odoo (their simulators, served from this
test process over HTTP): two ``qcluster``s and an order-state pull loop, on this test's PostgreSQL
database, push orders while one cluster at a time is SIGKILLed, two writes' answers are lost after the
ERP committed them, and the ERP answers a burst of 503s and 429s. In the end every order is in the ERP
exactly once (one sale per PO number), every push job succeeded and none is left in flight. See
test_faults.py for the Tryton version (the ERP itself killed and stopped too) and how work reaches the
clusters."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection as db_connection

from apps.erp import services
from apps.erp.models import ErpConnection, SyncJob
from apps.purchase_orders.erp import ORDER_PUSH
from apps.purchase_orders.models import PurchaseOrder
from tools import cluster
from tools.erp_sim.business_central import CLIENT_ID, CLIENT_SECRET, COMPANY_NAME, BusinessCentralSimulator
from tools.erp_sim.odoo import API_KEY, DATABASE, OdooSim

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

REDIS_URL = "redis://127.0.0.1:6379/14"
CHURN_SECONDS = 20
CHURN_EVERY = 5.0


@dataclass
class Erp:
    """An ERP's simulator, the ERP_* settings that reach it, the PO numbers of its sales, and the portal
    status a pushed order reaches there (BC's API cannot release an order: it stays sent)."""

    settings: dict[str, str]
    secret: str
    sales: Callable[[], list[str]]
    fail_next: Callable[[int, int], None]
    drop_next_write: Callable[[int], None]
    pushed_status: str


def _business_central(sim: BusinessCentralSimulator) -> Erp:
    for n in range(2, 13):  # the scenario orders cheap items (credit limits stay out of the way)
        sim.edit("items", sim.item_id(f"SKU-{n:05d}"), unitPrice=Decimal("1.99"))
    return Erp(
        {
            "ERP_KIND": ErpConnection.Kind.BUSINESS_CENTRAL,
            "ERP_URL": sim.api_url,
            "ERP_DATABASE": COMPANY_NAME,
            "ERP_USERNAME": CLIENT_ID,
            "ERP_BC_TENANT_ID": sim.tenant_id,
            "ERP_BC_TOKEN_URL": sim.token_url,
        },
        CLIENT_SECRET,
        lambda: [str(order["externalDocumentNumber"]) for order in sim.records("salesOrders")],
        sim.fail_next,
        sim.drop_next_write,
        PurchaseOrder.Status.SENT_TO_ERP,
    )


def _odoo(sim: OdooSim) -> Erp:
    return Erp(
        {
            "ERP_KIND": ErpConnection.Kind.ODOO,
            "ERP_URL": sim.url,
            "ERP_DATABASE": DATABASE,
            "ERP_USERNAME": "portal-bot",
        },
        API_KEY,
        lambda: [str(order["client_order_ref"]) for order in sim.find("sale.order", [])],
        lambda count, status: sim.fail_next(count, status),
        sim.drop_next_write,
        PurchaseOrder.Status.ACCEPTED,
    )


@pytest.fixture(params=["business_central", "odoo"])
def erp(request: pytest.FixtureRequest, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Erp]:
    """The ERP's simulator, served from this process; its settings set here too (the same connection row
    the clusters use)."""
    simulator: BusinessCentralSimulator | OdooSim
    if request.param == "business_central":
        simulator = BusinessCentralSimulator().start()
        side = _business_central(simulator)
    else:
        simulator = OdooSim().start()
        side = _odoo(simulator)
    for name, value in side.settings.items():
        setattr(settings, name, value)
    monkeypatch.setenv("ERP_PASSWORD", side.secret)
    yield side
    simulator.stop()


@pytest.fixture
def shop(erp: Erp) -> Any:
    from tools import sync_scenario

    sync_scenario.master_data_pull(services.connection_get_default())
    return sync_scenario.Shop.open()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[cluster.Processes]:
    with cluster.Processes(tmp_path / "logs") as processes:
        yield processes
    leftovers = {name: proc.members() for name, proc in processes.procs.items() if proc.members()}
    assert not leftovers, f"processes left behind: {leftovers}"


def _jobs(orders: list[PurchaseOrder]) -> Counter[str]:
    return Counter(
        SyncJob.objects.filter(kind=ORDER_PUSH, target_id__in=[str(o.pk) for o in orders]).values_list(
            "status", flat=True
        )
    )


def test_sigkill_churn_and_a_burst_of_503s_and_429s_leave_every_order_in_the_erp_exactly_once(
    erp: Erp,
    shop: Any,
    procs: cluster.Processes,
    settings: Any,
) -> None:
    cluster.redis_flush(REDIS_URL)
    env = cluster.portal_env(
        database_url=cluster.database_url(db_connection.settings_dict),
        redis_url=REDIS_URL,
        erp_password=erp.secret,
        secret_key=settings.SECRET_KEY,
        workers=1,
        extra={
            **erp.settings,
            "ERP_PUSH_BATCH_SIZE": "10",
            "ERP_BACKOFF_BASE_SECONDS": "1",
            "ERP_BACKOFF_MAX_SECONDS": "4",
            "ERP_OUTBOX_WAKER_SECONDS": "1",
        },
    )
    clusters = [procs.qcluster("cluster-a", env), procs.qcluster("cluster-b", env)]
    procs.pull_loop("pull-orders", env, stream="orders", interval=0.3)
    orders: list[PurchaseOrder] = []
    started = time.monotonic()
    faulted = False
    with cluster.Churn(clusters, every=CHURN_EVERY, down=1.0) as churn:
        while time.monotonic() - started < CHURN_SECONDS:
            orders += shop.orders_approve(2, label="B")
            cluster.dispatch_kick(REDIS_URL)
            if not faulted and time.monotonic() - started > CHURN_SECONDS / 2:
                erp.drop_next_write(2)  # two writes commit in the ERP, their answers are lost...
                erp.fail_next(6, 503)  # ...its service is unavailable for a moment...
                erp.fail_next(4, 429)  # ...then throttles
                faulted = True
            time.sleep(0.5)
    assert churn.errors == []
    assert churn.kills >= CHURN_SECONDS // CHURN_EVERY - 1
    assert faulted

    try:
        cluster.wait_until(
            lambda: _jobs(orders) == {SyncJob.Status.SUCCEEDED: len(orders)},
            timeout=90,
            interval=0.5,
            message="drained",
        )
    except cluster.ClusterError:
        pytest.fail(f"outbox not drained: {dict(_jobs(orders))}\n{procs.logs()}")
    procs.kill_all()

    assert len(orders) >= 30
    sales = Counter(erp.sales())
    numbers = [order.customer_po_number for order in orders]
    assert {number: sales[number] for number in numbers} == dict.fromkeys(numbers, 1), procs.logs()
    assert not SyncJob.objects.filter(status=SyncJob.Status.IN_FLIGHT).exists()
    # Confirmed by the ERP (Odoo), or sent and waiting for its people to release it (BC).
    assert set(
        PurchaseOrder.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)
    ) == {erp.pushed_status}
    assert not PurchaseOrder.objects.filter(pk__in=[o.pk for o in orders], erp_reference="").exists()
