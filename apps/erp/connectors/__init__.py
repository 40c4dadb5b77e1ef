from __future__ import annotations

from apps.erp.connectors.base import Connector
from apps.erp.connectors.odoo import OdooConnector
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.models import ErpConnection


def connector_for(connection: ErpConnection) -> Connector:
    """The connector for a connection's kind; the only place that knows the concrete classes."""
    if connection.kind == ErpConnection.Kind.TRYTON:
        return TrytonConnector.for_connection(connection)
    if connection.kind == ErpConnection.Kind.ODOO:
        return OdooConnector.for_connection(connection)
    raise ValueError(f"No connector for ERP kind {connection.kind!r}")
