"""Reconciliation against the real Tryton: each class of drift made behind the portal's back (in the ERP
or in the portal's database), found by a run, fixed by its fix, gone on the next run; a run stopped
half-way resumes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.accounts.services import company_create
from apps.catalog.erp import PRODUCTS
from apps.catalog.models import Product
from apps.erp import inbound, reconcile, services
from apps.erp.exceptions import InvalidDriftAction
from apps.erp.models import Drift, ReconcileRun, SyncEvent
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=False)


class Stop(Exception):
    """Stands in for a worker lost half-way through a run."""


def _pull(erp_connection, connector, *streams: str) -> None:
    for stream in streams:
        report = inbound.pull_stream(connection=erp_connection, stream=stream, connector=connector)
        assert not report.error


def _run(erp_connection, connector, entity: str, **kwargs) -> ReconcileRun:
    run = reconcile.reconcile_run(entity=entity, connection=erp_connection, connector=connector, **kwargs)
    assert run.status == ReconcileRun.Status.DONE, run.last_error
    return run


def _open(entity: str) -> list[Drift]:
    return list(Drift.objects.filter(entity=entity, status__in=reconcile.OPEN).order_by("kind", "key"))


def _template_of(erp_admin, sku: str) -> int:
    (row,) = erp_admin.model("product.product", "search_read", [["code", "=", sku]], 0, 1, None, ["template"])
    return row["template"]


def test_products_that_agree_show_no_drift(erp_connection, connector) -> None:
    _pull(erp_connection, connector, PRODUCTS)

    run = _run(erp_connection, connector, PRODUCTS, page_size=500)

    assert (run.erp_rows, run.portal_rows, run.differences) == (1200, 1200, 0)
    assert _open(PRODUCTS) == []


def test_a_price_changed_in_the_erp_behind_the_portals_back_is_found_repulled_and_gone(
    erp_connection, connector, erp_admin, settings
) -> None:
    settings.ERP_SYNC_ENABLED = False  # the outbox is dispatched here, by hand
    _pull(erp_connection, connector, PRODUCTS)
    erp_admin.model(
        "product.template", "write", [_template_of(erp_admin, "SKU-00042")], {"list_price": Decimal("99.5")}
    )

    _run(erp_connection, connector, PRODUCTS)

    (drift,) = _open(PRODUCTS)
    product = Product.objects.get(sku="SKU-00042")
    assert (drift.kind, drift.label, drift.target_id) == (
        Drift.Kind.FIELD_DIFFERS,
        "SKU-00042",
        str(product.pk),
    )
    assert drift.details == {"list_price": [f"{product.list_price.normalize():f}", "99.5"]}
    assert reconcile.fixes_for(drift) == ["repull", "accept"]

    reconcile.drift_repull(drift=drift, actor=UserFactory())
    services.dispatch(connection=erp_connection, connector=connector)

    product.refresh_from_db()
    assert product.list_price == Decimal("99.5")
    _run(erp_connection, connector, PRODUCTS)
    drift.refresh_from_db()
    assert drift.status == Drift.Status.RESOLVED
    assert _open(PRODUCTS) == []


def test_a_product_gone_from_the_erp_stops_being_orderable_and_is_never_deleted(
    erp_connection, connector
) -> None:
    _pull(erp_connection, connector, PRODUCTS)
    ghost = Product.objects.create(erp_id="999999", sku="GHOST-1", name="Gone", list_price=Decimal("1"))

    _run(erp_connection, connector, PRODUCTS)

    (drift,) = _open(PRODUCTS)
    ghost.refresh_from_db()
    assert (drift.kind, drift.key, drift.label) == (Drift.Kind.DELETED_IN_ERP, "999999", "GHOST-1")
    assert ghost.is_active is False
    assert Product.objects.filter(pk=ghost.pk).exists()


def test_a_product_missing_in_the_portal_is_found_and_a_repull_brings_it(
    erp_connection, connector, settings
) -> None:
    settings.ERP_SYNC_ENABLED = False
    _pull(erp_connection, connector, PRODUCTS)
    lost = Product.objects.get(sku="SKU-00100")
    erp_id = lost.erp_id
    lost.delete()  # in the portal's database, behind its back

    _run(erp_connection, connector, PRODUCTS)

    (drift,) = _open(PRODUCTS)
    assert (drift.kind, drift.key, drift.label) == (Drift.Kind.MISSING_IN_PORTAL, erp_id, "SKU-00100")
    reconcile.drift_repull(drift=drift, actor=UserFactory())
    services.dispatch(connection=erp_connection, connector=connector)
    assert Product.objects.filter(erp_id=erp_id, sku="SKU-00100").exists()
    _run(erp_connection, connector, PRODUCTS)
    assert _open(PRODUCTS) == []


def test_a_credit_limit_changed_in_the_erp_can_be_accepted_with_a_reason(
    erp_connection, connector, erp_admin
) -> None:
    _pull(erp_connection, connector, CUSTOMERS)
    (party,) = erp_admin.model("party.party", "search", [["code", "=", "CUST-001"]], 0, 1, None)
    erp_admin.model("party.party", "write", [party], {"credit_limit_amount": Decimal("31000")})
    actor = UserFactory()

    _run(erp_connection, connector, CUSTOMERS)

    (drift,) = _open(CUSTOMERS)
    assert drift.kind == Drift.Kind.FIELD_DIFFERS
    assert drift.details == {"credit_limit": ["25000", "31000"]}
    with pytest.raises(InvalidDriftAction):
        reconcile.drift_accept(drift=drift, actor=actor, reason="  ")
    drift.refresh_from_db()
    assert drift.status == Drift.Status.OPEN

    reconcile.drift_accept(drift=drift, actor=actor, reason="Raised by phone; the pull brings it tonight")

    _run(erp_connection, connector, CUSTOMERS)
    drift.refresh_from_db()
    assert (drift.status, drift.accepted_by, drift.accepted_reason) == (
        Drift.Status.ACCEPTED,
        actor,
        "Raised by phone; the pull brings it tonight",
    )
    assert SyncEvent.objects.filter(target_id=drift.target_id, message__contains="accepted as is").exists()


def test_a_company_the_erp_never_got_is_missing_there_and_a_repush_creates_it(
    erp_connection, connector, settings
) -> None:
    settings.ERP_SYNC_ENABLED = False
    _pull(erp_connection, connector, CUSTOMERS)
    company = company_create(name="Never Sent Supply", account_manager=UserFactory(), push_to_erp=True)
    services.dispatch(connection=erp_connection, connector=connector, max_seconds=0)  # nothing pushed

    _run(erp_connection, connector, CUSTOMERS)

    (drift,) = _open(CUSTOMERS)
    assert (drift.kind, drift.label) == (Drift.Kind.MISSING_IN_ERP, "Never Sent Supply")
    assert "repush" in reconcile.fixes_for(drift)
    reconcile.drift_repush(drift=drift, actor=UserFactory())
    services.dispatch(connection=erp_connection, connector=connector)
    company.refresh_from_db()
    assert company.erp_party_id
    _run(erp_connection, connector, CUSTOMERS)
    assert _open(CUSTOMERS) == []


def test_a_run_stopped_half_way_resumes_after_its_last_page(erp_connection, connector) -> None:
    _pull(erp_connection, connector, PRODUCTS)
    pages = []

    def stop_after_two(run: ReconcileRun) -> None:
        pages.append(run.position_id)
        if len(pages) == 2:
            raise Stop

    with pytest.raises(Stop):
        reconcile.reconcile_run(
            entity=PRODUCTS,
            connection=erp_connection,
            connector=connector,
            page_size=300,
            after_page=stop_after_two,
        )
    stopped = ReconcileRun.objects.get()
    assert (stopped.status, stopped.erp_rows) == (ReconcileRun.Status.RUNNING, 600)
    # Another run waits while the stopped worker's lease holds; once it expired, the run resumes.
    assert (
        reconcile.reconcile_run(entity=PRODUCTS, connection=erp_connection, connector=connector).pk
        == stopped.pk
    )
    ReconcileRun.objects.filter(pk=stopped.pk).update(lease_expires_at=timezone.now())

    resumed = _run(erp_connection, connector, PRODUCTS, page_size=300)

    assert resumed.pk == stopped.pk
    assert (resumed.erp_rows, resumed.differences) == (1200, 0)
    assert _open(PRODUCTS) == []
