"""The Tryton 8.2 connector: the ``Connector`` the sync engine talks to, one stream module per concern."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from django.conf import settings

from apps.erp.connectors.base import (
    Capabilities,
    Cursor,
    CustomerPush,
    CustomerRecord,
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
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.connectors.tryton.customers import DEFAULT_HOLD_CATEGORY, TrytonCustomers
from apps.erp.connectors.tryton.invoices import TrytonInvoices
from apps.erp.connectors.tryton.orders import TrytonOrders
from apps.erp.connectors.tryton.price_lists import TrytonPriceLists
from apps.erp.connectors.tryton.products import TrytonProducts
from apps.erp.models import ErpConnection


class TrytonConnector:
    """Pulls customers, products, stock, order states and invoices; pushes customers, price lists and
    orders; reads every record of each for reconciliation (``reconcile_*``). Each stream is one object
    sharing ``client`` (see its module); this class only hands over.

    ``client`` is the service user (``portal``: credit overruns are hard errors). ``finance_client``,
    optional, is a user in the ERP's credit-limit group (``portal-finance``): it confirms the orders whose
    credit hold finance released (``OrderPush.accept_credit_warning``). A party carrying the party category
    named ``hold_category`` (compared case-insensitively) is on credit hold in the ERP."""

    # Price lists, party addresses, sale confirm/cancel, the sale credit limit and a hold category: all
    # there; changes are found by asking (``changed_streams``), Tryton calls nobody.
    capabilities = Capabilities(
        price_lists=True,
        ship_to_records=True,
        order_confirm=True,
        cancel="cancel",
        credit_limit_enforced=True,
        customer_holds=True,
        credit_memo_amount_paid=True,
        change_notifications=False,
        product_cost=True,  # product.product cost_price (a company value)
        quotes=True,  # a sale in quotation state, confirmed by its order's push
        invoice_documents=True,  # report.account.invoice: OpenDocument unless the ERP converts to PDF
        invoice_payments=True,  # account.invoice payment_lines, read nested in the invoice pull
    )

    def __init__(
        self,
        client: TrytonClient,
        finance_client: TrytonClient | None = None,
        *,
        hold_category: str = DEFAULT_HOLD_CATEGORY,
    ) -> None:
        self.client = client
        self.finance_client = finance_client
        self.customers = TrytonCustomers(client, hold_category=hold_category)
        self.products = TrytonProducts(client)
        self.price_lists = TrytonPriceLists(client)
        self.orders = TrytonOrders(client, finance_client, self.customers)
        self.invoices = TrytonInvoices(client)

    @property
    def hold_category(self) -> str:
        return self.customers.hold_category

    @classmethod
    def for_connection(
        cls,
        connection: ErpConnection,
        *,
        finance_username: str | None = None,
        finance_password: str | None = None,
    ) -> TrytonConnector:
        """The finance user comes from the arguments, else from the settings ``ERP_FINANCE_USERNAME``
        (environment ``ERP_FINANCE_USERNAME``, or ``ERP_FINANCE_USER`` as ``tools/tryton/erp.py up``
        prints it) and ``ERP_FINANCE_PASSWORD``; without both a login and a password there is none, and
        credit holds stay errors. The hold category is the ``ERP_HOLD_CATEGORY`` setting."""

        def client(username: str, password: str) -> TrytonClient:
            return TrytonClient(
                connection.url,
                connection.database,
                username,
                password,
                timeout=float(connection.timeout_seconds),
                concurrency_limit=connection.concurrency_limit,
            )

        username = finance_username or settings.ERP_FINANCE_USERNAME
        password = finance_password or settings.ERP_FINANCE_PASSWORD
        return cls(
            client(connection.username, connection.password()),
            client(username, password) if username and password else None,
            hold_category=getattr(settings, "ERP_HOLD_CATEGORY", DEFAULT_HOLD_CATEGORY),
        )

    def close(self) -> None:
        self.client.close()
        if self.finance_client is not None:
            self.finance_client.close()

    def health(self) -> ErpHealth:
        try:
            version = self.client.server_version()
            self.client.login()
        except ErpError as exc:
            return ErpHealth(False, "", exc.message)
        return ErpHealth(True, version, f"Tryton {version}, signed in as {self.client.username}")

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

    # -- change detection (freshness) ----------------------------------------------------------------------
    def changed_streams(self, since: Mapping[str, datetime | None]) -> set[str]:
        """One ``search`` (limit 1, ids only) per stream asked about, with the stream's own pull domain
        shifted to "strictly after": Tryton's JSON-RPC has no batch call."""
        questions: dict[str, Callable[[datetime | None], bool]] = {
            "customers": self.customers.customers_changed,
            "products": self.products.products_changed,
            "stock": self.products.stock_changed,
            "orders": self.orders.orders_changed,
            "invoices": self.invoices.invoices_changed,
        }
        return {stream for stream, at in since.items() if stream in questions and questions[stream](at)}

    # -- price lists ---------------------------------------------------------------------------------------
    def push_price_lists(self, price_lists: Sequence[PriceListPush]) -> list[PriceListResult]:
        return self.price_lists.push_price_lists(price_lists)

    def reconcile_price_lists(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.price_lists.reconcile_price_lists(after, limit)

    # -- orders --------------------------------------------------------------------------------------------
    def push_orders(self, orders: Sequence[OrderPush]) -> list[OrderPushResult]:
        return self.orders.push_orders(orders)

    def cancel_orders(self, orders: Sequence[OrderCancel]) -> list[OrderCancelResult]:
        return self.orders.cancel_orders(orders)

    def push_quotes(self, quotes: Sequence[QuotePush]) -> list[QuotePushResult]:
        return self.orders.push_quotes(quotes)

    def pull_orders(self, cursor: Cursor, limit: int) -> Page[OrderStateRecord]:
        return self.orders.pull_orders(cursor, limit)

    def reconcile_orders(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.orders.reconcile_orders(after, limit)

    # -- invoices ------------------------------------------------------------------------------------------
    def pull_invoices(self, cursor: Cursor, limit: int) -> Page[InvoiceRecord]:
        return self.invoices.pull_invoices(cursor, limit)

    def invoice_document(self, erp_id: str) -> InvoiceDocument:
        return self.invoices.invoice_document(erp_id)

    def reconcile_invoices(self, after: str, limit: int) -> Page[ReconcileRecord]:
        return self.invoices.reconcile_invoices(after, limit)

    def reconcile_one(self, entity: str, key: str) -> ReconcileRecord | None:
        """Tryton's reads go by ascending id: the record is the first after ``key - 1``, if it is ``key``."""
        reads: dict[str, Callable[[str, int], Page[ReconcileRecord]]] = {
            "customers": self.reconcile_customers,
            "products": self.reconcile_products,
            "stock": self.reconcile_stock,
            "price_lists": self.reconcile_price_lists,
            "orders": self.reconcile_orders,
            "invoices": self.reconcile_invoices,
        }
        if not key.isdigit():
            return None
        page = reads[entity](str(int(key) - 1), 1)
        return next((record for record in page.records if record.key == key), None)
