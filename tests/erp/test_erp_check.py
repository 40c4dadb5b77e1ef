"""``manage.py erp_check`` against the real Tryton: signs in, reads a page of each stream and
reconciliation, says what the connector can and cannot do; an ERP that does not answer fails clearly."""

from __future__ import annotations

import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError

from apps.erp import registry
from apps.erp.models import SyncCursor


def _check(*args: str) -> str:
    out = StringIO()
    call_command("erp_check", *args, stdout=out)
    return out.getvalue()


def test_signs_in_reads_a_page_of_everything_and_writes_nothing(erp_connection) -> None:
    output = _check("--page-size", "3")

    assert "Signed in: " in output
    for stream in registry.stream_names():
        assert f"  pull {stream}: " in output
    assert "  pull customers: 3 record(s)" in output
    assert "  pull products: 3 record(s)" in output
    for spec in registry.reconciliations():
        assert f"  reconcile {spec.entity}: " in output
    assert "It can: pushes price lists; keeps ship-to addresses as records;" in output
    assert "gives each invoice's own document; reads each invoice's payments;" in output
    assert "It cannot: no change notifications: changes are found by polling." in output
    assert not SyncCursor.objects.exists()  # a check, not a pull


def test_an_erp_that_does_not_answer_fails_with_the_reason(erp_connection, settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.ERP_URL = f"http://127.0.0.1:{port}"

    with pytest.raises(CommandError, match="Cannot sign in"):
        _check()


def test_an_unknown_connection_name_is_refused(db) -> None:
    with pytest.raises(CommandError, match="No ERP connection named 'nope'"):
        _check("--connection", "nope")


def test_a_kind_no_connector_serves_stops_the_portal_at_start(settings) -> None:
    settings.ERP_KIND = "sap"

    with pytest.raises(SystemCheckError, match=r"(?s)ERP_KIND is 'sap'.*tryton, business_central, odoo"):
        call_command("check")
