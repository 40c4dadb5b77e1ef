"""Fixtures for a real Tryton ERP: each test that asks gets a fresh copy of the template (about 1 s).

Also helpers (plain functions taking the ``erp_admin`` client) that change the ERP the way its users
would: customer invoices, their payments, and credit holds on parties.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient, TrytonWarning
from apps.erp.models import ErpConnection
from apps.erp.services import connection_get_default
from tools.tryton import erp, seed

INVOICE_SKU = "SKU-00001"  # the product on the one line of a helper-made invoice


@pytest.fixture(scope="session")
def erp_template() -> Path:
    # Built once per machine (about 45 s cold), reused while requirements and seed are unchanged.
    erp.ensure_venv()
    return erp.ensure_template()


@pytest.fixture
def erp_server(erp_template: Path, tmp_path: Path) -> Iterator[erp.ErpServer]:
    server = erp.start(tmp_path / "erp")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def erp_connection(
    db: None, erp_server: erp.ErpServer, settings, monkeypatch: pytest.MonkeyPatch
) -> ErpConnection:
    settings.ERP_URL = erp_server.url
    settings.ERP_DATABASE = erp_server.database
    settings.ERP_USERNAME = erp_server.user
    monkeypatch.setenv("ERP_PASSWORD", erp_server.password)
    return connection_get_default()


@pytest.fixture
def connector(erp_connection: ErpConnection) -> Iterator[TrytonConnector]:
    active = TrytonConnector.for_connection(erp_connection)
    yield active
    active.close()


@pytest.fixture
def erp_admin(erp_server: erp.ErpServer) -> Iterator[TrytonClient]:
    """The ERP's own admin, for changing things in the ERP the way its users would."""
    client = TrytonClient(erp_server.url, erp_server.database, erp.ERP_ADMIN_USER, erp.ERP_ADMIN_PASSWORD)
    yield client
    client.close()


# --- ERP-side helpers -------------------------------------------------------------------------------------


def _accepting_warnings(client: TrytonClient, call: Any) -> Any:
    """Run ``call()``; on a Tryton UserWarning (e.g. "payment date in the past") accept it once and retry,
    as a person clicking Yes in the ERP would."""
    accepted: set[str] = set()
    while True:
        try:
            return call()
        except TrytonWarning as warning:
            if warning.name in accepted:
                raise
            accepted.add(warning.name)
            client.model("res.user.warning", "skip", warning.name, False)


def erp_invoice_create(
    client: TrytonClient,
    *,
    party_id: int,
    amount: Decimal,
    invoice_date: date,
    post: bool = True,
    payment_term_id: int | None = None,
) -> int:
    """A customer invoice of ``amount`` (negative: a credit note) with one line of SKU-00001 (quantity 1,
    or -1 for a credit note), the revenue account of the product's category, the party's invoice
    address, receivable account and payment term (or ``payment_term_id``); posted unless ``post`` is
    False. Dates in the past are fine (the ERP's "payment date in the past" warning is accepted), but
    Tryton numbers a year's invoices in date order: post the older ones first, or it refuses."""
    defaults = client.model(
        "account.invoice",
        "on_change",
        {"party": party_id, "type": "out", "company": client.context["company"], "lines": []},
        ["type", "party"],
    )
    (product,) = client.model(
        "product.product",
        "search_read",
        [["code", "=", INVOICE_SKU]],
        0,
        1,
        None,
        ["name", "default_uom", "template.account_category.account_revenue"],
    )
    revenue = product["template."]["account_category."]["account_revenue"]
    (invoice_id,) = client.model(
        "account.invoice",
        "create",
        [
            {
                "type": "out",
                "party": party_id,
                "invoice_address": defaults["invoice_address"],
                "account": defaults["account"],
                "journal": defaults["journal"],
                "payment_term": payment_term_id or defaults["payment_term"],
                "invoice_date": invoice_date,
                "lines": [
                    [
                        "create",
                        [
                            {
                                "type": "line",
                                "product": product["id"],
                                "description": product["name"],
                                "quantity": 1 if amount >= 0 else -1,
                                "unit": product["default_uom"],
                                "unit_price": abs(amount),
                                "account": revenue,
                            }
                        ],
                    ]
                ],
            }
        ],
    )
    if post:
        _accepting_warnings(client, lambda: client.model("account.invoice", "post", [invoice_id]))
    return int(invoice_id)


def erp_invoice_pay(client: TrytonClient, invoice_id: int, amount: Decimal, on: date | None = None) -> None:
    """Pay ``amount`` of a posted invoice the way an ERP user does: the invoice's Pay wizard
    (``account.invoice.pay``) with the seeded "Bank transfer" method, on ``on`` (default: the ERP's
    today). It posts a payment move; less than what is left stays a partial payment (a payment line of
    the invoice), the rest reconciles the receivable lines and the invoice becomes paid. A credit note
    is refunded with a negative ``amount``."""
    (method,) = client.model(
        "account.invoice.payment.method", "search", [["name", "=", seed.PAYMENT_METHOD]], 0, 1, None
    )
    context = {
        **client.context,
        "active_model": "account.invoice",
        "active_id": invoice_id,
        "active_ids": [invoice_id],
    }
    (invoice,) = client.model("account.invoice", "read", [invoice_id], ["amount_to_pay"])
    left = invoice["amount_to_pay"]
    wizard = "wizard.account.invoice.pay"
    session, start_state, _ = client.call(f"{wizard}.create", context)
    try:
        defaults = client.call(f"{wizard}.execute", session, {}, start_state, context)["view"]["defaults"]
        start = {
            "payee": defaults["payee"],
            "amount": amount,
            "currency": defaults["currency"],
            "company": defaults["company"],
            "invoice_account": defaults["invoice_account"],
            "payment_method": method,
            "date": on or defaults["date"],
            "description": f"Payment of invoice {invoice_id}",
        }
        answer = client.call(f"{wizard}.execute", session, {"start": start}, "choice", context)
        view = answer.get("view") or {}
        if view.get("state") == "ask":  # not exactly what is left to pay
            ask = {name: value for name, value in view["defaults"].items() if not name.endswith(".")}
            # The wizard's own default takes a credit note's partial refund for an overpayment.
            ask["type"] = "partial" if abs(amount) < abs(left) else "overpayment"
            client.call(f"{wizard}.execute", session, {"start": start, "ask": ask}, "pay", context)
    finally:
        client.call(f"{wizard}.delete", session, context)


def erp_party_hold(client: TrytonClient, party_id: int, on: bool) -> None:
    """Put a party on credit hold in the ERP (add the seeded "Credit hold" category) or lift it."""
    (category,) = client.model("party.category", "search", [["name", "=", seed.HOLD_CATEGORY]], 0, 1, None)
    client.model(
        "party.party", "write", [party_id], {"categories": [["add" if on else "remove", [category]]]}
    )
