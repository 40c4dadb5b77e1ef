"""The ERP watcher (issue 12, freshness) against a real Tryton: a change reaches the portal's database
within seconds while the watcher runs; at rest it asks one question per stream per look; one lease."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache

from apps.catalog.models import Product
from apps.erp import inbound, registry, selectors, services
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import ErpConnection
from apps.erp.watcher import Watcher, watch_forever

pytestmark = pytest.mark.django_db(transaction=True)

SKU = "SKU-00010"


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def synced(erp_connection: ErpConnection) -> ErpConnection:
    inbound.pull_all(connection=erp_connection)
    return erp_connection


@pytest.fixture
def erp_posts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every JSON-RPC method the portal sends to the ERP, in order."""
    sent: list[str] = []
    original = TrytonClient._post

    def counting(self: TrytonClient, method: str, params: list[Any], authenticated: bool = True) -> Any:
        sent.append(method)
        return original(self, method, params, authenticated)

    monkeypatch.setattr(TrytonClient, "_post", counting)
    return sent


def _set_list_price(erp_admin: TrytonClient, erp_id: str, price: Decimal) -> None:
    (row,) = erp_admin.model("product.product", "read", [int(erp_id)], ["template"])
    erp_admin.model("product.template", "write", [row["template"]], {"list_price": price})


def test_a_price_change_in_the_erp_reaches_the_portal_within_seconds(
    synced: ErpConnection, erp_admin: TrytonClient, settings: Any
) -> None:
    settings.ERP_WATCH_SECONDS = 1.0
    product = Product.objects.get(sku=SKU)
    version = selectors.stream_versions(["products"])["products"]
    stop = threading.Event()
    thread = threading.Thread(target=watch_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(1.5)  # a look or two at rest first
        _set_list_price(erp_admin, product.erp_id, Decimal("77.7700"))
        changed_at = time.monotonic()
        while time.monotonic() - changed_at < 10:
            product.refresh_from_db()
            if product.list_price == Decimal("77.7700"):
                break
            time.sleep(0.1)
        seconds = time.monotonic() - changed_at
    finally:
        stop.set()
        thread.join(timeout=30)
    assert product.list_price == Decimal("77.7700")
    assert seconds < 4  # a look (1 s) plus the pull, with room for a slow machine
    assert selectors.stream_versions(["products"])["products"] > version  # open pages will refresh


def test_at_rest_one_question_per_stream_per_look(synced: ErpConnection, erp_posts: list[str]) -> None:
    watcher = Watcher()
    try:
        watcher.watch_once(connection=synced)  # logs in once
        erp_posts.clear()
        before = selectors.watch_calls()
        for _ in range(3):
            report = watcher.watch_once(connection=synced)
            assert report.held
            assert report.changed == []
    finally:
        watcher.close()
    streams = len(registry.stream_names())
    assert all(method.endswith(".search") for method in erp_posts)  # limit 1, ids only
    assert len(erp_posts) == 3 * streams
    assert selectors.watch_calls() - before == 3 * streams


def test_a_change_pulls_only_its_stream(
    synced: ErpConnection, erp_admin: TrytonClient, erp_posts: list[str]
) -> None:
    watcher = Watcher()
    try:
        assert watcher.watch_once(connection=synced).changed == []
        _set_list_price(erp_admin, Product.objects.get(sku=SKU).erp_id, Decimal("5.5500"))
        report = watcher.watch_once(connection=synced)
        assert report.changed == ["products"]
        assert [pulled.stream for pulled in report.pulled] == ["products"]
        assert watcher.watch_once(connection=synced).changed == []  # the cursor moved past it
    finally:
        watcher.close()
    assert Product.objects.get(sku=SKU).list_price == Decimal("5.5500")


def test_one_watcher_holds_the_lease(synced: ErpConnection, erp_posts: list[str]) -> None:
    first, second = Watcher(owner="host:1"), Watcher(owner="host:2")
    try:
        assert first.watch_once(connection=synced).held
        erp_posts.clear()
        report = second.watch_once(connection=synced)
        assert not report.held
        assert report.asked == 0
        assert erp_posts == []  # the second watcher asked the ERP nothing
        assert first.watch_once(connection=synced).held  # renewed by its holder
        cache.delete(services.WATCH_LEASE_KEY)  # the holder died: its lease expired
        assert second.watch_once(connection=synced).held
        assert not first.watch_once(connection=synced).held
    finally:
        first.close()
        second.close()


def test_the_lease_expires(settings: Any) -> None:
    assert services.watch_lease_take("host:1", 1)
    assert not services.watch_lease_take("host:2", 1)
    time.sleep(1.2)
    assert services.watch_lease_take("host:2", 1)
