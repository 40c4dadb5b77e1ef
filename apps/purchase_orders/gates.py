"""The gates an order passes between submit and the ERP, registered by the apps that own them.

Approvals (the company's rules) and credit (finance's check and holds) sit above purchase orders in the
layering, yet an order's life calls into them: a submitted order is routed through the approval rules
and the credit check, a cancelled one withdraws its open approval steps and credit hold, the ERP's
decisions and refusals settle or open holds. Rather than purchase orders importing those apps, each of
them registers a ``Gate`` here at start-up (``AppConfig.ready()``) and this app calls the registered
gates by name of the hook.

A registry, not signals (STYLE.md: no signals for domain flow): the calls are explicit in the services
that make them, run synchronously in the order the gates were registered (app start-up order, fixed by
``INSTALLED_APPS``), are typed, run inside the caller's transaction and under its locks, let exceptions
propagate to the caller, and an order that must be routed with no router registered fails loudly
(``ImproperlyConfigured``) instead of being silently left unrouted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured

from apps.purchase_orders.models import PurchaseOrder


@dataclass(frozen=True)
class BegunSale:
    """An ERP sale begun for an order before the order existed (the quotation of the quote it was
    accepted from): the order's push takes it over (``OrderPush.quotation_reference``) rather than
    making a second sale. ``waiting``: that sale's own push is still under way, so the order's waits."""

    reference: str
    waiting: str = ""


@dataclass(frozen=True)
class Gate:
    name: str
    # route(*, purchase_order, actor) -> order: a submitted order enters the gates here (approvals).
    route: Callable[..., PurchaseOrder] | None = None
    # (*, purchase_order, actor, note) inside purchase_order_cancel's transaction, the order locked.
    order_cancelled: Callable[..., None] | None = None
    # (*, purchase_order, to, note): the ERP moved a held order on (purchase_order_erp_update).
    order_decided_in_erp: Callable[..., None] | None = None
    # Of these order ids, those whose push the ERP must let pass its credit check (finance released them).
    credit_overrun_accepted: Callable[[list[int]], set[int]] | None = None
    # (*, purchase_order, message): the ERP refused the push for the customer's credit.
    erp_credit_refused: Callable[..., None] | None = None
    # (*, purchase_order): the portal rejected or cancelled the order (after its move, in its transaction).
    order_ended: Callable[..., None] | None = None
    # Of these orders, those whose ERP sale was begun before them (a quote's quotation), by order id.
    begun_sales: Callable[[list[PurchaseOrder]], dict[int, BegunSale]] | None = None


_gates: dict[str, Gate] = {}  # by name, in registration order


def gate_register(gate: Gate) -> None:
    """Register (or replace, by name, keeping its place) a gate; idempotent: ``ready()`` may run twice."""
    _gates[gate.name] = gate


def gates_registered() -> list[Gate]:
    return list(_gates.values())


def gates_route(*, purchase_order: PurchaseOrder, actor: User) -> PurchaseOrder:
    """Route a just-submitted order through the one gate that routes (approval rules, then credit)."""
    routers = [gate for gate in _gates.values() if gate.route is not None]
    if not routers:
        raise ImproperlyConfigured(
            "No purchase order gate routes submitted orders: the approvals app registers one in its "
            "AppConfig.ready(); is 'apps.approvals' in INSTALLED_APPS?"
        )
    if len(routers) > 1:
        names = ", ".join(gate.name for gate in routers)
        raise ImproperlyConfigured(f"More than one purchase order gate routes submitted orders: {names}.")
    route = routers[0].route
    assert route is not None  # noqa: S101 - narrowing, filtered above
    return route(purchase_order=purchase_order, actor=actor)


def gates_order_cancelled(*, purchase_order: PurchaseOrder, actor: User | None, note: str) -> None:
    for gate in list(_gates.values()):
        if gate.order_cancelled is not None:
            gate.order_cancelled(purchase_order=purchase_order, actor=actor, note=note)


def gates_order_decided_in_erp(*, purchase_order: PurchaseOrder, to: str, note: str) -> None:
    for gate in list(_gates.values()):
        if gate.order_decided_in_erp is not None:
            gate.order_decided_in_erp(purchase_order=purchase_order, to=to, note=note)


def gates_credit_overrun_accepted(order_ids: list[int]) -> set[int]:
    accepted: set[int] = set()
    for gate in list(_gates.values()):
        if gate.credit_overrun_accepted is not None:
            accepted |= gate.credit_overrun_accepted(order_ids)
    return accepted


def gates_erp_credit_refused(*, purchase_order: PurchaseOrder, message: str) -> None:
    for gate in list(_gates.values()):
        if gate.erp_credit_refused is not None:
            gate.erp_credit_refused(purchase_order=purchase_order, message=message)


def gates_order_ended(*, purchase_order: PurchaseOrder) -> None:
    for gate in list(_gates.values()):
        if gate.order_ended is not None:
            gate.order_ended(purchase_order=purchase_order)


def gates_begun_sales(orders: list[PurchaseOrder]) -> dict[int, BegunSale]:
    found: dict[int, BegunSale] = {}
    for gate in list(_gates.values()):
        if gate.begun_sales is not None:
            found.update(gate.begun_sales(orders))
    return found
