"""The engine's registry: what the domain apps register, and the pull order it derives."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.erp import registry
from apps.erp.registry import Applied, StreamSpec


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_streams", {})
    monkeypatch.setattr(registry, "_late_appliers", {})
    monkeypatch.setattr(registry, "_job_kinds", {})


def _fetch(connector: object, cursor: object, limit: int) -> object:
    raise AssertionError("not pulled here")


def _stream(name: str, after: tuple[str, ...] = ()) -> StreamSpec:
    return StreamSpec(name=name, label=name.title(), fetch=_fetch, after=after)  # type: ignore[arg-type]


def _applier(tag: str) -> registry.Applier:
    def apply(records: list[object]) -> Applied:
        return Applied(changed=len(records))

    apply.__qualname__ = tag
    return apply


def test_streams_come_after_the_streams_they_name_else_in_registration_order() -> None:
    registry.stream_register(_stream("orders", after=("customers", "invoices")), apply=_applier("o"))
    registry.stream_register(_stream("customers"), apply=_applier("c"))
    registry.stream_register(_stream("stock", after=("products",)), apply=_applier("s"))
    registry.stream_register(_stream("products"), apply=_applier("p"))
    registry.stream_register(_stream("invoices", after=("customers",)), apply=_applier("i"))

    assert registry.stream_names() == ["customers", "invoices", "orders", "products", "stock"]


def test_a_named_stream_nobody_registered_does_not_block_the_others() -> None:
    registry.stream_register(_stream("orders", after=("quotes",)), apply=_applier("o"))

    assert registry.stream_names() == ["orders"]


def test_streams_that_wait_for_each_other_are_a_configuration_error() -> None:
    registry.stream_register(_stream("a", after=("b",)), apply=_applier("a"))
    registry.stream_register(_stream("b", after=("a",)), apply=_applier("b"))

    with pytest.raises(ImproperlyConfigured, match="circle"):
        registry.streams()


def test_a_second_app_adds_its_applier_after_the_owners_whichever_registers_first() -> None:
    credit = _applier("credit")
    registry.stream_applier_register("customers", credit)  # before the stream exists
    accounts = _applier("accounts")
    registry.stream_register(_stream("customers"), apply=accounts)
    registry.stream_applier_register("customers", credit)  # twice: still once

    assert registry.stream_get("customers").appliers == [accounts, credit]


def test_an_unknown_stream_names_the_known_ones() -> None:
    registry.stream_register(_stream("customers"), apply=_applier("c"))

    with pytest.raises(ImproperlyConfigured, match=r"'quotes'.*known: customers"):
        registry.stream_get("quotes")
    assert registry.stream_label("quotes") == "Quotes"
    assert registry.stream_label("customers") == "Customers"


def test_job_kinds_are_looked_up_by_name() -> None:
    def handler(connector: object, jobs: list[object]) -> None:
        return None

    registry.job_kind_register(registry.JobKind("quote.push", handler))  # type: ignore[arg-type]

    assert registry.handler_for("quote.push") is handler
    assert registry.handler_for("order.push") is None
