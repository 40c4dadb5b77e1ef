"""The connectors, one package per kind of ERP; this module is the only place that knows which class
serves which ``ErpConnection.Kind``. A connector package is imported when a connection of its kind is
used, not before."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from apps.erp.connectors.base import Capabilities, Connector
from apps.erp.models import ErpConnection

CONNECTORS: dict[str, str] = {
    ErpConnection.Kind.TRYTON: "apps.erp.connectors.tryton.TrytonConnector",
    ErpConnection.Kind.BUSINESS_CENTRAL: "apps.erp.connectors.business_central.BusinessCentralConnector",
    ErpConnection.Kind.ODOO: "apps.erp.connectors.odoo.OdooConnector",
}


def connector_class(kind: str) -> Any:
    """The connector class of a kind of ERP (``ValueError`` for a kind without one)."""
    try:
        path = CONNECTORS[kind]
    except KeyError:
        raise ValueError(f"No connector for ERP kind {kind!r}") from None
    try:
        return import_string(path)
    except ImportError as exc:
        raise ValueError(f"No connector for ERP kind {kind!r}: {exc}") from exc


def connector_for(connection: ErpConnection) -> Connector:
    """The connector for a connection, built from its row (and the secret its row names)."""
    connector: Connector = connector_class(connection.kind).for_connection(connection)
    return connector


def capabilities_for(kind: str) -> Capabilities:
    """What a kind of ERP can do (a class attribute: nothing is asked of the ERP)."""
    capabilities: Capabilities = connector_class(kind).capabilities
    return capabilities
