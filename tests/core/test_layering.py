"""The import contracts (pyproject.toml, checked by `lint-imports` in `make lint`) cover every app and
every entry module: an app or an `api.py` added later cannot slip past them unnoticed."""

from __future__ import annotations

import tomllib
from pathlib import Path

from django.apps import apps as django_apps
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
ENTRY_MODULES = ("views", "api", "forms", "tasks")


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _app_packages() -> list[str]:
    return sorted(
        f"apps.{path.name}" for path in (ROOT / "apps").iterdir() if (path / "__init__.py").exists()
    )


def test_every_app_has_its_place_in_the_layers_in_installed_apps_order() -> None:
    layers = list(_contracts()["layers"]["layers"])  # type: ignore[call-overload]
    assert sorted(layers) == _app_packages()
    installed = [name for name in settings.INSTALLED_APPS if name.startswith("apps.")]
    assert installed == list(reversed(layers)), "INSTALLED_APPS lists the apps lowest layer first"


def test_core_and_the_engine_are_held_to_their_imports() -> None:
    contracts = _contracts()
    others = {name for name in _app_packages() if name != "apps.core"}
    assert set(contracts["core-imports-no-app"]["forbidden_modules"]) == others  # type: ignore[call-overload]
    assert set(contracts["engine-imports-only-core"]["forbidden_modules"]) == others - {"apps.erp"}  # type: ignore[call-overload]


def test_every_entry_module_is_forbidden_to_every_other_app() -> None:
    contracts = _contracts()
    for package in _app_packages():
        app = package.split(".")[1]
        entries = [
            f"{package}.{name}" for name in ENTRY_MODULES if (ROOT / "apps" / app / f"{name}.py").exists()
        ]
        if not entries:
            continue
        contract = contracts[f"{app}-entry-points"]
        assert set(contract["forbidden_modules"]) == set(entries), app  # type: ignore[call-overload]
        assert set(contract["source_modules"]) == set(_app_packages()) - {package}, app  # type: ignore[call-overload]


def test_the_domain_apps_register_their_job_kinds_and_streams_from_their_own_erp_modules() -> None:
    from apps.erp import registry

    owners = {name: kind.handler.__module__ for name, kind in registry.job_kinds().items()}
    assert owners == {
        "customer.push": "apps.accounts.erp",
        "pricelist.push": "apps.pricing.erp",
        "order.push": "apps.purchase_orders.erp",
        "order.cancel": "apps.purchase_orders.erp",
        "quote.push": "apps.quotes.erp",
        "quote.cancel": "apps.quotes.erp",
        "reconcile.repull": "apps.erp.reconcile",  # the engine's own: a drift's record read again
    }
    # Pull order: stock after products, invoices after customers, order states after invoices.
    streams = {stream.name: [apply.__module__ for apply in stream.appliers] for stream in registry.streams()}
    assert list(streams) == ["customers", "products", "stock", "invoices", "orders"]
    assert streams == {
        "customers": ["apps.accounts.erp", "apps.credit.erp"],
        "products": ["apps.catalog.erp"],
        "stock": ["apps.catalog.erp"],
        "invoices": ["apps.credit.erp"],
        "orders": ["apps.purchase_orders.erp"],
    }
    assert django_apps.is_installed("apps.erp")
