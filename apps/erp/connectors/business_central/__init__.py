"""The Microsoft Dynamics 365 Business Central connector (API v2.0)."""

from __future__ import annotations

from apps.erp.connectors.business_central.connector import BusinessCentralConnector

__all__ = ["BusinessCentralConnector"]
