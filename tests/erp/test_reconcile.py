"""Reconciliation against the real Tryton: each class of drift made behind the portal's back (in the ERP
or in the portal's database), found by a run, fixed by its fix, gone on the next run; a run stopped
half-way resumes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role
from apps.accounts.services import company_create
from apps.catalog.erp import PRODUCTS, STOCK
from apps.catalog.models import Product, StockLevel
from apps.credit.erp import INVOICES
from apps.credit.models import Invoice
from apps.erp import inbound, reconcile, services
from apps.erp.connectors.base import price_list_marker
from apps.erp.exceptions import InvalidDriftAction
from apps.erp.models import Drift, ReconcileRun, SyncEvent
from apps.pricing import services as pricing
from apps.pricing.erp import PRICE_LISTS, price_list_key
from apps.pricing.models import PriceTier
from apps.purchase_orders import services as orders
from apps.purchase_orders.erp import ORDER_STATES
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.erp_fixtures import erp_invoice_create, erp_invoice_pay

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
        pages.append(run.position)
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


def _pushed_order(erp_connection, connector, number: str):  # type: ignore[no-untyped-def]
    _pull(erp_connection, connector, CUSTOMERS, PRODUCTS)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    buyer = MembershipFactory(company=acme, role=Role.BUYER).user
    order = orders.purchase_order_draft_get(company=acme, buyer=buyer)
    order.customer_po_number = number
    order.ship_to = acme.ship_to_addresses.filter(erp_address_id__gt="").first()
    order.save()
    orders.purchase_order_lines_add(
        purchase_order=order,
        lines=[ParsedLine(1, "SKU-00001", Decimal("5"), ""), ParsedLine(2, "SKU-00002", Decimal("3"), "")],
    )
    orders.purchase_order_submit_and_route(purchase_order=order, actor=buyer)
    services.dispatch(connection=erp_connection, connector=connector)
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.ACCEPTED
    return order


def test_a_pushed_order_agrees_and_a_second_erp_sale_with_its_number_is_a_duplicate(
    erp_connection, connector, erp_admin, settings
) -> None:
    settings.ERP_SYNC_ENABLED = False
    order = _pushed_order(erp_connection, connector, "PO-REC-1")

    assert _run(erp_connection, connector, ORDER_STATES).differences == 0

    (sale,) = erp_admin.model(
        "sale.sale", "search_read", [["reference", "=", "PO-REC-1"]], 0, 1, None, ["party", "lines"]
    )
    (line,) = erp_admin.model("sale.line", "read", sale["lines"][:1], ["product", "unit", "unit_price"])
    erp_admin.model(
        "sale.sale",
        "create",
        [
            {
                "party": sale["party"],
                "reference": "PO-REC-1",
                "lines": [
                    [
                        "create",
                        [
                            {
                                "product": line["product"],
                                "quantity": 1,
                                "unit": line["unit"],
                                "unit_price": line["unit_price"],
                            }
                        ],
                    ]
                ],
            }
        ],
    )

    _run(erp_connection, connector, ORDER_STATES)

    duplicated = [drift for drift in _open(ORDER_STATES) if drift.kind == Drift.Kind.DUPLICATED]
    assert len(duplicated) == 1
    assert duplicated[0].key == f"{order.company.erp_party_id}:PO-REC-1"
    assert len(duplicated[0].details["erp_keys"]) == 2
    assert duplicated[0].target_id == str(order.pk)


def test_an_order_whose_erp_sale_is_gone_is_flagged_for_a_person(erp_connection, connector, settings) -> None:
    settings.ERP_SYNC_ENABLED = False
    order = _pushed_order(erp_connection, connector, "PO-REC-2")
    PurchaseOrder.objects.filter(pk=order.pk).update(customer_po_number="PO-REC-2-RENAMED")  # behind its back

    _run(erp_connection, connector, ORDER_STATES)

    (drift,) = [drift for drift in _open(ORDER_STATES) if drift.kind == Drift.Kind.DELETED_IN_ERP]
    order.refresh_from_db()
    assert (drift.label, drift.target_id) == ("PO-REC-2-RENAMED", str(order.pk))
    assert order.status == PurchaseOrder.Status.ACCEPTED  # flagged, never changed or deleted


def test_a_stock_level_changed_in_the_portals_database_is_found_and_repulled(
    erp_connection, connector, settings
) -> None:
    settings.ERP_SYNC_ENABLED = False
    _pull(erp_connection, connector, PRODUCTS, STOCK)
    level = StockLevel.objects.select_related("product").get(product__sku="SKU-00001")
    right = level.quantity
    StockLevel.objects.filter(pk=level.pk).update(quantity=right + 100)  # behind the portal's back

    _run(erp_connection, connector, STOCK)

    (drift,) = _open(STOCK)
    assert (drift.kind, drift.label) == (Drift.Kind.FIELD_DIFFERS, "SKU-00001")
    assert drift.details == {"quantity": [f"{(right + 100).normalize():f}", f"{right.normalize():f}"]}
    reconcile.drift_repull(drift=drift, actor=UserFactory())
    services.dispatch(connection=erp_connection, connector=connector)
    level.refresh_from_db()
    assert level.quantity == right
    _run(erp_connection, connector, STOCK)
    assert _open(STOCK) == []


def test_an_invoice_paid_in_the_erp_is_found_and_repulled_and_a_vanished_one_is_flagged(
    erp_connection, connector, settings
) -> None:
    settings.ERP_SYNC_ENABLED = False
    _pull(erp_connection, connector, CUSTOMERS)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    invoice_id = erp_invoice_create(
        connector.client,
        party_id=int(acme.erp_party_id),
        amount=Decimal("120"),
        invoice_date=timezone.localdate(),
    )
    _pull(erp_connection, connector, INVOICES)
    invoice = Invoice.objects.get(erp_id=str(invoice_id))
    assert _run(erp_connection, connector, INVOICES).differences == 0

    erp_invoice_pay(connector.client, invoice_id, Decimal("50"))  # in the ERP, not pulled
    ghost = Invoice.objects.create(
        company=acme,
        erp_id="999999",
        number="INV-GONE",
        state=Invoice.State.POSTED,
        total_amount=Decimal("10"),
    )

    _run(erp_connection, connector, INVOICES)

    gone, paid = _open(INVOICES)  # by kind: deleted_in_erp, field_differs
    assert (paid.kind, paid.target_id, paid.details) == (
        Drift.Kind.FIELD_DIFFERS,
        str(invoice.pk),
        {"amount_paid": ["0", "50"]},
    )
    assert reconcile.fixes_for(paid) == ["repull", "accept"]
    assert (gone.kind, gone.label, gone.target_id) == (Drift.Kind.DELETED_IN_ERP, "INV-GONE", str(ghost.pk))
    assert "repull" not in reconcile.fixes_for(gone)
    assert Invoice.objects.filter(pk=ghost.pk).exists()  # flagged for a person, never deleted

    reconcile.drift_repull(drift=paid, actor=UserFactory())
    services.dispatch(connection=erp_connection, connector=connector)
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("50")
    reconcile.drift_accept(drift=gone, actor=UserFactory(), reason="Voided in the old ledger")
    _run(erp_connection, connector, INVOICES)
    assert _open(INVOICES) == []


def test_a_price_list_edited_in_the_erp_is_found_and_a_repush_puts_the_portals_prices_back(
    erp_connection, connector, erp_admin, settings
) -> None:
    settings.ERP_SYNC_ENABLED = False
    _pull(erp_connection, connector, CUSTOMERS, PRODUCTS)
    actor = UserFactory()
    gold = PriceTier.objects.create(name="Gold", default_discount_percent=Decimal("10"))
    acme = Company.objects.get(erp_customer_code="CUST-001")
    pricing.company_tier_assign(actor=actor, company=acme, tier=gold)
    pricing.tier_price_save(
        actor=actor,
        tier=gold,
        product=Product.objects.get(sku="SKU-00001"),
        min_quantity=Decimal("10"),
        unit_price=Decimal("4.2500"),
        valid_from=timezone.localdate(),
        valid_to=None,
    )
    assert services.dispatch(connection=erp_connection, connector=connector).failed == 0
    assert _run(erp_connection, connector, PRICE_LISTS).differences == 0
    (price_list,) = erp_admin.model(
        "product.price_list",
        "search_read",
        [["name", "like", f"%{price_list_marker(price_list_key(acme))}"]],
        0,
        None,
        None,
        ["lines"],
    )
    erp_admin.model(
        "product.price_list.line", "write", price_list["lines"][:1], {"formula": "Decimal('1.1100')"}
    )

    _run(erp_connection, connector, PRICE_LISTS)

    (drift,) = _open(PRICE_LISTS)
    assert (drift.kind, drift.target_id, drift.label) == (Drift.Kind.FIELD_DIFFERS, str(acme.pk), acme.name)
    portal_lines, erp_lines = drift.details["lines"]
    assert "4.25" in portal_lines
    assert portal_lines != erp_lines
    assert "repush" in reconcile.fixes_for(drift)
    reconcile.drift_repush(drift=drift, actor=actor)
    assert services.dispatch(connection=erp_connection, connector=connector).failed == 0
    _run(erp_connection, connector, PRICE_LISTS)
    drift.refresh_from_db()
    assert drift.status == Drift.Status.RESOLVED
    assert _open(PRICE_LISTS) == []
