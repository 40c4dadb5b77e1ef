"""Quotes under crashes, with real processes: offers are pushed as Tryton quotations while two
``qcluster``s are SIGKILLed in turn and the order-state pull runs; half the quotes are then accepted (their
orders take the quotation over) and half declined (their quotations cancelled), still under the churn.
In the end every quote is in the ERP once: an accepted one as its order's single confirmed sale, a
declined one cancelled, and no job is left in flight. The setting is test_faults.py's."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from apps.accounts.models import StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import SyncJob
from apps.purchase_orders.erp import ORDER_PUSH
from apps.purchase_orders.models import PurchaseOrder
from apps.quotes import services as quotes
from apps.quotes.erp import QUOTE_CANCEL, QUOTE_PUSH
from apps.quotes.models import Quote
from tests.accounts.factories import UserFactory
from tests.erp.test_faults import (  # noqa: F401 - the fixtures of the real-process tests
    CHURN_EVERY,
    REDIS_URL,
    cluster_env,
    erp_admin_client,
    procs,
    scenario,
    shop,
)
from tools import cluster

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

QUOTES = 12
CHURN_SECONDS = 25


def _offer(customers: Any, manager: Any, index: int) -> Quote:
    """An offered quote of one of the shop's customers: two products at 90 % of their list price."""
    company = customers.companies[index % len(customers.companies)]
    products = [customers.products[(index + j) % len(customers.products)] for j in range(2)]
    quote = quotes.quote_request(
        company=company,
        buyer=customers.buyers[company.pk],
        message=f"Quote {index}",
        lines=[quotes.RequestedLine(product, Decimal(2 + j)) for j, product in enumerate(products)],
    )
    quotes.quote_review(quote=quote, actor=manager)
    quotes.quote_offer(
        quote=quote,
        actor=manager,
        lines=[
            quotes.OfferedLine(
                product, Decimal(2 + j), (product.list_price * Decimal("0.9")).quantize(Decimal("0.01"))
            )
            for j, product in enumerate(products)
        ],
        valid_until=timezone.localdate() + timedelta(days=10),
    )
    return Quote.objects.get(pk=quote.pk)


def _jobs_left(quote_ids: list[int], order_ids: list[int]) -> list[str]:
    jobs = SyncJob.objects.filter(
        kind__in=[QUOTE_PUSH, QUOTE_CANCEL], target_id__in=[str(pk) for pk in quote_ids]
    )
    jobs = jobs | SyncJob.objects.filter(kind=ORDER_PUSH, target_id__in=[str(pk) for pk in order_ids])
    return [
        f"{job.kind}:{job.target_id}:{job.status}/{job.attempts}/{job.last_error[:80]!r}"
        for job in jobs.exclude(status=SyncJob.Status.SUCCEEDED)
    ]


def test_quotes_reach_the_erp_once_while_clusters_are_killed(  # type: ignore[no-untyped-def]
    shop: Any,  # noqa: F811
    cluster_env: dict[str, str],  # noqa: F811
    procs: cluster.Processes,  # noqa: F811
    erp_admin_client: TrytonClient,  # noqa: F811
    settings,
) -> None:
    settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = Decimal(50)  # 10 % off goes straight to the buyer
    manager = UserFactory(email="manager@faults.example")
    staff_user_set_roles(user=manager, roles=[StaffRole.ACCOUNT_MANAGER])
    for company in shop.companies:
        company.account_manager = manager
        company.save(update_fields=["account_manager"])
    clusters = [procs.qcluster("cluster-a", cluster_env), procs.qcluster("cluster-b", cluster_env)]
    procs.pull_loop("pull-orders", cluster_env, stream="orders", interval=0.3)

    offered: list[Quote] = []
    accepted: dict[int, str] = {}  # quote id -> PO number
    started = time.monotonic()
    with cluster.Churn(clusters, every=CHURN_EVERY, down=1.0) as churn:
        for index in range(QUOTES):
            offered.append(_offer(shop, manager, index))
            cluster.dispatch_kick(REDIS_URL)
            time.sleep(0.6)
        for index, quote in enumerate(offered):  # the buyers answer while the pushes may still run
            if index % 2 == 0:
                number = f"F-{shop.tag}-Q{index:02d}"
                quotes.quote_accept(
                    quote=quote, actor=shop.buyers[quote.company_id], customer_po_number=number
                )
                accepted[quote.pk] = number
            else:
                quotes.quote_decline(quote=quote, actor=manager, message="Out of stock")
            cluster.dispatch_kick(REDIS_URL)
            time.sleep(0.4)
        while time.monotonic() - started < CHURN_SECONDS:
            time.sleep(0.5)
    assert churn.errors == []
    assert churn.kills >= 3

    orders = list(PurchaseOrder.objects.filter(quote__in=list(accepted)).select_related("company"))
    assert len(orders) == len(accepted)
    quote_ids, order_ids = [quote.pk for quote in offered], [order.pk for order in orders]
    try:
        cluster.wait_until(
            lambda: not _jobs_left(quote_ids, order_ids), timeout=90, interval=0.5, message="drained"
        )
    except cluster.ClusterError:
        pytest.fail(f"jobs left: {_jobs_left(quote_ids, order_ids)}\n{procs.logs()}")
    procs.kill_all()

    parties = {company.pk: company.erp_party_id for company in shop.companies}
    references = [quote.number for quote in offered] + list(accepted.values())
    sales: dict[str, list[dict[str, Any]]] = {}
    for sale in erp_admin_client.model(
        "sale.sale",
        "search_read",
        [["reference", "in", references], ["party", "in", [int(party) for party in parties.values()]]],
        0,
        None,
        None,
        ["reference", "party", "state", "lines"],
    ):
        sales.setdefault(sale["reference"], []).append(sale)
    for quote in offered:
        party = int(parties[quote.company_id])
        if quote.pk in accepted:
            # The quotation became the order's sale: one sale, under the PO number, confirmed.
            assert quote.number not in sales, f"{quote.number} left a quotation beside its order"
            [sale] = sales[accepted[quote.pk]]
            assert (sale["party"], sale["state"]) == (party, "processing"), sale
        else:
            # Declined: its quotation (if the push got there first) is cancelled, never left open.
            found = sales.get(quote.number, [])
            assert len(found) <= 1, found
            assert all(sale["state"] == "cancelled" for sale in found), found
    assert all(order.erp_reference for order in PurchaseOrder.objects.filter(pk__in=order_ids))
    print(
        f"quotes under churn: {QUOTES} quotes, {churn.kills} kills, {len(accepted)} ordered, "
        f"{sum(1 for q in offered if q.number in sales)} declined quotations cancelled in the ERP"
    )
