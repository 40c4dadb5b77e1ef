"""Inbound streams: pull pages by cursor from the ERP and upsert them, never touching portal-owned fields."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import Company, ShipToAddress
from apps.catalog.models import Category, Product, StockLevel
from apps.credit.models import CreditAccount, Invoice, PaymentTerm
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import (
    Connector,
    Cursor,
    CustomerRecord,
    ErpError,
    InvoiceRecord,
    Page,
    ProductRecord,
    StockRecord,
)
from apps.erp.models import ErpConnection, SyncCursor, SyncEvent

logger = logging.getLogger(__name__)

Stream = SyncCursor.Stream


@dataclass
class PullReport:
    stream: str
    pages: int = 0
    seen: int = 0
    changed: int = 0
    error: str = ""
    skipped: bool = False


def _events(connection: ErpConnection, model: type, changes: list[tuple[Any, str, str]]) -> None:
    """Timeline rows for records a pull created or changed (one bulk insert per page)."""
    if not changes:
        return
    content_type = ContentType.objects.get_for_model(model)
    SyncEvent.objects.bulk_create(
        SyncEvent(
            connection=connection,
            target_type=content_type,
            target_id=str(pk),
            direction=SyncEvent.Direction.INBOUND,
            outcome=outcome,
            message=message,
        )
        for pk, outcome, message in changes
    )


# --- Customers -------------------------------------------------------------------------------------------


def _payment_term(record: CustomerRecord, terms: dict[str, PaymentTerm]) -> PaymentTerm | None:
    if not record.payment_term_id:
        return None
    term = terms.get(record.payment_term_id)
    if (
        term is None
        or term.name != (record.payment_term_name or term.name)
        or term.net_days != record.payment_term_days
    ):
        term, _ = PaymentTerm.objects.update_or_create(
            erp_id=record.payment_term_id,
            defaults={
                "name": record.payment_term_name or record.payment_term_id,
                "net_days": record.payment_term_days,
            },
        )
        terms[record.payment_term_id] = term
    return term


def _address_label(company: Company, record_street: str, city: str) -> str:
    base = (f"{city}: {record_street}" if city else record_street)[:90] or "ERP address"
    label, n = base, 2
    while ShipToAddress.objects.filter(company=company, label=label).exists():
        label, n = f"{base} ({n})", n + 1
    return label


def _apply_addresses(company: Company, record: CustomerRecord) -> list[str]:
    changes = []
    existing = {
        address.erp_address_id: address for address in company.ship_to_addresses.exclude(erp_address_id="")
    }
    has_default = company.ship_to_addresses.filter(is_default=True).exists()
    for erp_address in record.addresses:
        values = {
            "street": erp_address.street,
            "city": erp_address.city,
            "postal_code": erp_address.postal_code,
            "region": erp_address.region,
            "country": erp_address.country or "US",
        }
        address = existing.get(erp_address.erp_id)
        if address is None:
            ShipToAddress.objects.create(
                company=company,
                erp_address_id=erp_address.erp_id,
                label=_address_label(company, erp_address.street, erp_address.city),
                is_default=not has_default,
                **values,
            )
            has_default = True
            changes.append(f"address {erp_address.city} added")
        elif any(getattr(address, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(address, name, value)
            address.save(update_fields=[*values, "updated_at"])
            changes.append(f"address {erp_address.city} updated")
    return changes


def _apply_hold(company: Company, record: CustomerRecord) -> list[str]:
    """The ERP's credit hold: put on when the ERP says so (unless finance already holds the company
    here), lifted only when the ERP set it; a hold finance put on in the portal is the portal's."""
    held_by_erp = company.hold_source == Company.HoldSource.ERP
    if record.on_hold and not company.is_on_hold:
        company.status = Company.Status.ON_HOLD
        company.hold_source = Company.HoldSource.ERP
        company.hold_reason = record.hold_reason or "On credit hold in the ERP"
        change = "put on hold by the ERP"
    elif record.on_hold and held_by_erp and record.hold_reason and record.hold_reason != company.hold_reason:
        company.hold_reason = record.hold_reason
        change = "hold reason changed in the ERP"
    elif not record.on_hold and held_by_erp:
        company.status = Company.Status.ACTIVE
        company.hold_source = Company.HoldSource.NONE
        company.hold_reason = ""
        change = "hold lifted in the ERP"
    else:
        return []
    company.save(update_fields=["status", "hold_source", "hold_reason", "updated_at"])
    return [change]


def apply_customers(connection: ErpConnection, records: list[CustomerRecord]) -> int:
    terms = {term.erp_id: term for term in PaymentTerm.objects.all()}
    by_party = {
        c.erp_party_id: c for c in Company.objects.filter(erp_party_id__in=[r.erp_id for r in records])
    }
    by_code = {
        c.erp_customer_code: c
        for c in Company.objects.filter(erp_customer_code__in=[r.code for r in records if r.code])
    }
    accounts = {
        a.company_id: a
        for a in CreditAccount.objects.filter(company__in=[*by_party.values(), *by_code.values()])
    }
    events: list[tuple[Any, str, str]] = []
    for record in records:
        company = by_party.get(record.erp_id) or (by_code.get(record.code) if record.code else None)
        term = _payment_term(record, terms)
        outcome = SyncEvent.Outcome.UPDATED
        if company is None:
            if not (settings.ERP_IMPORT_NEW_CUSTOMERS and term is not None and record.code):
                continue  # not a customer (the ERP's own company, suppliers, …)
            company = Company.objects.create(
                name=record.name,
                erp_customer_code=record.code,
                erp_party_id=record.erp_id,
                erp_updated_at=record.changed_at,
            )
            outcome = SyncEvent.Outcome.CREATED
        changes = []
        erp_values = {"name": record.name, "erp_customer_code": record.code, "erp_party_id": record.erp_id}
        changed_fields = [name for name, value in erp_values.items() if getattr(company, name) != value]
        if changed_fields or company.erp_updated_at != record.changed_at:
            for name in changed_fields:
                setattr(company, name, erp_values[name])
            company.erp_updated_at = record.changed_at
            company.save(update_fields=[*changed_fields, "erp_updated_at", "updated_at"])
            changes.extend(changed_fields)
        account = accounts.get(company.pk) or CreditAccount(company=company)
        if (
            account.pk is None
            or account.payment_term_id != (term.pk if term else None)
            or account.credit_limit != record.credit_limit
        ):
            if account.pk is not None:
                if account.credit_limit != record.credit_limit:
                    changes.append(f"credit limit {account.credit_limit} → {record.credit_limit}")
                if account.payment_term_id != (term.pk if term else None):
                    changes.append(f"payment term → {term.name if term else 'none'}")
            account.payment_term = term
            account.credit_limit = record.credit_limit
            account.save()
        changes.extend(_apply_hold(company, record))
        changes.extend(_apply_addresses(company, record))
        if outcome == SyncEvent.Outcome.CREATED or changes:
            message = (
                "customer created from the ERP"
                if outcome == SyncEvent.Outcome.CREATED
                else "; ".join(changes)
            )
            events.append((company.pk, outcome, message))
    _events(connection, Company, events)
    return len(events)


# --- Products --------------------------------------------------------------------------------------------


def _categories(records: list[ProductRecord]) -> dict[str, Category]:
    wanted = {r.category_id: r.category_name or r.category_id for r in records if r.category_id}
    categories = {c.erp_id: c for c in Category.objects.filter(erp_id__in=wanted)}
    for erp_id, name in wanted.items():
        category = categories.get(erp_id)
        if category is None:
            categories[erp_id] = Category.objects.create(erp_id=erp_id, name=name)
        elif category.name != name:
            category.name = name
            category.save(update_fields=["name", "updated_at"])
    return categories


def apply_products(connection: ErpConnection, records: list[ProductRecord]) -> int:
    categories = _categories(records)
    existing = {p.erp_id: p for p in Product.objects.filter(erp_id__in=[r.erp_id for r in records])}
    to_create: list[Product] = []
    to_update: list[Product] = []
    events: list[tuple[Any, str, str]] = []
    for record in records:
        values = {
            "sku": record.sku,
            "name": record.name,
            "category": categories.get(record.category_id) if record.category_id else None,
            "unit": record.unit,
            "list_price": record.list_price,
            "is_active": record.is_active,
            "erp_updated_at": record.changed_at,
        }
        product = existing.get(record.erp_id)
        if product is None:
            to_create.append(Product(erp_id=record.erp_id, **values))
            continue
        changed = [name for name, value in values.items() if getattr(product, name) != value]
        if not changed:
            continue  # re-read inside the overlap window: nothing new
        notes = []
        if "list_price" in changed:
            notes.append(f"list price {product.list_price} → {record.list_price}")
        if "is_active" in changed:
            notes.append("activated" if record.is_active else "deactivated")
        for name in changed:
            setattr(product, name, values[name])
        to_update.append(product)
        real = [name for name in changed if name != "erp_updated_at"]
        if real:
            events.append(
                (product.pk, SyncEvent.Outcome.UPDATED, "; ".join(notes) or ", ".join(real) + " changed")
            )
    if to_create:
        created = Product.objects.bulk_create(to_create)
        events.extend((p.pk, SyncEvent.Outcome.CREATED, "product created from the ERP") for p in created)
    if to_update:
        now = timezone.now()
        for product in to_update:
            product.updated_at = now
        # Only ERP-owned fields: the portal's ordering rules and notes are never written by a pull.
        Product.objects.bulk_update(to_update, [*Product.ERP_FIELDS, "updated_at"])
    _events(connection, Product, events)
    return len(to_create) + len(to_update)


def apply_stock(connection: ErpConnection, records: list[StockRecord]) -> int:
    products = dict(
        Product.objects.filter(erp_id__in=[r.product_erp_id for r in records]).values_list("erp_id", "pk")
    )
    levels = {
        level.product_id: level for level in StockLevel.objects.filter(product_id__in=products.values())
    }
    to_create, to_update = [], []
    for record in records:
        product_id = products.get(record.product_erp_id)
        if product_id is None:
            continue  # the product arrives with the next products pull; its stock with the one after
        level = levels.get(product_id)
        if level is None:
            to_create.append(StockLevel(product_id=product_id, quantity=record.quantity, as_of=record.as_of))
        else:
            level.quantity, level.as_of = record.quantity, record.as_of
            to_update.append(level)
    StockLevel.objects.bulk_create(to_create)
    StockLevel.objects.bulk_update(to_update, ["quantity", "as_of"])
    return len(to_create) + len(to_update)


def apply_orders(connection: ErpConnection, records: list[Any]) -> int:
    """Move each portal order to what its ERP sale now says, step by allowed step, with a history row each."""
    from apps.purchase_orders.erp import path_to, stages_not_reached, status_from_erp
    from apps.purchase_orders.models import PurchaseOrder
    from apps.purchase_orders.services import purchase_order_erp_update

    references = {record.reference for record in records if record.reference}
    orders = {
        (order.company.erp_party_id, order.customer_po_number): order
        for order in PurchaseOrder.objects.select_related("company").filter(customer_po_number__in=references)
    }
    moved = 0
    events: list[tuple[Any, str, str]] = []
    for record in records:
        order = orders.get((record.customer_erp_id, record.reference))
        target = status_from_erp(record)
        if order is None or target is None:
            continue
        steps = path_to(PurchaseOrder.Status(order.status), target, stages_not_reached(record))
        for step in steps:
            purchase_order_erp_update(
                purchase_order=order,
                to=step,
                note=f"ERP sale {record.number}: {record.state}, shipment {record.shipment_state}, "
                f"invoice {record.invoice_state}",
            )
            order.status = step
        if steps:
            moved += 1
            events.append(
                (order.pk, SyncEvent.Outcome.UPDATED, f"ERP says {target.label.lower()} ({record.number})")
            )
    if events:
        _events(connection, PurchaseOrder, events)
    return moved


def _link_orders(invoices: list[Invoice]) -> None:
    """Link new or changed invoices to the portal orders they bill: same company, customer PO number =
    the sale's reference. Three queries whatever the number of invoices."""
    from apps.purchase_orders.models import PurchaseOrder

    if not invoices:
        return
    wanted = {(invoice.company_id, ref) for invoice in invoices for ref in invoice.sale_references}
    orders = {
        (company_id, number): pk
        for pk, company_id, number in PurchaseOrder.objects.filter(
            company_id__in={company_id for company_id, _ in wanted},
            customer_po_number__in={ref for _, ref in wanted},
        ).values_list("pk", "company_id", "customer_po_number")
    }
    through = Invoice.purchase_orders.through
    through.objects.filter(invoice_id__in=[invoice.pk for invoice in invoices]).delete()
    through.objects.bulk_create(
        through(invoice_id=invoice.pk, purchaseorder_id=orders[(invoice.company_id, ref)])
        for invoice in invoices
        for ref in invoice.sale_references
        if (invoice.company_id, ref) in orders
    )


def apply_invoices(connection: ErpConnection, records: list[InvoiceRecord]) -> int:
    """Upsert the customers' invoices (ERP-owned, every field) and link each to the orders it bills."""
    companies = dict(
        Company.objects.filter(erp_party_id__in={r.customer_erp_id for r in records}).values_list(
            "erp_party_id", "pk"
        )
    )
    existing = {i.erp_id: i for i in Invoice.objects.filter(erp_id__in=[r.erp_id for r in records])}
    to_create: list[Invoice] = []
    to_update: list[Invoice] = []
    events: list[tuple[Any, str, str]] = []
    for record in records:
        company_id = companies.get(record.customer_erp_id)
        if company_id is None:
            continue  # not a portal customer (or not pulled yet: its invoices come again on a change)
        values: dict[str, Any] = {
            "company_id": company_id,
            "number": record.number,
            "invoice_date": record.invoice_date,
            "due_date": record.due_date,
            "currency": record.currency or "USD",
            "total_amount": record.total_amount,
            "amount_paid": record.amount_paid,
            "state": record.state,
            "sale_references": sorted({ref.strip() for ref in record.sale_references if ref.strip()}),
            "erp_updated_at": record.changed_at,
        }
        invoice = existing.get(record.erp_id)
        if invoice is None:
            to_create.append(Invoice(erp_id=record.erp_id, **values))
            continue
        changed = [name for name, value in values.items() if getattr(invoice, name) != value]
        if not changed:
            continue
        notes = []
        if "state" in changed:
            notes.append(
                f"{invoice.get_state_display().lower()} → {Invoice.State(record.state).label.lower()}"
            )
        if "amount_paid" in changed:
            notes.append(f"paid {invoice.amount_paid} → {record.amount_paid}")
        for name in changed:
            setattr(invoice, name, values[name])
        to_update.append(invoice)
        if notes:
            events.append(
                (invoice.pk, SyncEvent.Outcome.UPDATED, f"invoice {record.number}: " + "; ".join(notes))
            )
    if to_create:
        Invoice.objects.bulk_create(to_create)  # sets the primary keys (PostgreSQL, SQLite)
        events.extend(
            (i.pk, SyncEvent.Outcome.CREATED, f"invoice {i.number or 'draft'} from the ERP")
            for i in to_create
        )
    if to_update:
        now = timezone.now()
        for invoice in to_update:
            invoice.updated_at = now
        Invoice.objects.bulk_update(to_update, [*Invoice.ERP_FIELDS, "company", "updated_at"])
    _link_orders([*to_create, *to_update])
    _events(connection, Invoice, events)
    return len(to_create) + len(to_update)


# --- The pull loop ---------------------------------------------------------------------------------------

PULLERS: dict[str, tuple[str, Callable[[ErpConnection, list[Any]], int]]] = {
    Stream.CUSTOMERS: ("pull_customers", apply_customers),
    Stream.PRODUCTS: ("pull_products", apply_products),
    Stream.STOCK: ("pull_stock", apply_stock),
    Stream.ORDERS: ("pull_orders", apply_orders),
    Stream.INVOICES: ("pull_invoices", apply_invoices),
}
# Order matters: stock refers to products; invoices come before order states so that an order the ERP
# invoiced finds its invoice already mirrored (exposure never drops it in between).
STREAM_ORDER = [Stream.CUSTOMERS, Stream.PRODUCTS, Stream.STOCK, Stream.INVOICES, Stream.ORDERS]


def cursor_get(connection: ErpConnection, stream: str) -> SyncCursor:
    cursor, _ = SyncCursor.objects.get_or_create(connection=connection, stream=stream)
    return cursor


def pull_stream(
    *,
    connection: ErpConnection,
    stream: str,
    connector: Connector,
    page_size: int | None = None,
    after_page: Callable[[int], None] | None = None,
) -> PullReport:
    """Pull one stream from its cursor to the end, committing each page with the cursor's progress.

    The position advances only after a page is committed. A run reads from ``position_time`` minus the
    overlap window, so rows the ERP stamped in the past (long transactions) or changed while an earlier
    run was paging are read again; upserts make that harmless.
    """
    method_name, apply = PULLERS[stream]
    page_size = page_size or settings.ERP_PULL_PAGE_SIZE
    report = PullReport(stream=stream)
    cursor = cursor_get(connection, stream)
    now = timezone.now()
    lease = timedelta(seconds=settings.ERP_STREAM_LEASE_SECONDS)
    if not _stream_lock(cursor, now, lease):
        report.skipped = True
        return report
    try:
        return _pull(
            cursor, connection, stream, connector, method_name, apply, page_size, report, after_page, lease
        )
    finally:
        SyncCursor.objects.filter(pk=cursor.pk).update(run_locked_until=None)


def _stream_lock(cursor: SyncCursor, now: datetime, lease: timedelta) -> bool:
    """Take the stream for this worker unless another one holds it (a dead worker's hold expires)."""
    taken = (
        SyncCursor.objects.filter(pk=cursor.pk)
        .filter(Q(run_locked_until__isnull=True) | Q(run_locked_until__lt=now))
        .update(run_locked_until=now + lease)
    )
    return taken == 1


def _pull(
    cursor: SyncCursor,
    connection: ErpConnection,
    stream: str,
    connector: Connector,
    method_name: str,
    apply: Callable[[ErpConnection, list[Any]], int],
    page_size: int,
    report: PullReport,
    after_page: Callable[[int], None] | None,
    lease: timedelta,
) -> PullReport:
    now = timezone.now()
    since = (
        cursor.position_time - timedelta(seconds=settings.ERP_PULL_OVERLAP_SECONDS)
        if cursor.position_time
        else None
    )
    if cursor.run_started_at is None or cursor.position_id == 0:
        cursor.run_started_at, cursor.run_items_done, cursor.position_id = now, 0, 0
    cursor.last_run_at = now
    cursor.save(
        update_fields=["run_started_at", "run_items_done", "position_id", "last_run_at", "updated_at"]
    )
    high_water: datetime | None = cursor.position_time
    fetch = getattr(connector, method_name)

    def fetch_after(after_id: int) -> Page[Any]:
        return fetch(Cursor(since=since, after_id=after_id), page_size)

    try:
        # The next page is fetched from the ERP while this one is written to the database.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"erp-pull-{stream}") as prefetch:
            upcoming = prefetch.submit(fetch_after, cursor.position_id)
            while True:
                page: Page[Any] = upcoming.result()
                if page.has_more:
                    upcoming = prefetch.submit(fetch_after, page.last_id)
                with transaction.atomic():
                    changed = apply(connection, page.records)
                    stamps = [r.changed_at for r in page.records if getattr(r, "changed_at", None)]
                    if stamps:
                        high_water = max([*stamps, *([high_water] if high_water else [])])
                    cursor.position_id = page.last_id if page.has_more else 0
                    cursor.run_items_done += len(page.records)
                    cursor.run_locked_until = timezone.now() + lease
                    cursor.save(
                        update_fields=["position_id", "run_items_done", "run_locked_until", "updated_at"]
                    )
                report.pages += 1
                report.seen += len(page.records)
                report.changed += changed
                if after_page is not None:
                    after_page(report.pages)
                if not page.has_more:
                    break
    except ErpError as exc:
        report.error = exc.message
        cursor.last_error, cursor.last_error_at = exc.message[:5000], timezone.now()
        cursor.consecutive_failures += 1
        cursor.save(update_fields=["last_error", "last_error_at", "consecutive_failures", "updated_at"])
        logger.warning("ERP pull %s failed: %s", stream, exc.message)
        return report
    finished = timezone.now()
    if stream == Stream.STOCK and since is None:
        # A first stock read covers every product as of now; later runs follow moves from here.
        high_water = now
    cursor.position_time = high_water
    cursor.position_id = 0
    cursor.run_started_at = None
    cursor.last_success_at = finished
    cursor.last_error = ""
    cursor.consecutive_failures = 0
    cursor.items_last_run = report.changed
    cursor.items_total += report.changed
    cursor.save(
        update_fields=[
            "position_time",
            "position_id",
            "run_started_at",
            "last_success_at",
            "last_error",
            "consecutive_failures",
            "items_last_run",
            "items_total",
            "updated_at",
        ]
    )
    return report


def pull_all(
    *, connection: ErpConnection | None = None, connector: Connector | None = None
) -> list[PullReport]:
    connections = [connection] if connection else list(ErpConnection.objects.filter(is_active=True))
    reports = []
    for conn in connections:
        own = connector is None
        active = connector or connector_for(conn)
        try:
            for stream in STREAM_ORDER:
                reports.append(pull_stream(connection=conn, stream=stream, connector=active))
        finally:
            if own:
                active.close()
    return reports
