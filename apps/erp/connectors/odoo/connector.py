"""The Odoo 19 connector: the ``Connector`` the sync engine talks to, one stream module per concern."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from apps.erp.connectors.base import (
    Capabilities,
    Cursor,
    CustomerPush,
    CustomerRecord,
    ErpBusinessError,
    ErpError,
    ErpHealth,
    InvoiceDocument,
    InvoiceRecord,
    OrderCancel,
    OrderCancelResult,
    OrderPush,
    OrderPushResult,
    OrderStateRecord,
    Page,
    PriceListPush,
    PriceListResult,
    ProductRecord,
    PushResult,
    QuotePush,
    QuotePushResult,
    ReconcileRecord,
    StockRecord,
)
from apps.erp.connectors.odoo.client import OdooClient
from apps.erp.connectors.odoo.common import erp_id
from apps.erp.connectors.odoo.customers import OdooCustomers
from apps.erp.connectors.odoo.invoices import OdooInvoices
from apps.erp.connectors.odoo.orders import OdooOrders
from apps.erp.connectors.odoo.price_lists import OdooPriceLists
from apps.erp.connectors.odoo.products import OdooProducts
from apps.erp.models import ErpConnection

# Which pull streams a change of a record of each model may move (``webhook_streams``).
WEBHOOK_STREAMS: dict[str, frozenset[str]] = {
    "res.partner": frozenset({"customers"}),
    "account.payment.term": frozenset({"customers"}),
    "product.product": frozenset({"products"}),
    "product.template": frozenset({"products"}),
    "stock.quant": frozenset({"stock"}),
    "stock.move": frozenset({"stock"}),
    "sale.order": frozenset({"orders"}),
    "stock.picking": frozenset({"orders", "stock"}),
    "account.move": frozenset({"invoices", "orders"}),  # a payment moves the order's invoice state
}


class OdooConnector:
    """Pulls customers, products, stock, order states and invoices; pushes customers, price lists and
    orders; reads every record of each for reconciliation. ``client`` is the bot user's API key."""

    capabilities = Capabilities(
        price_lists=True,
        ship_to_records=True,  # delivery child contacts; a portal-made one is created on push
        order_confirm=True,  # sale.order/action_confirm
        cancel="cancel",  # action_cancel (disable_cancel_warning): the order stays, cancelled
        # Odoo only warns (sale.order.partner_credit_warning); it never refuses a confirmation.
        credit_limit_enforced=False,
        # Odoo has no credit-hold flag. The sales warning ``sale_warn`` "block" was considered, but its
        # effect through the API is undocumented (it stops order entry in the UI, not action_confirm),
        # and the fact sheet could not confirm the field on 19.0; archiving a customer is not a hold
        # (its orders and invoices must still sync). So holds are set in the portal only.
        customer_holds=False,
        credit_memo_amount_paid=True,  # out_refund has amount_residual like an invoice
        # No subscription API: an Automation Rule "Send Webhook Notification" may call the portal
        # (``webhook_streams`` reads it), but it is unsigned, fire-and-forget and set up by hand in Odoo,
        # so the engine keeps polling (``changed_streams``).
        change_notifications=False,
        product_cost=True,  # product.product standard_price
        quotes=True,  # a draft sale.order is Odoo's quotation; the order's push confirms it
        # Odoo prints invoices through its web report route (/report/pdf/...), which takes a browser
        # session, not the JSON-2 API's key; the fact sheet names no API call that renders one.
        invoice_documents=False,
        # The fact sheet names no payment record (account.payment is not among its facts): only
        # amount_residual and payment_state on the invoice.
        invoice_payments=False,
    )

    def __init__(self, client: OdooClient) -> None:
        self.client = client
        self.customers = OdooCustomers(client)
        self.products = OdooProducts(client)
        self.price_lists = OdooPriceLists(client)
        self.orders = OdooOrders(client, self.customers)
        self.invoices = OdooInvoices(client)

    @classmethod
    def for_connection(cls, connection: ErpConnection) -> OdooConnector:
        """``url`` the Odoo base URL, ``database`` its database (X-Odoo-Database), the API key in the
        environment variable ``password_env`` names."""
        return cls(
            OdooClient(
                connection.url,
                connection.database,
                connection.password(),
                timeout=float(connection.timeout_seconds),
                concurrency_limit=connection.concurrency_limit,
            )
        )

    def close(self) -> None:
        self.client.close()

    def health(self) -> ErpHealth:
        try:
            version = self.client.version()
            context = self.client.call("res.users", "context_get")
        except ErpError as exc:
            return ErpHealth(False, "", exc.message)
        return ErpHealth(
            True,
            version,
            f"Odoo {version}, database {self.client.database}, API key of user {context.get('uid')}",
        )

    # -- change notifications ------------------------------------------------------------------------------
    @staticmethod
    def webhook_streams(payload: dict[str, Any]) -> set[str]:
        """The pull streams to run for an Automation Rule's "Send Webhook Notification" body
        (``{"_model": ..., "_id": ..., "_action": ..., <fields>}``); an unknown model: none."""
        model = payload.get("_model")
        return set(WEBHOOK_STREAMS.get(model, frozenset())) if isinstance(model, str) else set()

    def changed_streams(self, since: Mapping[str, datetime | None]) -> set[str]:
        """One ``search`` (limit 1) per stream asked about, with the stream's pull domain shifted to
        "strictly after" (whole seconds: a change within the high-water mark's second waits for the
        scheduled pull's overlap)."""
        questions: dict[str, Callable[[datetime | None], bool]] = {
            "customers": self.customers.customers_changed,
            "products": self.products.products_changed,
            "stock": self.products.stock_changed,
            "orders": self.orders.orders_changed,
            "invoices": self.invoices.invoices_changed,
        }
        return {stream for stream, at in since.items() if stream in questions and questions[stream](at)}

    # -- pulls and pushes ------------------------------------------------------------------------------------
    def pull_customers(self, cursor: Cursor, limit: int) -> Page[CustomerRecord]:
        return self.customers.pull_customers(cursor, limit)

    def push_customers(
        self, customers: Sequence[CustomerPush], on_created: Callable[[PushResult], None] | None = None
    ) -> list[PushResult]:
        return self.customers.push_customers(customers, on_created)

    def pull_products(self, cursor: Cursor, limit: int) -> Page[ProductRecord]:
        return self.products.pull_products(cursor, limit)

    def pull_stock(self, cursor: Cursor, limit: int) -> Page[StockRecord]:
        return self.products.pull_stock(cursor, limit)

    def push_price_lists(self, price_lists: Sequence[PriceListPush]) -> list[PriceListResult]:
        return self.price_lists.push_price_lists(price_lists)

    def push_orders(self, orders: Sequence[OrderPush]) -> list[OrderPushResult]:
        return self.orders.push_orders(orders)

    def cancel_orders(self, orders: Sequence[OrderCancel]) -> list[OrderCancelResult]:
        return self.orders.cancel_orders(orders)

    def push_quotes(self, quotes: Sequence[QuotePush]) -> list[QuotePushResult]:
        return self.orders.push_quotes(quotes)

    def pull_orders(self, cursor: Cursor, limit: int) -> Page[OrderStateRecord]:
        return self.orders.pull_orders(cursor, limit)

    def pull_invoices(self, cursor: Cursor, limit: int) -> Page[InvoiceRecord]:
        return self.invoices.pull_invoices(cursor, limit)

    def invoice_document(self, erp_id: str) -> InvoiceDocument:
        raise ErpBusinessError("Odoo's API gives no invoice documents: ask the wholesaler for a copy.")

    # -- reconciliation ------------------------------------------------------------------------------------
    def reconcile_customers(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.customers.reconcile_customers(after, limit)

    def reconcile_products(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.products.reconcile_products(after, limit)

    def reconcile_stock(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.products.reconcile_stock(after, limit)

    def reconcile_price_lists(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.price_lists.reconcile_price_lists(after, limit)

    def reconcile_orders(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.orders.reconcile_orders(after, limit)

    def reconcile_invoices(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.invoices.reconcile_invoices(after, limit)

    def reconcile_one(self, entity: str, key: str) -> ReconcileRecord | None:
        """One record by its key, through its entity's reconciliation read (None: Odoo has none)."""
        reads: dict[str, Callable[..., Page[ReconcileRecord]]] = {
            "customers": self.customers.reconcile_customers,
            "products": self.products.reconcile_products,
            "stock": self.products.reconcile_stock,
            "price_lists": self.price_lists.reconcile_price_lists,
            "orders": self.orders.reconcile_orders,
            "invoices": self.invoices.reconcile_invoices,
        }
        if entity not in reads:
            raise ValueError(f"Unknown reconciliation entity {entity!r}")
        record_id = erp_id(key)
        if record_id is None:
            return None
        page = reads[entity]("", 0, ids=[record_id])
        return next((record for record in page.records if record.key == key), None)
