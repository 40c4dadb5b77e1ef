"""Invoice pulls, payment term days and the ERP's own credit holds against a real Tryton 8.2."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from apps.erp.connectors.base import (
    AddressRecord,
    Cursor,
    CustomerRecord,
    InvoiceLineRecord,
    InvoicePaymentRecord,
    InvoiceRecord,
    OrderLinePush,
    OrderPush,
)
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import ErpConnection
from tests.erp_fixtures import INVOICE_SKU, erp_invoice_create, erp_invoice_pay, erp_party_hold
from tools.tryton import erp, seed

TODAY = datetime.now(tz=UTC).date()  # the ERP's today: it runs in UTC here
HOLD_REASON = 'On credit hold in the ERP (party category "Credit hold")'


def _party(client: TrytonClient, code: str) -> dict[str, Any]:
    (row,) = client.model(
        "party.party",
        "search_read",
        [["code", "=", code]],
        0,
        1,
        None,
        ["addresses", "customer_payment_term"],
    )
    return row


def _written(client: TrytonClient, invoice_id: int) -> datetime:
    (row,) = client.model("account.invoice", "read", [invoice_id], ["write_date"])
    return row["write_date"]


def _after(records: Sequence[InvoiceRecord | CustomerRecord]) -> Cursor:
    """The cursor of the next incremental pull: just after the latest change these records carry."""
    return Cursor(since=max(record.changed_at for record in records) + timedelta(microseconds=1))


def _invoice(
    invoice_id: int,
    party: dict[str, Any],
    *,
    number: str,
    invoice_date: date | None,
    due_date: date | None,
    total: str,
    paid: str,
    state: str,
    changed_at: datetime,
    sale_references: list[str] | None = None,
    lines: list[InvoiceLineRecord] | None = None,
    payments: Sequence[tuple[date, str]] = (),
) -> InvoiceRecord:
    """The pull's record; ``payments`` (day, amount) with any reference (``_payment_references``)."""
    return InvoiceRecord(
        erp_id=str(invoice_id),
        customer_erp_id=str(party["id"]),
        number=number,
        invoice_date=invoice_date,
        due_date=due_date,
        currency="USD",
        total_amount=Decimal(total),
        amount_paid=Decimal(paid),
        state=state,
        sale_references=sale_references or [],
        changed_at=changed_at,
        lines=lines,
        payments=[InvoicePaymentRecord(day, Decimal(amount), ANY) for day, amount in payments],
    )


def _payment_references(client: TrytonClient, invoice_id: int) -> list[str]:
    """The numbers of the payment moves of the invoice (its origin, but not its own move), by date then id."""
    (invoice,) = client.model("account.invoice", "read", [invoice_id], ["move"])
    moves = client.model(
        "account.move",
        "search_read",
        [["origin", "=", f"account.invoice,{invoice_id}"], ["id", "!=", invoice["move"]]],
        0,
        None,
        [["date", "ASC"], ["id", "ASC"]],
        ["number"],
    )
    return [move["number"] for move in moves]


def _one_line(client: TrytonClient, total: str) -> list[InvoiceLineRecord]:
    """The one line ``erp_invoice_create`` gives an invoice of ``total``: SKU-00001, quantity 1 (-1 for
    a credit note) at the total's absolute value."""
    (product,) = client.model(
        "product.product", "search_read", [["code", "=", INVOICE_SKU]], 0, 1, None, ["name"]
    )
    amount = Decimal(total)
    return [
        InvoiceLineRecord(
            str(product["id"]),
            INVOICE_SKU,
            product["name"],
            Decimal(1 if amount >= 0 else -1),
            abs(amount),
            amount,
        )
    ]


def _reconcile_payment_line_elsewhere(client: TrytonClient, invoice_id: int) -> None:
    """Reconcile the invoice's (partial) payment line with a new charge to the same customer, as an
    accountant might: the payment no longer counts for the invoice, yet the invoice is not written."""
    (invoice,) = client.model(
        "account.invoice",
        "read",
        [invoice_id],
        ["party", "account", "payment_lines.credit", "lines.account"],
    )
    (payment,) = invoice["payment_lines."]
    (journal,) = client.model("account.journal", "search", [["code", "=", "MISC"]], 0, 1, None)
    (period,) = client.model(
        "account.period",
        "search",
        [["start_date", "<=", TODAY], ["end_date", ">=", TODAY], ["type", "=", "standard"]],
        0,
        1,
        None,
    )
    amount = payment["credit"]
    (move,) = client.model(
        "account.move",
        "create",
        [
            {
                "journal": journal,
                "period": period,
                "date": TODAY,
                "lines": [
                    [
                        "create",
                        [
                            {
                                "account": invoice["account"],
                                "party": invoice["party"],
                                "debit": amount,
                                "credit": Decimal(0),
                            },
                            {
                                "account": invoice["lines."][0]["account"],
                                "debit": Decimal(0),
                                "credit": amount,
                            },
                        ],
                    ]
                ],
            }
        ],
    )
    client.model("account.move", "post", [move])
    (charge,) = client.model(
        "account.move.line", "search", [["move", "=", move], ["account", "=", invoice["account"]]], 0, 1, None
    )
    lines = [payment["id"], charge]
    context = {
        **client.context,
        "active_model": "account.move.line",
        "active_id": lines[0],
        "active_ids": lines,
    }
    session, start, _ = client.call("wizard.account.move.reconcile_lines.create", context)
    client.call("wizard.account.move.reconcile_lines.execute", session, {}, start, context)
    client.call("wizard.account.move.reconcile_lines.delete", session, context)


@pytest.fixture
def calls(connector: TrytonConnector, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the connector's ERP calls by ``model.method``."""
    counter: Counter[str] = Counter()
    model = connector.client.model

    def counting(name: str, method: str, *args: Any, **kwargs: Any) -> Any:
        counter[f"{name}.{method}"] += 1
        return model(name, method, *args, **kwargs)

    monkeypatch.setattr(connector.client, "model", counting)
    return counter


# --- Invoices --------------------------------------------------------------------------------------------


def test_a_posted_invoice_is_pulled_with_its_number_dates_and_amounts(
    connector: TrytonConnector, erp_admin: TrytonClient, calls: Counter[str]
) -> None:
    acme = _party(erp_admin, "CUST-001")  # Net 30
    invoice_date = TODAY - timedelta(days=10)
    invoice_id = erp_invoice_create(
        erp_admin, party_id=acme["id"], amount=Decimal("1234.50"), invoice_date=invoice_date
    )

    page = connector.pull_invoices(Cursor(), 100)

    assert page.records == [
        _invoice(
            invoice_id,
            acme,
            number=f"INV/{invoice_date.year}/00001",  # the template has no invoices
            invoice_date=invoice_date,
            due_date=invoice_date + timedelta(days=30),
            total="1234.50",
            paid="0.00",
            state="posted",
            changed_at=_written(erp_admin, invoice_id),
            lines=_one_line(erp_admin, "1234.50"),
        )
    ]
    assert (page.next, page.has_more) == (str(invoice_id), False)
    assert calls == Counter({"account.invoice.search_read": 1})  # lines and sales come in the same call


def test_a_draft_invoice_has_no_number_nor_due_date(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    globex = _party(erp_admin, "CUST-002")
    invoice_id = erp_invoice_create(
        erp_admin, party_id=globex["id"], amount=Decimal("80.00"), invoice_date=TODAY, post=False
    )

    (record,) = connector.pull_invoices(Cursor(), 100).records

    assert record == _invoice(
        invoice_id,
        globex,
        number="",
        invoice_date=TODAY,
        due_date=None,
        total="80.00",
        paid="0",
        state="draft",
        changed_at=_written(erp_admin, invoice_id),
        lines=_one_line(erp_admin, "80.00"),
    )


def test_payments_reach_incremental_pulls_until_the_invoice_is_paid(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    acme = _party(erp_admin, "CUST-001")
    invoice_date = TODAY - timedelta(days=40)  # Net 30: 10 days past due
    invoice_id = erp_invoice_create(
        erp_admin, party_id=acme["id"], amount=Decimal("1000.00"), invoice_date=invoice_date
    )
    first = connector.pull_invoices(Cursor(), 100).records
    cursor = _after(first)
    assert connector.pull_invoices(cursor, 100).records == []

    erp_invoice_pay(erp_admin, invoice_id, Decimal("400.00"))
    partly = connector.pull_invoices(cursor, 100).records

    expected = {
        "number": f"INV/{invoice_date.year}/00001",
        "invoice_date": invoice_date,
        "due_date": invoice_date + timedelta(days=30),
        "total": "1000.00",
    }
    assert partly == [
        _invoice(
            invoice_id,
            acme,
            **expected,
            paid="400.00",
            state="posted",
            changed_at=_written(erp_admin, invoice_id),
            lines=_one_line(erp_admin, expected["total"]),
            payments=[(TODAY, "400.00")],
        )
    ]
    assert partly[0].changed_at > first[0].changed_at

    erp_invoice_pay(erp_admin, invoice_id, Decimal("600.00"), on=TODAY - timedelta(days=1))
    paid = connector.pull_invoices(_after(partly), 100).records

    # Paid: the due date stays the last maturity; the state is written in a queued step after the
    # reconciliation, so the invoice's own write_date is the latest stamp.
    assert paid == [
        _invoice(
            invoice_id,
            acme,
            **expected,
            paid="1000.00",
            state="paid",
            changed_at=_written(erp_admin, invoice_id),
            lines=_one_line(erp_admin, expected["total"]),
            payments=[(TODAY - timedelta(days=1), "600.00"), (TODAY, "400.00")],  # each on its day
        )
    ]
    assert paid[0].payments is not None
    assert [p.reference for p in paid[0].payments] == _payment_references(erp_admin, invoice_id)
    assert connector.pull_invoices(_after(paid), 100).records == []


def test_a_payment_reconciled_elsewhere_is_seen_through_the_payment_lines(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    acme = _party(erp_admin, "CUST-001")
    invoice_id = erp_invoice_create(
        erp_admin, party_id=acme["id"], amount=Decimal("300.00"), invoice_date=TODAY
    )
    erp_invoice_pay(erp_admin, invoice_id, Decimal("50.00"))
    (before,) = connector.pull_invoices(Cursor(), 100).records
    assert before.amount_paid == Decimal("50.00")
    written = _written(erp_admin, invoice_id)

    _reconcile_payment_line_elsewhere(erp_admin, invoice_id)
    (after,) = connector.pull_invoices(_after([before]), 100).records

    assert _written(erp_admin, invoice_id) == written  # the invoice itself did not change…
    assert (after.erp_id, after.amount_paid, after.state) == (str(invoice_id), Decimal("0.00"), "posted")
    assert before.payments == [InvoicePaymentRecord(TODAY, Decimal("50.00"), ANY)]
    assert after.payments == []  # it pays something else now
    assert after.changed_at > before.changed_at  # …its payment line did


def test_a_credit_note_has_a_negative_total_and_is_refunded(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    globex = _party(erp_admin, "CUST-002")  # Net 60; the credit note is on Net 30
    (net_30,) = erp_admin.model(
        "account.invoice.payment_term", "search", [["name", "=", "Net 30"]], 0, 1, None
    )
    credit_id = erp_invoice_create(
        erp_admin,
        party_id=globex["id"],
        amount=Decimal("-250.00"),
        invoice_date=TODAY,
        payment_term_id=net_30,
    )
    expected = {
        "number": f"CN/{TODAY.year}/00001",
        "invoice_date": TODAY,
        "due_date": TODAY + timedelta(days=30),
        "total": "-250.00",
    }

    first = connector.pull_invoices(Cursor(), 100).records
    assert first == [
        _invoice(
            credit_id,
            globex,
            **expected,
            paid="0.00",
            state="posted",
            changed_at=_written(erp_admin, credit_id),
            lines=_one_line(erp_admin, expected["total"]),
        )
    ]

    erp_invoice_pay(erp_admin, credit_id, Decimal("-100.00"))  # a partial refund
    partly = connector.pull_invoices(_after(first), 100).records
    assert partly == [
        _invoice(
            credit_id,
            globex,
            **expected,
            paid="-100.00",
            state="posted",
            changed_at=_written(erp_admin, credit_id),
            lines=_one_line(erp_admin, expected["total"]),
            payments=[(TODAY, "-100.00")],
        )
    ]

    erp_invoice_pay(erp_admin, credit_id, Decimal("-150.00"))
    assert connector.pull_invoices(_after(partly), 100).records == [
        _invoice(
            credit_id,
            globex,
            **expected,
            paid="-250.00",
            state="paid",
            changed_at=_written(erp_admin, credit_id),
            lines=_one_line(erp_admin, expected["total"]),
            payments=[(TODAY, "-100.00"), (TODAY, "-150.00")],
        )
    ]


def test_the_invoice_of_a_pushed_order_carries_the_order_reference(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    acme = _party(erp_admin, "CUST-001")
    (screw,) = erp_admin.model("product.product", "search", [["code", "=", "SKU-00001"]], 0, 1, None)
    address = AddressRecord(str(acme["addresses"][0]), "", "", "", "", "US")
    (pushed,) = connector.push_orders(
        [
            OrderPush(
                "PO-INV-1",
                str(acme["id"]),
                address,
                [OrderLinePush(str(screw), Decimal(10), Decimal("0.1300"))],
            )
        ]
    )
    assert (pushed.state, pushed.error) == ("processing", "")
    (sale,) = erp_admin.model("sale.sale", "read", [int(pushed.erp_id)], ["invoices"])
    (invoice_id,) = sale["invoices"]
    pushed_lines = [  # a sale's invoice line has no description of its own in Tryton
        InvoiceLineRecord(str(screw), "SKU-00001", "", Decimal(10), Decimal("0.1300"), Decimal("1.30"))
    ]

    draft = connector.pull_invoices(Cursor(), 100).records
    assert draft == [
        _invoice(
            invoice_id,
            acme,
            number="",
            invoice_date=None,
            due_date=None,
            total="1.30",
            paid="0",
            state="draft",
            sale_references=["PO-INV-1"],
            changed_at=_written(erp_admin, invoice_id),
            lines=pushed_lines,
        )
    ]

    erp_admin.model("account.invoice", "post", [invoice_id])  # accounting posts it (dated today)
    assert connector.pull_invoices(_after(draft), 100).records == [
        _invoice(
            invoice_id,
            acme,
            number=f"INV/{TODAY.year}/00001",
            invoice_date=TODAY,
            due_date=TODAY + timedelta(days=30),
            total="1.30",
            paid="0.00",
            state="posted",
            sale_references=["PO-INV-1"],
            changed_at=_written(erp_admin, invoice_id),
            lines=pushed_lines,
        )
    ]


def test_pages_of_one_bring_every_invoice_in_id_order(
    connector: TrytonConnector, erp_admin: TrytonClient, calls: Counter[str]
) -> None:
    made = [
        erp_invoice_create(
            erp_admin, party_id=_party(erp_admin, code)["id"], amount=amount, invoice_date=TODAY, post=post
        )
        for code, amount, post in [
            ("CUST-001", Decimal("10.00"), True),
            ("CUST-002", Decimal("20.00"), False),
            ("CUST-003", Decimal("-30.00"), True),
            ("CUST-004", Decimal("40.00"), True),
        ]
    ]

    pages = []
    cursor = Cursor()
    while True:
        page = connector.pull_invoices(cursor, 1)
        pages.append(page)
        if not page.has_more:
            break
        cursor = Cursor(after=page.next)

    assert [[record.erp_id for record in page.records] for page in pages] == [*([str(i)] for i in made), []]
    assert [page.next for page in pages] == [*map(str, made), str(made[-1])]
    assert [record.total_amount for page in pages for record in page.records] == [
        Decimal("10.00"),
        Decimal("20.00"),
        Decimal("-30.00"),
        Decimal("40.00"),
    ]
    assert calls == Counter({"account.invoice.search_read": 5})


# --- Customers: payment terms and holds ------------------------------------------------------------------


def test_customers_carry_their_payment_term_days(
    connector: TrytonConnector, erp_admin: TrytonClient, calls: Counter[str]
) -> None:
    end_of_next_month, split = erp_admin.model(
        "account.invoice.payment_term",
        "create",
        [
            {
                "name": "End of next month",
                "lines": [["create", [{"relativedeltas": [["create", [{"months": 1, "day": 31}]]]}]]],
            },
            {
                "name": "Half in 30, rest in 45 days",
                "lines": [
                    [
                        "create",
                        [
                            {
                                "type": "percent",
                                "ratio": Decimal("0.5"),
                                "divisor": Decimal(2),
                                "relativedeltas": [["create", [{"days": 30}]]],
                            },
                            {"type": "remainder", "relativedeltas": [["create", [{"weeks": 6, "days": 3}]]]},
                        ],
                    ]
                ],
            },
        ],
    )
    erp_admin.model(
        "party.party",
        "write",
        [_party(erp_admin, "CUST-006")["id"]],
        {"customer_payment_term": end_of_next_month},
        [_party(erp_admin, "CUST-007")["id"]],
        {"customer_payment_term": split},
    )

    page = connector.pull_customers(Cursor(), 100)

    terms = {
        record.code if record.code.startswith("CUST-") else record.name: (
            record.payment_term_name,
            record.payment_term_days,
        )
        for record in page.records
    }
    assert terms == {
        "Northwind Wholesale Inc.": (None, None),  # the ERP's own company: no term
        "CUST-001": ("Net 30", 30),
        "CUST-002": ("Net 60", 60),
        "CUST-003": ("Net 30", 30),
        "CUST-004": ("Net 60", 60),
        "CUST-005": ("Prepaid", 0),
        "CUST-006": ("End of next month", 60),  # a month (30) and up to 30 days to the 31st
        "CUST-007": ("Half in 30, rest in 45 days", 45),  # its latest line
        "CUST-008": ("Net 60", 60),
        "CUST-009": ("Net 30", 30),
        "CUST-010": ("Net 60", 60),
    }
    # One read for every term of the page, none per party.
    assert calls == Counter(
        {"party.party.search_read": 1, "party.address.read": 1, "account.invoice.payment_term.read": 1}
    )


def test_a_credit_hold_put_on_and_lifted_in_the_erp_reaches_incremental_pulls(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    harbor = _party(erp_admin, "CUST-003")
    first = connector.pull_customers(Cursor(), 100).records
    assert [record.code for record in first if record.on_hold or record.hold_reason] == []
    assert connector.pull_customers(_after(first), 100).records == []

    erp_party_hold(erp_admin, harbor["id"], True)
    held = connector.pull_customers(_after(first), 100).records

    assert [(r.erp_id, r.code, r.on_hold, r.hold_reason) for r in held] == [
        (str(harbor["id"]), "CUST-003", True, HOLD_REASON)
    ]

    erp_party_hold(erp_admin, harbor["id"], False)
    lifted = connector.pull_customers(_after(held), 100).records

    assert [(r.code, r.on_hold, r.hold_reason) for r in lifted] == [("CUST-003", False, "")]


def test_the_hold_category_comes_from_the_settings_whatever_its_case(
    erp_connection: ErpConnection, erp_admin: TrytonClient, settings: Any
) -> None:
    globex = _party(erp_admin, "CUST-002")
    erp_party_hold(erp_admin, globex["id"], True)

    def held(category: str) -> list[tuple[str, bool, str]]:
        settings.ERP_HOLD_CATEGORY = category
        connector = TrytonConnector.for_connection(erp_connection)
        try:
            assert connector.hold_category == category
            records = connector.pull_customers(Cursor(), 100).records
        finally:
            connector.close()
        return [(r.code, r.on_hold, r.hold_reason) for r in records if r.on_hold or r.hold_reason]

    assert held("  CREDIT hold ") == [("CUST-002", True, HOLD_REASON)]  # the ERP's spelling in the reason
    assert held("Stop list") == []
    del settings.ERP_HOLD_CATEGORY
    default = TrytonConnector.for_connection(erp_connection)
    assert default.hold_category == "Credit hold"
    default.close()


# --- The demo ERP ----------------------------------------------------------------------------------------


@pytest.fixture
def demo_server(erp_template: Path, tmp_path: Path) -> Iterator[erp.ErpServer]:
    server = erp.start(tmp_path / "demo", demo=True)
    try:
        yield server
    finally:
        server.stop()


def test_the_demo_erp_has_aged_invoices_and_the_tests_template_none(
    demo_server: erp.ErpServer, erp_template: Path
) -> None:
    today = datetime.now(tz=UTC).date()  # the demo invoices were dated from today a moment ago
    assert json.loads((erp_template.parent / "seed.json").read_text())["demo_invoices"] == []
    summary = json.loads((demo_server.workdir / erp.DEMO_SUMMARY).read_text())
    customers = {row["code"]: row["id"] for row in summary["customers"]}
    client = TrytonClient(demo_server.url, demo_server.database, demo_server.user, demo_server.password)
    connector = TrytonConnector(client)
    try:
        page = connector.pull_invoices(Cursor(), 100)
    finally:
        connector.close()

    ids = {row["reference"]: row["id"] for row in summary["demo_invoices"]}
    # Tryton numbers a year's invoices in date order (the seed posts them in one call).
    numbers: dict[str, str] = {}
    per_year: Counter[int] = Counter()
    for demo in sorted(seed.DEMO_INVOICES, key=lambda demo: -demo.days_ago):
        year = (today - timedelta(days=demo.days_ago)).year
        per_year[year] += 1
        numbers[demo.reference] = f"INV/{year}/{per_year[year]:05d}"
    expected = []
    for demo in seed.DEMO_INVOICES:
        invoice_date = today - timedelta(days=demo.days_ago)
        expected.append(
            (
                str(ids[demo.reference]),
                str(customers[demo.customer]),
                numbers[demo.reference],
                invoice_date,
                invoice_date + timedelta(days=30),  # Net 30
                demo.quantity * demo.unit_price,
                demo.paid,
                "posted",
            )
        )
    assert [
        (
            r.erp_id,
            r.customer_erp_id,
            r.number,
            r.invoice_date,
            r.due_date,
            r.total_amount,
            r.amount_paid,
            r.state,
        )
        for r in sorted(page.records, key=lambda r: list(ids.values()).index(int(r.erp_id)))
    ] == expected
    assert [(demo.customer, demo.quantity * demo.unit_price, demo.paid) for demo in seed.DEMO_INVOICES] == [
        ("CUST-009", Decimal("4250.00"), Decimal(0)),
        ("CUST-009", Decimal("1840.00"), Decimal(0)),
        ("CUST-010", Decimal("6400.00"), Decimal("2500.00")),
        ("CUST-010", Decimal("975.00"), Decimal(0)),
    ]
    aged = next(r for r in page.records if r.erp_id == str(ids["DEMO-AGING-1"]))
    assert aged.due_date == today - timedelta(days=45)  # 45 days past due
