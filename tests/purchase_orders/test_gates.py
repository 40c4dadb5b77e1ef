"""The registry of gates an order passes between submit and the ERP: explicit, ordered, in the caller's
transaction, and loud when nothing routes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.accounts.models import Role
from apps.purchase_orders import gates, services
from apps.purchase_orders.gates import Gate
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderStatusChange
from tests.accounts.factories import MembershipFactory

Status = PurchaseOrder.Status


def test_credit_approvals_and_quotes_register_at_start_up_and_approvals_routes() -> None:
    registered = gates.gates_registered()

    assert [gate.name for gate in registered] == ["credit", "approvals", "quotes"]
    assert [gate.name for gate in registered if gate.route is not None] == ["approvals"]
    assert None not in (registered[2].order_ended, registered[2].begun_sales)  # quotes: the ERP quotation
    credit = registered[0]
    assert None not in (
        credit.order_cancelled,
        credit.order_decided_in_erp,
        credit.credit_overrun_accepted,
        credit.erp_credit_refused,
    )


@pytest.fixture
def empty(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry of the test's own gates (the apps' stay registered outside the test)."""
    monkeypatch.setattr(gates, "_gates", {})


def _recording(calls: list[tuple[str, str, dict[str, Any]]], name: str) -> Gate:
    def hook(kind: str) -> Any:
        def call(**kwargs: Any) -> None:
            calls.append((name, kind, kwargs))

        return call

    return Gate(
        name=name,
        order_cancelled=hook("cancelled"),
        order_decided_in_erp=hook("decided"),
        erp_credit_refused=hook("refused"),
    )


def test_gates_are_called_in_the_order_they_registered(empty: None) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []
    gates.gate_register(_recording(calls, "first"))
    gates.gate_register(_recording(calls, "second"))
    order = PurchaseOrder(pk=7)

    gates.gates_order_cancelled(purchase_order=order, actor=None, note="n")
    gates.gates_order_decided_in_erp(purchase_order=order, to=Status.ACCEPTED, note="m")
    gates.gates_erp_credit_refused(purchase_order=order, message="over")

    assert calls == [
        ("first", "cancelled", {"purchase_order": order, "actor": None, "note": "n"}),
        ("second", "cancelled", {"purchase_order": order, "actor": None, "note": "n"}),
        ("first", "decided", {"purchase_order": order, "to": Status.ACCEPTED, "note": "m"}),
        ("second", "decided", {"purchase_order": order, "to": Status.ACCEPTED, "note": "m"}),
        ("first", "refused", {"purchase_order": order, "message": "over"}),
        ("second", "refused", {"purchase_order": order, "message": "over"}),
    ]


def test_registering_a_name_again_replaces_it_in_its_place(empty: None) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []
    gates.gate_register(Gate(name="first"))
    gates.gate_register(_recording(calls, "second"))
    gates.gate_register(_recording(calls, "first"))

    gates.gates_order_cancelled(purchase_order=PurchaseOrder(), actor=None, note="")

    assert [gate.name for gate in gates.gates_registered()] == ["first", "second"]
    assert [(name, kind) for name, kind, _ in calls] == [("first", "cancelled"), ("second", "cancelled")]


def test_without_a_router_a_submitted_order_fails_loudly(empty: None) -> None:
    gates.gate_register(Gate(name="credit-only"))

    with pytest.raises(ImproperlyConfigured, match="No purchase order gate routes submitted orders"):
        gates.gates_route(purchase_order=PurchaseOrder(), actor=None)  # type: ignore[arg-type]


def test_two_routers_are_a_configuration_error(empty: None) -> None:
    gates.gate_register(Gate(name="a", route=lambda **_: PurchaseOrder()))
    gates.gate_register(Gate(name="b", route=lambda **_: PurchaseOrder()))

    with pytest.raises(ImproperlyConfigured, match="More than one purchase order gate routes"):
        gates.gates_route(purchase_order=PurchaseOrder(), actor=None)  # type: ignore[arg-type]


def test_the_router_gets_the_order_and_actor_and_its_answer_is_returned(empty: None) -> None:
    routed = PurchaseOrder(pk=9)
    seen: list[dict[str, Any]] = []
    gates.gate_register(Gate(name="router", route=lambda **kwargs: seen.append(kwargs) or routed))
    order = PurchaseOrder(pk=8)

    assert gates.gates_route(purchase_order=order, actor="someone") is routed  # type: ignore[arg-type]
    assert seen == [{"purchase_order": order, "actor": "someone"}]


def test_credit_overrun_accepted_is_the_union_over_the_gates(empty: None) -> None:
    gates.gate_register(Gate(name="a", credit_overrun_accepted=lambda ids: {i for i in ids if i % 2}))
    gates.gate_register(Gate(name="b", credit_overrun_accepted=lambda ids: {i for i in ids if i > 3}))
    gates.gate_register(Gate(name="c"))

    assert gates.gates_credit_overrun_accepted([1, 2, 3, 4, 6]) == {1, 3, 4, 6}
    assert gates.gates_credit_overrun_accepted([]) == set()


def test_a_gate_failing_inside_a_cancel_leaves_the_order_as_it_was(db: None, empty: None) -> None:
    """The gates run in the cancel's transaction: a gate's failure undoes the whole cancel."""
    buyer = MembershipFactory(role=Role.BUYER)
    order = PurchaseOrder.objects.create(company=buyer.company, buyer=buyer.user, status=Status.SUBMITTED)
    seen: list[str] = []

    def refuse(*, purchase_order: PurchaseOrder, actor: object, note: str) -> None:
        seen.append(purchase_order.status)  # the locked order, before it moves
        raise RuntimeError("gate failed")

    gates.gate_register(Gate(name="refusing", order_cancelled=refuse))

    with pytest.raises(RuntimeError, match="gate failed"):
        services.purchase_order_cancel(purchase_order=order, actor=buyer.user, note="not needed")

    order.refresh_from_db()
    assert seen == [Status.SUBMITTED]
    assert order.status == Status.SUBMITTED
    assert not PurchaseOrderStatusChange.objects.exists()
