"""The Tryton 8.2 connector, one module per stream:

- ``client``: the JSON-RPC client (``TrytonClient``: sessions, the type codec, the error mapping);
- ``customers``: parties, addresses, payment terms and credit holds (pull), new parties (push);
- ``products``: products and stock (pull);
- ``price_lists``: price lists (push, with their party assignments);
- ``orders``: sales (push, cancel, states), credit refusals and finance's accepted credit warnings;
- ``invoices``: customer invoices and credit notes (pull);
- ``connector``: ``TrytonConnector``, the ``Connector`` the engine uses, handing over to the streams.
"""

from __future__ import annotations

from apps.erp.connectors.tryton.client import TrytonClient, TrytonWarning
from apps.erp.connectors.tryton.connector import TrytonConnector

__all__ = ["TrytonClient", "TrytonConnector", "TrytonWarning"]
