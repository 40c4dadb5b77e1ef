"""The conformance driver for Tryton 8.2: the seeded template's data and the ERP's own admin, over
JSON-RPC, changing the ERP as its users would (``tests.erp_fixtures`` has the invoice and payment
helpers). Only this module knows it is Tryton; the behaviour tests see the ``ErpDriver`` protocol.

The connector is reached through its public attribute ``client`` only in ``losing_the_answer``, to lose
the answer of one call after the ERP has committed it.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from apps.erp.connectors.base import AddressRecord, Connector, CustomerPush, ErpTransientError
from apps.erp.models import ErpConnection
from tests.erp.conformance.conftest import SeededCustomer, Stream
from tests.erp_fixtures import _accepting_warnings as accepting_warnings
from tests.erp_fixtures import erp_invoice_create, erp_invoice_pay, erp_party_hold
from tools.tryton import erp

SEEDED_CUSTOMERS = ("CUST-001", "CUST-002", "CUST-004")  # credit limits 25,000 / 50,000 / 40,000, no hold
PRODUCT_SKU = "SKU-00001"
UNKNOWN_ID = "999999"
INVALID_EIN = "00-1234567"  # Tryton validates US EINs (python-stdnum): a refusal of the content
# (model, table, field written) per stream: an edit that leaves the record as the portal sees it.
TOUCHED = {
    "customers": ("party.party", "party_party", "name"),
    "products": ("product.product", "product_product", "description"),
    "orders": ("sale.sale", "sale_sale", "comment"),
    "invoices": ("account.invoice", "account_invoice", "comment"),
}
READS = frozenset({"read", "search", "search_read", "search_count", "fields_get", "default_get"})


class AdminClient(Protocol):
    """The part of the Tryton JSON-RPC client (the ``erp_admin`` fixture) this driver uses."""

    context: dict[str, Any]

    def model(self, model: str, method: str, *args: Any, context: dict[str, Any] | None = None) -> Any: ...


def finance_user(server: erp.ErpServer) -> tuple[str, str]:
    """The seeded ERP user in the credit-limit group (may accept a credit warning) and its password."""
    return erp.ERP_FINANCE_USER, server.password


class TrytonDriver:
    currency = "USD"

    def __init__(self, admin: AdminClient, server: erp.ErpServer, connection: ErpConnection) -> None:
        self.admin = admin
        self.server = server
        self.connection = connection

    # -- seeded data -------------------------------------------------------------------------------------
    def customers(self) -> list[SeededCustomer]:
        rows = self.admin.model(
            "party.party",
            "search_read",
            [["code", "in", list(SEEDED_CUSTOMERS)]],
            0,
            None,
            [["id", "ASC"]],
            ["code", "addresses"],
        )
        assert [row["code"] for row in rows] == sorted(SEEDED_CUSTOMERS)
        return [
            SeededCustomer(
                str(row["id"]), row["code"], AddressRecord(str(row["addresses"][0]), "", "", "", "", "US")
            )
            for row in rows
        ]

    def product_erp_id(self) -> str:
        (product,) = self.admin.model("product.product", "search", [["code", "=", PRODUCT_SKU]], 0, 1, None)
        return str(product)

    def unknown_customer_erp_id(self) -> str:
        return UNKNOWN_ID

    def unknown_product_erp_id(self) -> str:
        return UNKNOWN_ID

    def invalid_customer(self, code: str) -> CustomerPush:
        return CustomerPush(code=code, name="Typo Tools", tax_identifier=INVALID_EIN)

    # -- changes in the ERP ------------------------------------------------------------------------------
    def touch(self, stream: Stream, erp_ids: Sequence[str], at: datetime | None = None) -> None:
        model, table, field = TOUCHED[stream]
        ids = [int(erp_id) for erp_id in erp_ids]
        values = {row["id"]: row[field] or "" for row in self.admin.model(model, "read", ids, [field])}
        for record in ids:  # one transaction each: Tryton stamps a row with its transaction's start
            self.admin.model(model, "write", [record], {field: f"{values[record]} (edited)".strip()})
        if at is not None:
            self._stamp(table, ids, at)

    def _stamp(self, table: str, ids: list[int], at: datetime) -> None:
        """Stamp the rows as Tryton would had their transaction started at ``at`` (its SQLite database
        keeps naive UTC text, the server's clock)."""
        stamp = at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", timespec="microseconds")
        database = self.server.workdir / "db" / f"{self.server.database}.sqlite"
        with closing(sqlite3.connect(database, timeout=30)) as db, db:
            db.executemany(f"UPDATE {table} SET write_date = ? WHERE id = ?", [(stamp, i) for i in ids])  # noqa: S608 - table from TOUCHED

    def move_stock(self, product_erp_id: str, quantity: Decimal) -> None:
        locations = self.admin.model(
            "stock.location", "search_read", [["code", "in", ["STO", "SUP"]]], 0, None, None, ["code"]
        )
        by_code = {row["code"]: row["id"] for row in locations}
        (product,) = self.admin.model("product.product", "read", [int(product_erp_id)], ["default_uom"])
        moves = self.admin.model(
            "stock.move",
            "create",
            [
                {
                    "product": product["id"],
                    "unit": product["default_uom"],
                    "quantity": float(quantity),
                    "from_location": by_code["SUP"],
                    "to_location": by_code["STO"],
                    "unit_price": Decimal("1"),
                    "currency": 1,
                }
            ],
        )
        self.admin.model("stock.move", "do", moves)

    def set_credit_limit(self, customer_erp_id: str, amount: Decimal) -> None:
        self.admin.model("party.party", "write", [int(customer_erp_id)], {"credit_limit_amount": amount})

    def _sale(self, order_erp_id: str) -> dict[str, Any]:
        (sale,) = self.admin.model("sale.sale", "read", [int(order_erp_id)], ["shipments", "invoices"])
        return sale

    def confirm_order(self, order_erp_id: str) -> None:
        """Nothing: the connector's push confirms the sale (``order_confirm``)."""

    def hold_customer(self, customer_erp_id: str, on: bool) -> None:
        """The seeded "Credit hold" party category, added or removed (the connector's hold category)."""
        erp_party_hold(self.admin, int(customer_erp_id), on)  # type: ignore[arg-type]

    def ship_order(self, order_erp_id: str) -> None:
        shipments = self._sale(order_erp_id)["shipments"]
        self.admin.model("stock.shipment.out", "assign_try", shipments)
        for button in ("pick", "pack", "do"):
            self.admin.model("stock.shipment.out", button, shipments)

    def invoice_order(self, order_erp_id: str) -> str:
        (invoice,) = self._sale(order_erp_id)["invoices"]  # made in draft when the sale was confirmed
        self.admin.model("account.invoice", "post", [invoice])
        return str(invoice)

    def pay_invoice(self, invoice_erp_id: str, amount: Decimal) -> None:
        erp_invoice_pay(self.admin, int(invoice_erp_id), amount)  # type: ignore[arg-type]

    def credit_note(self, customer_erp_id: str, amount: Decimal) -> str:
        """A customer invoice of ``-amount`` (Tryton's credit note: quantity -1), posted, dated the ERP's
        today (it runs in UTC)."""
        credit_note = erp_invoice_create(
            self.admin,  # type: ignore[arg-type]
            party_id=int(customer_erp_id),
            amount=-amount,
            invoice_date=datetime.now(tz=UTC).date(),
        )
        return str(credit_note)

    def refund_credit_note(self, credit_note_erp_id: str, amount: Decimal) -> None:
        erp_invoice_pay(self.admin, int(credit_note_erp_id), -amount)  # type: ignore[arg-type]

    def deliver_notifications(self) -> None:
        """Nothing: Tryton calls no one when records change (``change_notifications`` False)."""

    def price_list_ids(self, key: str) -> list[str]:
        marker = f"[{key}]"  # the connector names a pushed list "<name> [<key>]"
        rows = self.admin.model(
            "product.price_list",
            "search_read",
            [["name", "like", f"%{marker}"]],
            0,
            None,
            [["id", "ASC"]],
            ["name"],
            context={"active_test": False},
        )
        return [str(row["id"]) for row in rows if row["name"].endswith(marker)]

    def archive_product(self, product_erp_id: str) -> None:
        # Tryton warns that the product still has stock: the person confirms.
        accepting_warnings(
            self.admin,  # type: ignore[arg-type]
            lambda: self.admin.model("product.product", "write", [int(product_erp_id)], {"active": False}),
        )

    def archive_customer(self, customer_erp_id: str) -> None:
        self.admin.model("party.party", "write", [int(customer_erp_id)], {"active": False})

    def new_product(self, sku: str) -> str:
        (unit,) = self.admin.model("product.uom", "search", [["symbol", "=", "u"]], 0, 1, None)
        (template,) = self.admin.model(
            "product.template",
            "create",
            [
                {
                    "name": f"Conformance {sku}",
                    "type": "goods",
                    "default_uom": unit,
                    "sale_uom": unit,
                    "salable": True,
                    "list_price": Decimal("12.5000"),
                    "products": [["create", [{"suffix_code": sku}]]],
                }
            ],
        )
        (product,) = self.admin.model("product.template", "read", [template], ["products"])
        return str(product["products"][0])

    def set_product_cost(self, product_erp_id: str, cost: Decimal) -> None:
        # A company value: written in the admin's company (its preferences are the client's context).
        self.admin.model("product.product", "write", [int(product_erp_id)], {"cost_price": cost})

    def delete_product(self, product_erp_id: str) -> None:
        # Tryton deletes the variant; its template (with no variant left) goes too, as a person would.
        (product,) = self.admin.model("product.product", "read", [int(product_erp_id)], ["template"])
        self.admin.model("product.product", "delete", [product["id"]])
        self.admin.model("product.template", "delete", [product["template"]])

    def duplicate_sale_reference(self, order_erp_id: str) -> str:
        (sale,) = self.admin.model("sale.sale", "read", [int(order_erp_id)], ["reference"])
        (copy,) = self.admin.model("sale.sale", "copy", [sale["id"]], {"reference": sale["reference"]})
        return str(copy)

    # -- failures ----------------------------------------------------------------------------------------
    @contextmanager
    def losing_the_answer(self, connector: Connector) -> Iterator[None]:
        client = connector.client  # type: ignore[attr-defined]
        model = client.model
        lost: list[str] = []

        def answer_lost(name: str, method: str, *args: Any, **kwargs: Any) -> Any:
            result = model(name, method, *args, **kwargs)
            if method not in READS and not lost:
                lost.append(f"{name}.{method}")  # committed in the ERP; the client never hears of it
                raise ErpTransientError(f"The ERP did not answer {name}.{method} in time.")
            return result

        client.model = answer_lost
        try:
            yield
        finally:
            client.model = model
        assert lost, "the connector sent no write"

    def dead_connection(self) -> ErpConnection:
        with closing(socket.socket()) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # free, and closed again: nothing listens there
        return ErpConnection(
            name="Dead ERP",
            kind=self.connection.kind,
            url=f"http://127.0.0.1:{port}",
            database=self.connection.database,
            username=self.connection.username,
            password_env=self.connection.password_env,
            timeout_seconds=5,
        )
