"""The Odoo 19 connector (External JSON-2 API), one module per stream:

- ``client``: the HTTP client (``OdooClient``: bearer API key, ``X-Odoo-Database``, named arguments,
  Decimal numbers, retries of reads, Odoo's error body mapped to transient and business errors);
- ``customers``: ``res.partner`` companies, delivery contacts (ship-to), payment terms, credit limits;
- ``products``: ``product.product`` and ``stock.quant``;
- ``price_lists``: ``product.pricelist`` with items per customer;
- ``orders``: ``sale.order`` push (``client_order_ref`` = PO number), confirm, cancel, states;
- ``invoices``: ``account.move`` invoices and credit notes;
- ``connector``: ``OdooConnector``, the ``Connector`` the engine uses.

Setting up a real Odoo for it: a Custom pricing plan (the external API), the Sales, Inventory and
Invoicing apps, the Pricelists feature, a bot user with Sales / User: All Documents, Inventory / User and
Invoicing / Billing (credit limits and invoices are in the accounting groups), an API key of that user
(keys last at most 3 months: rotate them), and the decimal accuracy "Product Price" at 4 digits (the
portal's unit prices have 4 decimals; with Odoo's default of 2 the order lines would be rounded).
"""

from __future__ import annotations

from apps.erp.connectors.odoo.client import OdooClient
from apps.erp.connectors.odoo.connector import OdooConnector

__all__ = ["OdooClient", "OdooConnector"]
