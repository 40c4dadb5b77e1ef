"""Purchase order writes: the draft and its lines, and one service per status transition."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from apps.accounts.models import Company, ShipToAddress
from apps.catalog.selectors import products_by_sku
from apps.catalog.services import quantity_problem
from apps.core.exceptions import ApplicationError
from apps.core.money import AMOUNT_LIMIT, amount_fits, quantize_amount
from apps.pricing.selectors import price_resolve_many
from apps.purchase_orders import erp
from apps.purchase_orders.exceptions import (
    InvalidTransition,
    LineNotFound,
    OrderRequestRefused,
    PurchaseOrderError,
)
from apps.purchase_orders.gates import (
    gates_order_cancelled,
    gates_order_decided_in_erp,
    gates_order_ended,
    gates_route,
)
from apps.purchase_orders.lines import LineReport, Parsed, ParsedLine, report_summarise
from apps.purchase_orders.models import (
    LIFECYCLE,
    IdempotencyRecord,
    LineImport,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatusChange,
)
from apps.purchase_orders.quantities import MAX_QUANTITY, TOO_LARGE, QuantityError, quantity_checked

Status = PurchaseOrder.Status


@transaction.atomic
def purchase_order_draft_get(*, company: Company, buyer: User) -> PurchaseOrder:
    """The buyer's one open draft for the company, created on first use."""
    draft = (
        PurchaseOrder.objects.select_for_update()
        .filter(company=company, buyer=buyer, status=Status.DRAFT)
        .order_by("created_at")
        .first()
    )
    return draft or PurchaseOrder.objects.create(company=company, buyer=buyer)


@dataclass(frozen=True)
class AddResult:
    added: int
    merged: int
    report: list[LineReport]


@transaction.atomic
def purchase_order_lines_add(*, purchase_order: PurchaseOrder, lines: Iterable[ParsedLine]) -> AddResult:
    """Add lines to a draft: unknown or inactive SKUs and broken quantity rules are refused line by line;
    a SKU already on the order (or twice in the input) is merged into one line; the good lines are kept."""
    order = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
    if order.status != Status.DRAFT:
        raise PurchaseOrderError("Only a draft can be changed.")
    wanted = list(lines)
    products = products_by_sku(line.sku for line in wanted)
    existing = {line.product_id: line for line in order.lines.all()}
    new_lines: dict[int, PurchaseOrderLine] = {}
    changed: dict[int, PurchaseOrderLine] = {}
    report: list[LineReport] = []
    added = merged = 0
    for line in wanted:
        product = products.get(line.sku.upper())
        if product is None:
            report.append(LineReport(line.line, False, f"{line.sku}: unknown SKU", "unknown SKU"))
            continue
        if not product.is_active:
            report.append(LineReport(line.line, False, f"{line.sku}: no longer sold", "no longer sold"))
            continue
        current = existing.get(product.pk)
        quantity = line.quantity + (current.quantity if current else Decimal(0))
        if not quantity.is_finite() or quantity > MAX_QUANTITY:  # the quantity column's digits
            message = (
                f"{product.sku}: quantity {quantity.normalize():,f} is too large (at most {MAX_QUANTITY:,})"
            )
            report.append(LineReport(line.line, False, message, TOO_LARGE))
            continue
        problem = quantity_problem(product, quantity)
        if problem:
            message = f"{product.sku}: {problem} (asked {quantity.normalize():f})"
            report.append(LineReport(line.line, False, message, "against the product's ordering rules"))
            continue
        if current is None:
            current = PurchaseOrderLine(
                purchase_order=order, product=product, quantity=quantity, note=line.note
            )
            existing[product.pk] = new_lines[product.pk] = current
            added += 1
            report.append(
                LineReport(line.line, True, f"{product.sku}: {quantity.normalize():f} added", "added")
            )
        else:
            current.quantity = quantity
            current.note = current.note or line.note
            if current.pk is not None:
                changed[product.pk] = current
            merged += 1
            message = f"{product.sku}: merged, now {quantity.normalize():f}"
            report.append(LineReport(line.line, True, message, "merged"))
    # One insert and one update for the whole batch: a 5,000-line upload is a few queries, not 5,000.
    PurchaseOrderLine.objects.bulk_create(new_lines.values())
    PurchaseOrderLine.objects.bulk_update(changed.values(), ["quantity", "note"])
    return AddResult(added, merged, report)


HEADER_FIELDS = ("customer_po_number", "ship_to", "requested_date", "notes")


@transaction.atomic
def purchase_order_header_update(
    *,
    purchase_order: PurchaseOrder,
    customer_po_number: str,
    ship_to: ShipToAddress | None,
    requested_date: date | None,
    notes: str,
) -> PurchaseOrder:
    """The draft's header as the buyer typed it, under the order lock: only these fields are written, so
    a submit that moved the order meanwhile is refused here, never overwritten by a stale copy."""
    order = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
    if order.status != Status.DRAFT:
        raise PurchaseOrderError("Only a draft can be changed.")
    if ship_to is not None and ship_to.company_id != order.company_id:
        raise PurchaseOrderError("Choose one of your company's addresses.")
    order.customer_po_number = customer_po_number.strip()
    order.ship_to = ship_to
    order.requested_date = requested_date
    order.notes = notes
    try:
        with transaction.atomic():
            order.save(update_fields=[*HEADER_FIELDS, "updated_at"])
    except IntegrityError as exc:  # the same PO number saved by a colleague a moment ago
        raise PurchaseOrderError(
            f"Your company already has an order numbered {order.customer_po_number}."
        ) from exc
    return order


def _draft_line_locked(purchase_order: PurchaseOrder, line_id: int) -> PurchaseOrderLine:
    """A line of the draft, the order row locked first (as every order write takes it)."""
    order = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
    if order.status != Status.DRAFT:
        raise PurchaseOrderError("Only a draft can be changed.")
    line = (
        PurchaseOrderLine.objects.select_related("product").filter(pk=line_id, purchase_order=order).first()
    )
    if line is None:
        raise LineNotFound("No such line on your draft.")
    return line


@transaction.atomic
def purchase_order_line_update(
    *, purchase_order: PurchaseOrder, line_id: int, quantity: Decimal, note: str | None = None
) -> PurchaseOrderLine:
    """A draft line's new quantity (and note, when given), within the product's ordering rules; a refused
    change changes nothing."""
    line = _draft_line_locked(purchase_order, line_id)
    sku = line.product.sku
    try:
        quantity = quantity_checked(quantity, f"{quantity.normalize():f}")
    except QuantityError as exc:
        raise PurchaseOrderError(f"{sku}: {exc}.") from exc
    problem = quantity_problem(line.product, quantity)
    if problem:
        raise PurchaseOrderError(f"{sku}: {problem}.")
    line.quantity = quantity
    fields = ["quantity", "updated_at"]
    if note is not None:
        line.note = note.strip()
        fields.append("note")
    try:
        line.full_clean(validate_unique=False, validate_constraints=False)  # one line per product: kept
    except ValidationError as exc:
        raise PurchaseOrderError(f"{sku}: " + " ".join(exc.messages)) from exc
    line.save(update_fields=fields)
    return line


@transaction.atomic
def purchase_order_line_remove(*, purchase_order: PurchaseOrder, line_id: int) -> PurchaseOrderLine:
    """Take a line off the draft; returns the removed line (its product joined)."""
    line = _draft_line_locked(purchase_order, line_id)
    line.delete()
    return line


# --- Transitions -----------------------------------------------------------------------------------------


def _transition(
    order: PurchaseOrder, to: Status, *, actor: User | None, note: str = "", on_behalf_of: User | None = None
) -> PurchaseOrder:
    """Move a locked order; same state is a no-op; every change writes a history row."""
    if order.status == to:
        return order
    if not order.can_transition_to(to):
        raise InvalidTransition(
            f"A {order.get_status_display().lower()} order cannot become {Status(to).label.lower()}."
        )
    PurchaseOrderStatusChange.objects.create(
        purchase_order=order,
        from_status=order.status,
        to_status=to,
        actor=actor,
        on_behalf_of=on_behalf_of,
        note=note[:500],
    )
    order.status = to
    order.save(update_fields=["status", "updated_at"])
    return order


def _locked(order: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_for_update().select_related("company").get(pk=order.pk)


@transaction.atomic
def purchase_order_submit(
    *,
    purchase_order: PurchaseOrder,
    actor: User,
    agreed_prices: dict[int, tuple[Decimal, str]] | None = None,
    on_behalf_of: User | None = None,
) -> PurchaseOrder:
    """Freeze prices and totals onto the lines, then let the company's rules route the order.

    ``agreed_prices`` (product id -> unit price, source), e.g. from an accepted quote, are frozen instead
    of the price book's for those products. ``on_behalf_of``: the buyer an account manager (``actor``)
    submits for; the buyer is the submitter the approval rules see, the history names both."""
    order = _locked(purchase_order)
    if order.status != Status.DRAFT:
        raise InvalidTransition("Only a draft can be submitted.")
    if order.company.is_on_hold:
        reason = order.company.hold_reason or "ask finance"
        raise PurchaseOrderError(f"{order.company.name} is on hold and cannot submit orders: {reason}.")
    problems = []
    if not order.customer_po_number:
        problems.append("give your PO number")
    if order.ship_to_id is None:
        problems.append("choose a ship-to address")
    lines = list(order.lines.select_related("product"))
    if not lines:
        problems.append("add at least one line")
    if order.requested_date is not None and order.requested_date < timezone.localdate():
        problems.append("choose a requested date of today or later")
    if problems:
        raise PurchaseOrderError("Before submitting, " + ", ".join(problems) + ".")
    quotes = price_resolve_many(
        account=order.company,
        products=[line.product for line in lines],
        quantity={line.product_id: line.quantity for line in lines},
    )
    total = Decimal("0")
    agreed = agreed_prices or {}
    for line in lines:
        quote = quotes[line.product_id]
        line.unit_price, line.price_source = agreed.get(line.product_id, (quote.unit_price, quote.source))
        line.line_amount = quantize_amount(line.unit_price * line.quantity, order.currency)
        total += line.line_amount
    _check_amounts(lines, total, order.currency)
    PurchaseOrderLine.objects.bulk_update(lines, ["unit_price", "price_source", "line_amount"])
    order.total_amount = quantize_amount(total, order.currency)
    order.submitted_at = timezone.now()
    order.submitted_by = on_behalf_of or actor
    order.save(update_fields=["total_amount", "submitted_at", "submitted_by", "updated_at"])
    return _transition(order, Status.SUBMITTED, actor=actor, on_behalf_of=on_behalf_of)


class OrderAmountTooLarge(PurchaseOrderError):
    """A line amount or the total past what an amount column holds (and what the ERP would take)."""


def _check_amounts(lines: list[PurchaseOrderLine], total: Decimal, currency: str) -> None:
    too_large = [line for line in lines if line.line_amount is None or not amount_fits(line.line_amount)]
    if not too_large and amount_fits(total):
        return
    limit = f"{AMOUNT_LIMIT - Decimal('0.01'):,} {currency}"
    if too_large:
        named = ", ".join(f"{line.product.sku} ({line.line_amount:,} {currency})" for line in too_large[:5])
        raise OrderAmountTooLarge(
            f"A line may come to at most {limit}; {named} is more: lower the quantity or split the order."
        )
    raise OrderAmountTooLarge(
        f"An order may come to at most {limit}; this one is {total:,} {currency}: split it into several."
    )


@transaction.atomic
def purchase_order_submit_and_route(
    *,
    purchase_order: PurchaseOrder,
    actor: User,
    agreed_prices: dict[int, tuple[Decimal, str]] | None = None,
    on_behalf_of: User | None = None,
) -> PurchaseOrder:
    """Submit, then let the gates route the order: the company's approval rules, then the credit check
    (approved, or held for finance); see ``apps.purchase_orders.gates``."""
    order = purchase_order_submit(
        purchase_order=purchase_order, actor=actor, agreed_prices=agreed_prices, on_behalf_of=on_behalf_of
    )
    return gates_route(purchase_order=order, actor=actor)


@transaction.atomic
def purchase_order_request_approval(*, purchase_order: PurchaseOrder, note: str = "") -> PurchaseOrder:
    return _transition(_locked(purchase_order), Status.AWAITING_APPROVAL, actor=None, note=note)


@transaction.atomic
def purchase_order_hold(*, purchase_order: PurchaseOrder, note: str) -> PurchaseOrder:
    return _transition(_locked(purchase_order), Status.CREDIT_HOLD, actor=None, note=note)


@transaction.atomic
def purchase_order_approve(
    *, purchase_order: PurchaseOrder, actor: User | None, note: str = ""
) -> PurchaseOrder:
    order = _locked(purchase_order)
    if actor is not None and order.submitted_by_id == actor.pk:
        raise InvalidTransition("Whoever submitted an order cannot approve it.")
    order = _transition(order, Status.APPROVED, actor=actor, note=note)
    erp.order_push_enqueue(order)
    return order


@transaction.atomic
def purchase_order_reject(*, purchase_order: PurchaseOrder, actor: User | None, note: str) -> PurchaseOrder:
    if not note.strip():
        raise PurchaseOrderError("Say why the order is rejected; the buyer is told.")
    order = _transition(_locked(purchase_order), Status.REJECTED, actor=actor, note=note)
    gates_order_ended(purchase_order=order)
    return order


@transaction.atomic
def purchase_order_cancel(
    *, purchase_order: PurchaseOrder, actor: User | None, note: str = ""
) -> PurchaseOrder:
    """The buyer withdraws an order the ERP has not accepted yet (the ERP may cancel later ones)."""
    order = _locked(purchase_order)
    if actor is not None and order.status in (Status.ACCEPTED, Status.PARTIALLY_SHIPPED, Status.SHIPPED):
        raise InvalidTransition(
            "The ERP has accepted this order; ask your account manager to cancel it there."
        )
    # The gates withdraw what waits on the order (an open credit hold, undecided approval steps), in
    # this transaction, the order row already locked: the lock order a credit or approval decision takes.
    gates_order_cancelled(purchase_order=order, actor=actor, note=note)
    order = _transition(order, Status.CANCELLED, actor=actor, note=note)
    gates_order_ended(purchase_order=order)
    return order


def _already_passed(current: Status, to: Status) -> bool:
    """The order is further along the ERP's life than ``to``: the order-state pull saw the sale before the
    push recorded it, or the other way round."""
    return current in LIFECYCLE and to in LIFECYCLE and LIFECYCLE.index(current) > LIFECYCLE.index(to)


@transaction.atomic
def purchase_order_erp_update(*, purchase_order: PurchaseOrder, to: Status, note: str = "") -> PurchaseOrder:
    """A state the ERP reports (sent, accepted, shipped, invoiced, closed, cancelled, refused).

    A state the order has already passed is old news and changes nothing (no error, no history row)."""
    order = _locked(purchase_order)
    if _already_passed(Status(order.status), to):
        return order
    if order.status == Status.CREDIT_HOLD and to != Status.CREDIT_HOLD:
        # The ERP decided a held order itself (it had the sale as a quotation after refusing its credit).
        gates_order_decided_in_erp(purchase_order=order, to=to, note=note)
    return _transition(order, to, actor=None, note=note)


@transaction.atomic
def purchase_order_erp_pushed(
    *, purchase_order: PurchaseOrder, erp_reference: str, number: str, confirmed: bool
) -> PurchaseOrder:
    """The ERP has the order's sale, created now or found from an earlier attempt: the order is sent (and
    accepted when the ERP confirmed it), unless the order-state pull moved it there or further first.

    An order withdrawn or refused in the portal while its push was under way keeps its status, and the
    sale the push left in the ERP is cancelled through the outbox."""
    order = _locked(purchase_order)
    if erp_reference and order.erp_reference != erp_reference:
        order.erp_reference = erp_reference
        order.save(update_fields=["erp_reference", "updated_at"])
    if order.status in (Status.CANCELLED, Status.REJECTED):
        erp.order_cancel_enqueue(order)
        return order
    order = purchase_order_erp_update(
        purchase_order=order, to=Status.SENT_TO_ERP, note=f"ERP sale {number} created"
    )
    if confirmed:
        order = purchase_order_erp_update(
            purchase_order=order, to=Status.ACCEPTED, note=f"confirmed in the ERP as {number}"
        )
    return order


# --- Orders placed in one request (the API) -------------------------------------------------------------


@dataclass(frozen=True)
class OrderRequest:
    """An order placed in one request: its header and lines as read. ``ParsedLine.line`` is the line's
    index in the request; ``unreadable``: the indexes of lines that could not be read, with why."""

    po_number: str
    lines: list[ParsedLine]
    unreadable: dict[int, str] = field(default_factory=dict)
    ship_to_id: int | None = None  # None: the company's default address
    requested_date: date | None = None
    notes: str = ""


@transaction.atomic
def purchase_order_place(
    *,
    company: Company,
    buyer: User,
    request: OrderRequest,
    idempotency_key: str = "",
    request_hash: str = "",
) -> PurchaseOrder:
    """Create the order with its lines and submit it, all or nothing: a problem raises
    ``OrderRequestRefused`` saying what, field by field, and nothing is kept.

    With ``idempotency_key`` the key (and the request's hash) is recorded with the order; a concurrent
    request with the same key makes this raise IntegrityError, the caller answering as a retry would."""
    if PurchaseOrder.objects.filter(company=company, customer_po_number=request.po_number).exists():
        raise OrderRequestRefused({"po_number": [f"Your company already has an order {request.po_number}."]})
    addresses = ShipToAddress.objects.filter(company=company, is_active=True)
    addresses = (
        addresses.filter(pk=request.ship_to_id)
        if request.ship_to_id is not None
        else addresses.filter(is_default=True)
    )
    address = addresses.first()
    if address is None:
        raise OrderRequestRefused({"ship_to_id": ["No such ship-to address in your company."]})
    order = PurchaseOrder.objects.create(
        company=company,
        buyer=buyer,
        customer_po_number=request.po_number,
        ship_to=address,
        requested_date=request.requested_date,
        notes=request.notes,
    )
    result = purchase_order_lines_add(purchase_order=order, lines=request.lines)
    line_errors = dict(request.unreadable)
    line_errors.update({entry.line: entry.message for entry in result.report if not entry.ok})
    if not line_errors:
        line_errors.update(_line_amount_problems(order, request.lines))
    if line_errors:
        raise OrderRequestRefused(
            {"lines": {str(index): [message] for index, message in sorted(line_errors.items())}}
        )
    try:
        order = purchase_order_submit_and_route(purchase_order=order, actor=buyer)
    except ApplicationError as exc:
        raise OrderRequestRefused({"detail": [exc.message]}) from exc
    if idempotency_key:
        IdempotencyRecord.objects.create(
            company=company, key=idempotency_key, request_hash=request_hash, purchase_order=order
        )
    return order


def _line_amount_problems(order: PurchaseOrder, parsed: list[ParsedLine]) -> dict[int, str]:
    """Lines whose amount (quantity at this company's price) would not fit the amount column, reported on
    the request's line; an order total past it is refused as a whole. Checked before submitting, so the
    API names the line instead of failing on the database."""
    lines = list(order.lines.select_related("product"))
    quotes = price_resolve_many(
        account=order.company,
        products=[line.product for line in lines],
        quantity={line.product_id: line.quantity for line in lines},
    )
    first_index: dict[str, int] = {}
    for entry in parsed:
        first_index.setdefault(entry.sku.upper(), entry.line)
    problems: dict[int, str] = {}
    total = Decimal(0)
    for line in lines:
        price = quotes[line.product_id].unit_price
        amount = quantize_amount(price * line.quantity, order.currency)
        total += amount
        if not amount_fits(amount):
            problems[first_index.get(line.product.sku.upper(), 0)] = (
                f"quantity: {line.quantity.normalize():f} of {line.product.sku} at {price} {order.currency} "
                f"comes to {amount:,} {order.currency}; an order line holds less than {AMOUNT_LIMIT:,}."
            )
    if not problems and not amount_fits(total):
        raise OrderRequestRefused(
            {
                "detail": [
                    f"The order comes to {total:,} {order.currency}; an order holds less than "
                    f"{AMOUNT_LIMIT:,}. Split it into several orders."
                ]
            }
        )
    return problems


# --- Large uploads -----------------------------------------------------------------------------------------

INLINE_LIMIT = 200  # up to this many lines are added while the buyer waits; more go to the background
IMPORT_CHUNK = 500  # lines per transaction in the background; progress is saved after each


def _report_rows(report: Iterable[LineReport]) -> list[list[object]]:
    return [[e.line, e.ok, e.message, e.kind, e.label, e.count] for e in report]


def _report_entries(rows: Iterable[list[object]]) -> list[LineReport]:
    """Stored report rows back to entries (rows of three, from before kinds, read too)."""
    entries = []
    for row in rows:
        line, ok, message, kind, label, count = [*row, "", "", 1][:6]
        entries.append(
            LineReport(int(str(line)), bool(ok), str(message), str(kind), str(label), int(str(count)))
        )
    return entries


@transaction.atomic
def line_import_start(*, purchase_order: PurchaseOrder, filename: str, parsed: Parsed) -> LineImport:
    job = LineImport.objects.create(
        purchase_order=purchase_order,
        filename=filename[:200],
        lines=[[line.line, line.sku, str(line.quantity), line.note] for line in parsed.lines],
        report=_report_rows(report_summarise(parsed.report)),
        total=len(parsed.lines),
    )
    transaction.on_commit(lambda: async_task("apps.purchase_orders.tasks.line_import_run", job.pk))
    return job


def line_import_run(*, job: LineImport) -> LineImport:
    """Add the lines in chunks, saving progress after each; the finished report sums up alike lines
    (a 5,000-line file reads as a few entries)."""
    job.status = LineImport.Status.RUNNING
    job.save(update_fields=["status", "updated_at"])
    pending = [ParsedLine(number, sku, Decimal(quantity), note) for number, sku, quantity, note in job.lines]
    for start in range(job.done, len(pending), IMPORT_CHUNK):
        chunk = pending[start : start + IMPORT_CHUNK]
        result = purchase_order_lines_add(purchase_order=job.purchase_order, lines=chunk)
        job.report.extend(_report_rows(result.report))
        job.done = start + len(chunk)
        job.save(update_fields=["report", "done", "updated_at"])
    job.report = _report_rows(report_summarise(_report_entries(job.report), accepted_too=True))
    job.status = LineImport.Status.DONE
    job.lines = []
    job.save(update_fields=["status", "report", "lines", "updated_at"])
    return job
