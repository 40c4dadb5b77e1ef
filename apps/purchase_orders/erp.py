"""How purchase orders meet the ERP: an approved order is pushed as an ERP sale (and cancelled there when
the portal refuses it later); the order-states stream moves each order along as the ERP ships and
invoices it."""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.erp import registry
from apps.erp.connectors.base import (
    AddressRecord,
    Connector,
    ErpBusinessError,
    ErpError,
    ErpTransientError,
    OrderCancel,
    OrderLinePush,
    OrderPush,
    OrderPushResult,
    OrderStateRecord,
    ReconcileRecord,
    reconcile_order_lines,
)
from apps.erp.models import SyncJob
from apps.erp.registry import Applied, Change, PortalRow
from apps.erp.services import job_defer, job_enqueue, job_fail, job_retry, job_succeed
from apps.purchase_orders import gates, services
from apps.purchase_orders.models import LIFECYCLE, TRANSITIONS, PurchaseOrder

Status = PurchaseOrder.Status
ORDER_PUSH = "order.push"
ORDER_CANCEL = "order.cancel"
ORDER_STATES = "orders"
ZERO = Decimal("0")


def order_push_enqueue(order: PurchaseOrder) -> None:
    """An approved order goes to the ERP through the outbox, once (the key is the order)."""
    job = job_enqueue(kind=ORDER_PUSH, target=order, idempotency_key=f"{ORDER_PUSH}:{order.pk}")
    if job.status in (SyncJob.Status.FAILED, SyncJob.Status.DEAD):
        # Approved again after the ERP refused it (finance released it): the same job goes again.
        job_retry(job=job)


def order_cancel_enqueue(order: PurchaseOrder) -> None:
    """The ERP's sale of an order the portal refused or withdrew is cancelled there, once."""
    job_enqueue(kind=ORDER_CANCEL, target=order, idempotency_key=f"{ORDER_CANCEL}:{order.pk}")


def order_push_for(
    order: PurchaseOrder, *, accept_credit_warning: bool = False, quotation_reference: str = ""
) -> OrderPush:
    """``accept_credit_warning``: finance released this order's credit hold, so the ERP's own credit
    check is to let this one sale through. ``quotation_reference``: the ERP quotation it takes over."""
    ship_to = order.ship_to
    return OrderPush(
        reference=order.customer_po_number,
        customer_erp_id=order.company.erp_party_id,
        ship_to=AddressRecord(
            erp_id=ship_to.erp_address_id if ship_to else "",
            street=ship_to.street if ship_to else "",
            city=ship_to.city if ship_to else "",
            postal_code=ship_to.postal_code if ship_to else "",
            region=ship_to.region if ship_to else "",
            country=ship_to.country if ship_to else "",
        ),
        lines=[
            OrderLinePush(
                product_erp_id=line.product.erp_id,
                quantity=line.quantity,
                unit_price=line.unit_price if line.unit_price is not None else line.product.list_price,
                note=line.note,
            )
            for line in order.lines.select_related("product")
        ],
        requested_date=order.requested_date,
        notes=order.notes,
        accept_credit_warning=accept_credit_warning,
        quotation_reference=quotation_reference,
    )


def status_from_erp(record: OrderStateRecord) -> Status | None:
    """The portal status a sale's ERP state means; None: nothing to say yet (draft, quotation)."""
    if record.state == "cancelled":
        return Status.CANCELLED
    if record.state == "done":
        return Status.CLOSED
    if record.state not in ("confirmed", "processing"):
        return None
    if record.invoice_state in ("awaiting payment", "partially paid", "paid"):
        return Status.INVOICED
    if record.shipment_state == "sent":
        return Status.SHIPPED
    if record.shipment_state == "partially shipped":
        return Status.PARTIALLY_SHIPPED
    return Status.ACCEPTED


def _valid(current: Status, chain: list[Status]) -> bool:
    previous = current
    for step in chain:
        if step not in TRANSITIONS[previous]:
            return False
        previous = step
    return True


def stages_not_reached(record: OrderStateRecord) -> set[Status]:
    """Stages an order skipped: with invoicing on order, a sale is invoiced before it ships."""
    return set() if record.shipment_state == "sent" or record.state == "done" else {Status.SHIPPED}


def path_to(
    current: Status, target: Status, skip: frozenset[Status] | set[Status] = frozenset()
) -> list[Status]:
    """The moves from ``current`` to ``target``: every forward stage in between that was reached (a
    partial shipment only when it is the target), else the shortest chain the table allows; empty: none,
    or already there."""
    if current == target:
        return []
    if current in LIFECYCLE and target in LIFECYCLE and LIFECYCLE.index(current) < LIFECYCLE.index(target):
        between = LIFECYCLE[LIFECYCLE.index(current) + 1 : LIFECYCLE.index(target) + 1]
        chain = [
            step
            for step in between
            if step == target or (step != Status.PARTIALLY_SHIPPED and step not in skip)
        ]
        if _valid(current, chain):
            return chain
    seen = {current}
    queue: deque[tuple[Status, list[Status]]] = deque([(current, [])])
    while queue:
        state, path = queue.popleft()
        for following in sorted(TRANSITIONS[state]):
            if following in seen:
                continue
            if following == target:
                return [*path, following]
            seen.add(following)
            queue.append((following, [*path, following]))
    return []


# --- Out: pushes and cancels -------------------------------------------------------------------------------


def orders_push(connector: Connector, jobs: list[SyncJob]) -> None:
    """Approved orders become ERP sales, the whole batch in a few calls; each moves on as the ERP answers."""
    orders = PurchaseOrder.objects.select_related("company", "ship_to").in_bulk(
        [int(job.target_id) for job in jobs]
    )
    # Orders finance released from credit hold: the ERP is told to accept their credit overrun.
    released = gates.gates_credit_overrun_accepted(list(orders))
    begun = gates.gates_begun_sales(list(orders.values()))
    ready: list[tuple[SyncJob, PurchaseOrder, OrderPush]] = []
    for job in jobs:
        order = orders.get(int(job.target_id))
        quotation = begun.get(int(job.target_id))
        if order is None:
            job_fail(job=job, error=ErpBusinessError("The order no longer exists."))
        elif order.status == PurchaseOrder.Status.CANCELLED:
            job_succeed(
                job=job, erp_reference="", message="cancelled before it reached the ERP: nothing sent"
            )
        elif not order.company.erp_party_id:
            job_fail(job=job, error=ErpTransientError("Waiting for the company's ERP customer to exist."))
        elif quotation is not None and quotation.waiting:
            job_defer(job=job, reason=quotation.waiting, seconds=settings.ERP_BACKOFF_BASE_SECONDS)
        else:
            push = order_push_for(
                order,
                accept_credit_warning=order.pk in released,
                quotation_reference=quotation.reference if quotation else "",
            )
            ready.append((job, order, push))
    if not ready:
        return
    try:
        results = connector.push_orders([push for _, _, push in ready])
    except ErpError as exc:
        for job, _, _ in ready:
            job_fail(job=job, error=exc)
        return
    by_key = {(result.customer_erp_id, result.reference): result for result in results}
    for job, order, push in ready:
        result = by_key.get((push.customer_erp_id, push.reference))
        if result is None:
            job_fail(job=job, error=ErpBusinessError("The ERP returned nothing for this order."))
            continue
        if result.error:
            job_fail(job=job, error=ErpBusinessError(result.error))
            if result.credit_refused and order.pk not in released:
                gates.gates_erp_credit_refused(purchase_order=order, message=result.error)
            continue

        def apply(order: PurchaseOrder = order, result: OrderPushResult = result) -> None:
            services.purchase_order_erp_pushed(
                purchase_order=order,
                erp_reference=result.number or result.erp_id,
                number=result.number,
                confirmed=result.state in ("confirmed", "processing", "done"),
            )

        if result.created:
            verb = "created"
        elif push.quotation_reference:
            verb = f"made from quotation {push.quotation_reference}"
        else:
            verb = "found (created by an earlier attempt)"
        job_succeed(
            job=job,
            erp_reference=result.number,
            message=f"ERP sale {result.number} {verb}, {result.state}",
            apply=apply,
        )


def orders_cancel(connector: Connector, jobs: list[SyncJob]) -> None:
    """Orders refused in the portal after the ERP had their sale (finance rejected an order the ERP's
    credit check had stopped): the ERP's quotation is cancelled so it never goes on."""
    orders = PurchaseOrder.objects.select_related("company").in_bulk([int(job.target_id) for job in jobs])
    ready: list[tuple[SyncJob, OrderCancel]] = []
    for job in jobs:
        order = orders.get(int(job.target_id))
        if order is None or not order.company.erp_party_id:
            job_succeed(job=job, erp_reference="", message="no ERP sale to cancel")
        else:
            ready.append((job, OrderCancel(order.customer_po_number, order.company.erp_party_id)))
    if not ready:
        return
    try:
        results = connector.cancel_orders([cancel for _, cancel in ready])
    except ErpError as exc:
        for job, _ in ready:
            job_fail(job=job, error=exc)
        return
    for (job, _), result in zip(ready, results, strict=True):
        if result.error:
            job_fail(job=job, error=ErpBusinessError(result.error))
        elif not result.erp_id:
            job_succeed(job=job, erp_reference="", message="the ERP has no sale for it: nothing to cancel")
        else:
            job_succeed(job=job, erp_reference=result.erp_id, message=f"ERP sale {result.erp_id} cancelled")


# --- In: the order-states stream ---------------------------------------------------------------------------


def order_states_apply(records: list[Any]) -> Applied:
    """Move each portal order to what its ERP sale now says, step by allowed step, with a history row each."""
    references = {record.reference for record in records if record.reference}
    orders = {
        (order.company.erp_party_id, order.customer_po_number): order
        for order in PurchaseOrder.objects.select_related("company").filter(customer_po_number__in=references)
    }
    applied = Applied()
    for record in records:
        order = orders.get((record.customer_erp_id, record.reference))
        target = status_from_erp(record)
        if order is None or target is None:
            continue
        steps = path_to(PurchaseOrder.Status(order.status), target, stages_not_reached(record))
        for step in steps:
            services.purchase_order_erp_update(
                purchase_order=order,
                to=step,
                note=f"ERP sale {record.number}: {record.state}, shipment {record.shipment_state}, "
                f"invoice {record.invoice_state}",
            )
            order.status = step
        if steps:
            applied.changed += 1
            applied.changes.append(
                Change(PurchaseOrder, order.pk, f"ERP says {target.label.lower()} ({record.number})")
            )
    return applied


# --- Reconciliation: orders with their lines and states ----------------------------------------------------

# Orders the ERP has had (or must have had) since the push: each should be one ERP sale.
AT_THE_ERP = [
    Status.SENT_TO_ERP,
    Status.ACCEPTED,
    Status.PARTIALLY_SHIPPED,
    Status.SHIPPED,
    Status.INVOICED,
    Status.CLOSED,
]
PUSH_OVERDUE_MINUTES = 30  # an approved order not at the ERP after this long is "missing in the ERP"


def order_erp_fields(record: ReconcileRecord) -> dict[str, str]:
    """The ERP sale in the portal's terms: the status its state means, its number and lines."""
    state = record.record
    status = status_from_erp(state) if isinstance(state, OrderStateRecord) else None
    return {
        "status": status.value if status else Status.SENT_TO_ERP.value,
        "number": record.fields.get("number", ""),
        "lines": record.fields.get("lines", ""),
    }


def orders_lookup(records: list[ReconcileRecord]) -> dict[str, PortalRow]:
    wanted = {record.reference: record.key for record in records if record.reference}
    parties = {reference.split(":", 1)[0] for reference in wanted}
    numbers = {reference.split(":", 1)[1] for reference in wanted if ":" in reference}
    rows = {}
    for order in (
        PurchaseOrder.objects.select_related("company")
        .prefetch_related("lines__product")
        .filter(company__erp_party_id__in=parties, customer_po_number__in=numbers)
    ):
        key = wanted.get(f"{order.company.erp_party_id}:{order.customer_po_number}")
        if key is None:
            continue
        lines = [
            (line.product.erp_id, line.quantity, line.unit_price if line.unit_price is not None else ZERO)
            for line in order.lines.all()
        ]
        rows[key] = PortalRow(
            order.pk,
            key,
            order.customer_po_number,
            {
                "status": order.status,
                "number": order.erp_reference,
                "lines": reconcile_order_lines(lines),
            },
        )
    return rows


def orders_linked() -> QuerySet[PurchaseOrder]:
    return PurchaseOrder.objects.filter(status__in=AT_THE_ERP).annotate(
        key=Concat(F("company__erp_party_id"), Value(":"), F("customer_po_number")),
        label=F("customer_po_number"),
    )


def orders_unlinked() -> QuerySet[PurchaseOrder]:
    overdue = timezone.now() - timedelta(minutes=PUSH_OVERDUE_MINUTES)
    return PurchaseOrder.objects.filter(Q(status=Status.APPROVED) & Q(updated_at__lt=overdue)).annotate(
        label=F("customer_po_number")
    )


def order_repush(order_id: int) -> SyncJob | None:
    order = PurchaseOrder.objects.get(pk=order_id)
    order_push_enqueue(order)
    return SyncJob.objects.filter(kind=ORDER_PUSH, target_id=str(order.pk)).order_by("-id").first()


def register() -> None:
    registry.job_kind_register(registry.JobKind(ORDER_PUSH, orders_push, "ERP sale for an approved order"))
    registry.job_kind_register(registry.JobKind(ORDER_CANCEL, orders_cancel, "ERP sale cancelled"))
    registry.stream_register(
        registry.StreamSpec(
            name=ORDER_STATES,
            label="Order states",
            fetch=lambda connector, cursor, limit: connector.pull_orders(cursor, limit),
            # An order the ERP invoiced finds its invoice mirrored already: exposure never drops it.
            after=(CUSTOMERS, "invoices"),  # invoices: credit's stream (credit sits above, named only)
        ),
        apply=order_states_apply,
    )
    registry.reconcile_register(
        registry.ReconcileSpec(
            entity=ORDER_STATES,
            label="Orders, their lines and states",
            model=PurchaseOrder,
            read=lambda connector, after, limit: connector.reconcile_orders(after, limit),
            lookup=orders_lookup,
            linked=orders_linked,
            unlinked=orders_unlinked,
            imported=False,
            stream=ORDER_STATES,
            repush=order_repush,
            erp_fields=order_erp_fields,
        )
    )
