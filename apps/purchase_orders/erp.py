"""How purchase orders meet the ERP: the push payload, and the portal status an ERP state means."""

from __future__ import annotations

from collections import deque

from apps.erp.connectors.base import AddressRecord, OrderLinePush, OrderPush, OrderStateRecord
from apps.purchase_orders.models import TRANSITIONS, PurchaseOrder

Status = PurchaseOrder.Status
ORDER_PUSH = "order.push"


def order_push_for(order: PurchaseOrder, *, accept_credit_warning: bool = False) -> OrderPush:
    """``accept_credit_warning``: finance released this order's credit hold, so the ERP's own credit
    check is to let this one sale through."""
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


# The forward life of an order at the ERP; history shows every stage an order went through.
LIFECYCLE = [
    Status.APPROVED,
    Status.SENT_TO_ERP,
    Status.ACCEPTED,
    Status.PARTIALLY_SHIPPED,
    Status.SHIPPED,
    Status.INVOICED,
    Status.CLOSED,
]


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
