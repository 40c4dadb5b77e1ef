"""A Business Central API v2.0 simulator for tests (see server.py)."""

from __future__ import annotations

from tools.erp_sim.business_central.server import (
    CLIENT_ID,
    CLIENT_SECRET,
    COMPANY_NAME,
    SCOPE,
    TENANT_ID,
    BusinessCentralSimulator,
)

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "COMPANY_NAME", "SCOPE", "TENANT_ID", "BusinessCentralSimulator"]
