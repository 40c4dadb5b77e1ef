"""The Business Central (API v2.0) connector: the ``Connector`` the sync engine talks to, one stream module
per concern sharing one client."""

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
    quotes_refused,
)
from apps.erp.connectors.business_central.client import DEFAULT_TOKEN_URL, BusinessCentralClient
from apps.erp.connectors.business_central.customers import BusinessCentralCustomers
from apps.erp.connectors.business_central.invoices import BusinessCentralInvoices
from apps.erp.connectors.business_central.orders import BusinessCentralOrders
from apps.erp.connectors.business_central.products import BusinessCentralProducts
from apps.erp.connectors.business_central.subscriptions import (
    WEBHOOK_STREAMS,
    BusinessCentralSubscriptions,
    SubscriptionState,
    webhook_streams,
)
from apps.erp.models import ErpConnection

GUID_LENGTH = 36


def _is_guid(key: str) -> bool:
    return len(key) == GUID_LENGTH and key.count("-") == 4


class BusinessCentralConnector:
    """Pulls customers, items and stock, order states, invoices and credit memos; pushes customers and
    orders (with line prices); cancels by deleting the draft order; subscribes to change notifications.

    Connection: ``url`` the API base (``https://api.businesscentral.dynamics.com/v2.0/<environment>/api/
    v2.0``), ``username`` the Entra app's client id, ``password_env`` the variable with its secret,
    ``database`` the company's name; ``options``: ``tenant_id`` (or ``token_url``), ``company_id`` (wins
    over the name), ``currency`` (the local currency, default USD)."""

    # BC v2.0: no price list resource (prices travel on each salesOrderLine); one address per customer
    # (orders carry shipTo* text); status read-only, no release action; cancel = DELETE; the credit limit
    # never blocks an API order; blocked is the hold; credit memos have no remainingAmount; webhooks exist.
    capabilities = Capabilities(
        price_lists=False,
        ship_to_records=False,
        order_confirm=False,
        cancel="delete",
        credit_limit_enforced=False,
        customer_holds=True,
        credit_memo_amount_paid=False,
        change_notifications=True,
        product_cost=True,  # items unitCost
        # salesQuotes exist in BC, but the connector does not push them yet: the order push makes the sale.
        quotes=False,
        invoice_documents=True,  # salesInvoices / salesCreditMemos pdfDocument
        # The fact sheet names no payment entity (no customer ledger entries or payments in API v2.0's list).
        invoice_payments=False,
    )

    def __init__(self, client: BusinessCentralClient, *, currency: str = "USD") -> None:
        self.client = client
        self.customers = BusinessCentralCustomers(client)
        self.products = BusinessCentralProducts(client)
        self.orders = BusinessCentralOrders(client)
        self.invoices = BusinessCentralInvoices(client, currency)
        self.subscriptions = BusinessCentralSubscriptions(client)

    @classmethod
    def for_connection(cls, connection: ErpConnection) -> BusinessCentralConnector:
        options: dict[str, Any] = dict(connection.options or {})
        token_url = options.get("token_url") or DEFAULT_TOKEN_URL.format(
            tenant_id=options.get("tenant_id", "")
        )
        client = BusinessCentralClient(
            connection.url,
            token_url=token_url,
            client_id=connection.username,
            client_secret=connection.password(),
            company_id=str(options.get("company_id") or ""),
            company_name=connection.database,
            timeout=float(connection.timeout_seconds),
            concurrency_limit=connection.concurrency_limit,
        )
        return cls(client, currency=str(options.get("currency") or "USD"))

    def close(self) -> None:
        self.client.close()

    def health(self) -> ErpHealth:
        try:
            company = self.client.company_id
        except ErpError as exc:
            return ErpHealth(False, "", exc.message)
        version = self.client.system_version
        return ErpHealth(
            True, version, f"Business Central {version}, company {company}, client {self.client.client_id}"
        )

    # -- customers -----------------------------------------------------------------------------------------
    def pull_customers(self, cursor: Cursor, limit: int) -> Page[CustomerRecord]:
        return self.customers.pull_customers(cursor, limit)

    def push_customers(
        self, customers: Sequence[CustomerPush], on_created: Callable[[PushResult], None] | None = None
    ) -> list[PushResult]:
        return self.customers.push_customers(customers, on_created)

    def reconcile_customers(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.customers.reconcile_customers(after, limit)

    # -- products and stock --------------------------------------------------------------------------------
    def pull_products(self, cursor: Cursor, limit: int) -> Page[ProductRecord]:
        return self.products.pull_products(cursor, limit)

    def pull_stock(self, cursor: Cursor, limit: int) -> Page[StockRecord]:
        return self.products.pull_stock(cursor, limit)

    def reconcile_products(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.products.reconcile_products(after, limit)

    def reconcile_stock(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.products.reconcile_stock(after, limit)

    # -- price lists: none in BC v2.0 ----------------------------------------------------------------------
    def push_price_lists(self, price_lists: Sequence[PriceListPush]) -> list[PriceListResult]:
        """BC's standard API has no price list resource (fact sheet §2): the portal's prices reach BC as
        the unit price of each order line. Nothing is sent."""
        raise ErpBusinessError(
            "Business Central has no price lists in its API (v2.0): no price list was sent; prices go to it "
            "as the unit price of each order line."
        )

    def reconcile_price_lists(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return Page([], "", False)

    # -- orders and invoices -------------------------------------------------------------------------------
    def push_orders(self, orders: Sequence[OrderPush]) -> list[OrderPushResult]:
        return self.orders.push_orders(orders)

    def cancel_orders(self, orders: Sequence[OrderCancel]) -> list[OrderCancelResult]:
        return self.orders.cancel_orders(orders)

    def push_quotes(self, quotes: Sequence[QuotePush]) -> list[QuotePushResult]:
        return quotes_refused(quotes)

    def pull_orders(self, cursor: Cursor, limit: int) -> Page[OrderStateRecord]:
        return self.orders.pull_orders(cursor, limit)

    def reconcile_orders(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.orders.reconcile_orders(after, limit)

    def pull_invoices(self, cursor: Cursor, limit: int) -> Page[InvoiceRecord]:
        return self.invoices.pull_invoices(cursor, limit)

    def invoice_document(self, erp_id: str) -> InvoiceDocument:
        return self.invoices.invoice_document(erp_id)

    def reconcile_invoices(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.invoices.reconcile_invoices(after, limit)

    def reconcile_one(self, entity: str, key: str) -> ReconcileRecord | None:
        if not _is_guid(key) or entity == "price_lists":
            return None
        if entity == "customers":
            return self.customers.reconcile_one(key)
        if entity in ("products", "stock"):
            return self.products.reconcile_one(entity, key)
        if entity == "orders":
            return self.orders.reconcile_one(key)
        if entity == "invoices":
            return self.invoices.reconcile_one(key)
        raise ValueError(f"No reconciliation of {entity!r}")

    # -- change detection ----------------------------------------------------------------------------------
    def changed_streams(self, since: Mapping[str, datetime | None]) -> set[str]:
        """One ``$batch`` of ``$top=1`` reads, changed strictly after each stream's time: its collection(s)
        (orders: orders and invoices; invoices: invoices and credit memos; stock: item ledger entries)."""
        questions: dict[str, Callable[[datetime | None], str | list[str]]] = {
            "customers": self.customers.customers_changed,
            "products": self.products.products_changed,
            "stock": self.products.stock_changed,
            "orders": self.orders.orders_changed,
            "invoices": self.invoices.invoices_changed,
        }
        asked: list[tuple[str, str]] = []
        for stream, at in since.items():
            if stream in questions:
                paths = questions[stream](at)
                asked += [(stream, path) for path in ([paths] if isinstance(paths, str) else paths)]
        if not asked:
            return set()
        answers = self.client.batch([("GET", path, None) for _, path in asked])
        return {
            stream
            for (stream, _), answer in zip(asked, answers, strict=True)
            if answer.ok() and answer.body["value"]
        }

    # -- change notifications (webhooks) --------------------------------------------------------------
    def webhook_streams(self, payload: dict[str, Any]) -> set[str]:
        return webhook_streams(payload)

    def webhook_resources(self) -> list[str]:
        """The collections to subscribe to: those whose changes a pull stream reads (stock has none)."""
        return list(WEBHOOK_STREAMS)

    def subscribe(self, resource: str, notification_url: str, client_state: str) -> SubscriptionState:
        return self.subscriptions.subscribe(resource, notification_url, client_state)

    def renew(
        self, subscription_id: str, etag: str, notification_url: str, client_state: str
    ) -> SubscriptionState:
        return self.subscriptions.renew(subscription_id, etag, notification_url, client_state)
