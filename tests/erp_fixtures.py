"""Fixtures for a real Tryton ERP: each test that asks gets a fresh copy of the template (about 1 s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton_rpc import TrytonClient
from apps.erp.models import ErpConnection
from apps.erp.services import connection_get_default
from tools.tryton import erp


@pytest.fixture(scope="session")
def erp_template() -> Path:
    # Built once per machine (about 45 s cold), reused while requirements and seed are unchanged.
    erp.ensure_venv()
    return erp.ensure_template()


@pytest.fixture
def erp_server(erp_template: Path, tmp_path: Path) -> Iterator[erp.ErpServer]:
    server = erp.start(tmp_path / "erp")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def erp_connection(
    db: None, erp_server: erp.ErpServer, settings, monkeypatch: pytest.MonkeyPatch
) -> ErpConnection:
    settings.ERP_URL = erp_server.url
    settings.ERP_DATABASE = erp_server.database
    settings.ERP_USERNAME = erp_server.user
    monkeypatch.setenv("ERP_PASSWORD", erp_server.password)
    return connection_get_default()


@pytest.fixture
def connector(erp_connection: ErpConnection) -> Iterator[TrytonConnector]:
    active = TrytonConnector.for_connection(erp_connection)
    yield active
    active.close()


@pytest.fixture
def erp_admin(erp_server: erp.ErpServer) -> Iterator[TrytonClient]:
    """The ERP's own admin, for changing things in the ERP the way its users would."""
    client = TrytonClient(erp_server.url, erp_server.database, erp.ERP_ADMIN_USER, erp.ERP_ADMIN_PASSWORD)
    yield client
    client.close()
