"""How credit meets the ERP: payment terms and credit limits come with the customers stream (the company
itself is accounts'), invoices with their own stream, each linked to the portal orders it bills; an order
finance released is pushed with the ERP told to accept its credit overrun, and an order the ERP's own
credit check refused goes to finance's queue (both through the credit gate, apps/purchase_orders/gates.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from apps.accounts import erp as accounts_erp
from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company
from apps.catalog.models import Product
from apps.core import money
from apps.core.money import quantize_price
from apps.credit import services
from apps.credit.models import CreditAccount, CreditHold, Invoice, InvoiceLine, InvoicePayment, PaymentTerm
from apps.erp import registry
from apps.erp import services as erp_services
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import (
    CustomerRecord,
    ErpBusinessError,
    InvoiceDocument,
    InvoiceLineRecord,
    InvoicePaymentRecord,
    InvoiceRecord,
    ReconcileRecord,
    reconcile_text,
)
from apps.erp.models import SyncJob
from apps.erp.registry import Applied, Change, PortalRow
from apps.purchase_orders.models import PurchaseOrder

INVOICES = "invoices"


# --- Customers: terms and credit limits --------------------------------------------------------------------


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


def credit_terms_apply(records: list[CustomerRecord]) -> Applied:
    """Each customer's payment term and credit limit onto its company's credit account (the company was
    matched or created by accounts' applier just before, in the same transaction)."""
    terms = {term.erp_id: term for term in PaymentTerm.objects.all()}
    companies = {
        c.erp_party_id: c for c in Company.objects.filter(erp_party_id__in=[r.erp_id for r in records])
    }
    accounts = {a.company_id: a for a in CreditAccount.objects.filter(company__in=companies.values())}
    applied = Applied()
    for record in records:
        company = companies.get(record.erp_id)
        term = _payment_term(record, terms)
        if company is None:
            continue
        account = accounts.get(company.pk) or CreditAccount(company=company)
        if (
            account.pk is not None
            and account.payment_term_id == (term.pk if term else None)
            and account.credit_limit == record.credit_limit
        ):
            continue
        changes = []
        if account.pk is not None:
            if account.credit_limit != record.credit_limit:
                changes.append(f"credit limit {account.credit_limit} → {record.credit_limit}")
            if account.payment_term_id != (term.pk if term else None):
                changes.append(f"payment term → {term.name if term else 'none'}")
        account.payment_term = term
        account.credit_limit = record.credit_limit
        account.save()
        if changes:
            applied.changes.append(Change(Company, company.pk, "; ".join(changes)))
    return applied


# --- Invoices ----------------------------------------------------------------------------------------------


def _orders_link(invoices: list[Invoice]) -> None:
    """Link new or changed invoices to the portal orders they bill: same company, customer PO number =
    the sale's reference. Three queries whatever the number of invoices."""
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


def invoices_apply(records: list[InvoiceRecord]) -> Applied:
    """Upsert the customers' invoices (ERP-owned, every field) and link each to the orders it bills."""
    companies = dict(
        Company.objects.filter(erp_party_id__in={r.customer_erp_id for r in records}).values_list(
            "erp_party_id", "pk"
        )
    )
    existing = {i.erp_id: i for i in Invoice.objects.filter(erp_id__in=[r.erp_id for r in records])}
    to_create: list[Invoice] = []
    to_update: list[Invoice] = []
    changes: list[Change] = []
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
            changes.append(Change(Invoice, invoice.pk, f"invoice {record.number}: " + "; ".join(notes)))
    if to_create:
        Invoice.objects.bulk_create(to_create)  # sets the primary keys (PostgreSQL, SQLite)
        changes.extend(
            Change(Invoice, i.pk, f"invoice {i.number or 'draft'} from the ERP", created=True)
            for i in to_create
        )
    if to_update:
        now = timezone.now()
        for invoice in to_update:
            invoice.updated_at = now
        Invoice.objects.bulk_update(to_update, [*Invoice.ERP_FIELDS, "company", "updated_at"])
    _orders_link([*to_create, *to_update])
    invoices = {**existing, **{invoice.erp_id: invoice for invoice in to_create}}
    touched = {invoice.pk for invoice in [*to_create, *to_update]}
    relined = (_lines_replace(records, invoices) | _payments_replace(records, invoices)) - touched
    return Applied(changed=len(to_create) + len(to_update) + len(relined), changes=changes)


def _line_values(line: InvoiceLineRecord, products: dict[str, int]) -> tuple[Any, ...]:
    return (
        products.get(line.product_erp_id) if line.product_erp_id else None,
        line.product_erp_id[:64],
        line.sku[:64],
        line.description,
        line.quantity.quantize(QUANTUM[money.QUANTITY_DECIMAL_PLACES]),
        quantize_price(line.unit_price),
        line.amount.quantize(QUANTUM[money.AMOUNT_DECIMAL_PLACES]),
    )


QUANTUM = {places: Decimal(1).scaleb(-places) for places in (2, 4)}
LINE_FIELDS = ("product_id", "product_erp_id", "sku", "description", "quantity", "unit_price", "amount")


def _lines_replace(records: list[InvoiceRecord], invoices: dict[str, Invoice]) -> set[int]:
    """Each pulled invoice's lines, replaced as a whole where they differ from the stored ones (a record
    without lines read leaves them be); lines are matched to catalog products by ERP id. Returns the ids
    of the invoices whose lines were replaced. Four queries whatever the number of invoices."""
    wanted = {
        invoices[record.erp_id].pk: record.lines
        for record in records
        if record.lines is not None and record.erp_id in invoices
    }
    if not wanted:
        return set()
    erp_ids = {line.product_erp_id for lines in wanted.values() for line in lines if line.product_erp_id}
    products = dict(Product.objects.filter(erp_id__in=erp_ids).values_list("erp_id", "pk"))
    stored: dict[int, list[tuple[Any, ...]]] = {pk: [] for pk in wanted}
    for row in (
        InvoiceLine.objects.filter(invoice_id__in=wanted)
        .order_by("invoice_id", "position")
        .values_list("invoice_id", *LINE_FIELDS)
    ):
        stored[row[0]].append(tuple(row[1:]))
    replaced = {
        pk for pk, lines in wanted.items() if [_line_values(line, products) for line in lines] != stored[pk]
    }
    InvoiceLine.objects.filter(invoice_id__in=replaced).delete()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice_id=pk,
            position=position,
            **dict(zip(LINE_FIELDS, _line_values(line, products), strict=True)),
        )
        for pk in replaced
        for position, line in enumerate(wanted[pk], start=1)
    )
    return replaced


PAYMENT_FIELDS = ("paid_on", "amount", "reference")


def _payment_values(payment: InvoicePaymentRecord) -> tuple[Any, ...]:
    return (
        payment.paid_on,
        payment.amount.quantize(QUANTUM[money.AMOUNT_DECIMAL_PLACES]),
        payment.reference[:128],
    )


def _payments_replace(records: list[InvoiceRecord], invoices: dict[str, Invoice]) -> set[int]:
    """Each pulled invoice's payments, replaced as a whole where they differ from the stored ones (a
    record without payments read leaves them be). Returns the ids of the invoices whose payments were
    replaced. Three queries whatever the number of invoices."""
    wanted = {
        invoices[record.erp_id].pk: [_payment_values(payment) for payment in record.payments]
        for record in records
        if record.payments is not None and record.erp_id in invoices
    }
    if not wanted:
        return set()
    stored: dict[int, list[tuple[Any, ...]]] = {pk: [] for pk in wanted}
    for row in (
        InvoicePayment.objects.filter(invoice_id__in=wanted)
        .order_by("invoice_id", "id")
        .values_list("invoice_id", *PAYMENT_FIELDS)
    ):
        stored[row[0]].append(tuple(row[1:]))
    replaced = {pk for pk, payments in wanted.items() if payments != stored[pk]}
    InvoicePayment.objects.filter(invoice_id__in=replaced).delete()
    InvoicePayment.objects.bulk_create(
        InvoicePayment(invoice_id=pk, **dict(zip(PAYMENT_FIELDS, values, strict=True)))
        for pk in replaced
        for values in wanted[pk]
    )
    return replaced


# --- Credit answers on order pushes (hooks of the credit gate) ----------------------------------------------


def credit_overrun_accepted(order_ids: list[int]) -> set[int]:
    """Of these orders, those finance released from credit hold: the ERP is told to accept their credit
    overrun."""
    return set(
        CreditHold.objects.filter(
            purchase_order_id__in=order_ids, status=CreditHold.Status.RELEASED
        ).values_list("purchase_order_id", flat=True)
    )


def erp_credit_refused(*, purchase_order: PurchaseOrder, message: str) -> None:
    """The ERP's credit check refused a push: the order goes on credit hold for finance."""
    services.purchase_order_erp_credit_refused(purchase_order=purchase_order, message=message)


# --- Reconciliation: customers with their credit data, and invoices -----------------------------------------


def customers_lookup(records: list[ReconcileRecord]) -> dict[str, PortalRow]:
    rows = {}
    for company in Company.objects.select_related("credit_account__payment_term").filter(
        erp_party_id__in=[record.key for record in records]
    ):
        account = getattr(company, "credit_account", None)
        term = account.payment_term if account else None
        rows[company.erp_party_id] = PortalRow(
            company.pk,
            company.erp_party_id,
            company.name,
            {
                "name": company.name,
                "code": company.erp_customer_code,
                "credit_limit": reconcile_text(account.credit_limit if account else None),
                "payment_term": term.erp_id if term else "",
                # The ERP's own hold; a hold finance put on in the portal is the portal's and not compared.
                "on_hold": reconcile_text(company.hold_source == Company.HoldSource.ERP),
                "active": "true",  # an ERP customer archived behind the portal's back is flagged for a person
            },
        )
    return rows


def customer_expected(record: ReconcileRecord) -> bool:
    """An ERP party the customers pull would import (a customer with terms), not a supplier or the
    ERP's own company."""
    return bool(settings.ERP_IMPORT_NEW_CUSTOMERS and record.fields.get("payment_term") and record.reference)


def customers_linked() -> QuerySet[Company]:
    return Company.objects.exclude(erp_party_id="").annotate(key=F("erp_party_id"), label=F("name"))


def customers_unlinked() -> QuerySet[Company]:
    """Companies made in the portal whose ERP customer does not exist yet (its push failed or waits)."""
    return Company.objects.filter(erp_party_id="").exclude(erp_customer_code="").annotate(label=F("name"))


def customer_repush(company_id: int) -> SyncJob:
    return accounts_erp.customer_push_enqueue(Company.objects.get(pk=company_id))


def invoices_lookup(records: list[ReconcileRecord]) -> dict[str, PortalRow]:
    return {
        invoice.erp_id: PortalRow(
            invoice.pk,
            invoice.erp_id,
            invoice.number or f"draft {invoice.erp_id}",
            {
                "number": invoice.number,
                "state": invoice.state,
                "total_amount": reconcile_text(invoice.total_amount),
                "amount_paid": reconcile_text(invoice.amount_paid),
                "due_date": reconcile_text(invoice.due_date),
                "currency": invoice.currency,
            },
        )
        for invoice in Invoice.objects.filter(erp_id__in=[record.key for record in records])
    }


def invoices_linked() -> QuerySet[Invoice]:
    return Invoice.objects.annotate(key=F("erp_id"), label=F("number"))


def register() -> None:
    registry.stream_applier_register(CUSTOMERS, credit_terms_apply)
    registry.stream_register(
        registry.StreamSpec(
            name=INVOICES,
            label="Invoices",
            fetch=lambda connector, cursor, limit: connector.pull_invoices(cursor, limit),
            after=(CUSTOMERS,),  # an invoice belongs to a company the customers stream brought
        ),
        apply=invoices_apply,
    )
    registry.reconcile_register(
        registry.ReconcileSpec(
            entity=CUSTOMERS,
            label="Customers and their credit",
            model=Company,
            read=lambda connector, after, limit: connector.reconcile_customers(after, limit),
            lookup=customers_lookup,
            linked=customers_linked,
            unlinked=customers_unlinked,
            expected=customer_expected,
            stream=CUSTOMERS,
            repush=customer_repush,
        )
    )
    registry.reconcile_register(
        registry.ReconcileSpec(
            entity=INVOICES,
            label="Invoices",
            model=Invoice,
            read=lambda connector, after, limit: connector.reconcile_invoices(after, limit),
            lookup=invoices_lookup,
            linked=invoices_linked,
            stream=INVOICES,
        )
    )


# --- Invoice documents ------------------------------------------------------------------------------------


def invoice_documents_offered() -> bool:
    """Whether the ERP gives invoices' own documents (its connector's ``invoice_documents``)."""
    return erp_services.capabilities_get().invoice_documents


def invoice_document_get(*, invoice: Invoice) -> InvoiceDocument:
    """The invoice's own document, fetched from the ERP now (``ErpError`` when it cannot give it)."""
    if not invoice_documents_offered():
        raise ErpBusinessError("The ERP gives no invoice documents: ask the wholesaler for a copy.")
    if invoice.state not in (Invoice.State.POSTED, Invoice.State.PAID):
        raise ErpBusinessError(f"Invoice {invoice} is not posted yet: it has no document.")
    connector = connector_for(erp_services.connection_get_default())
    try:
        return connector.invoice_document(invoice.erp_id)
    finally:
        connector.close()
