"""End-to-end check of tools/tryton/erp.py: a real trytond from the seeded template.

The first run on a machine builds the ERP venv and the template (about 45 s); later runs
start from the template in a few seconds.
"""

from __future__ import annotations

import base64
import itertools
from pathlib import Path
from typing import Any

import httpx

from tools.tryton import erp


class Rpc:
    """Just enough Tryton JSON-RPC for this test (session auth, context as last param)."""

    def __init__(self, server: erp.ErpServer) -> None:
        self.url = server.rpc_url
        self.http = httpx.Client(timeout=30)
        self.ids = itertools.count(1)
        self.context: dict[str, Any] = {}

    def call(self, method: str, *params: Any) -> Any:
        payload = {"id": next(self.ids), "method": method, "params": list(params)}
        response = self.http.post(self.url, json=payload)
        response.raise_for_status()
        data = response.json()
        assert "error" not in data, data["error"]
        return data["result"]

    def login(self, login: str, password: str) -> None:
        user_id, session, _ = self.call("common.db.login", login, {"password": password}, "en")
        token = base64.b64encode(f"{login}:{user_id}:{session}".encode()).decode()
        self.http.headers["Authorization"] = f"Session {token}"
        self.context = self.call("model.res.user.get_preferences", True, {})

    def model(self, model: str, method: str, *args: Any, **context: Any) -> Any:
        return self.call(f"model.{model}.{method}", *args, {**self.context, **context})


def test_start_seeded_erp_restart_and_stop(tmp_path: Path) -> None:
    server = erp.start(tmp_path)
    try:
        assert server.is_running()
        assert server.database == erp.ERP_DATABASE
        rpc = Rpc(server)
        rpc.login(erp.ERP_USER, erp.ERP_PASSWORD)
        assert rpc.context["company"]

        order = [("code", "ASC")]
        customers = rpc.model(
            "party.party", "search_read", [("code", "like", "CUST-%")], 0, None, order, ["code", "name"]
        )
        assert len(customers) >= 5
        assert customers[0]["code"] == "CUST-001"

        assert rpc.model("product.product", "search_count", []) >= 1000

        (storage,) = rpc.model("stock.location", "search", [("code", "=", "STO")], 0, 1, None)
        in_stock = rpc.model(
            "product.product",
            "search_read",
            [("code", "like", "SKU-%"), ("quantity", ">", 0)],
            0,
            1,
            None,
            ["code", "quantity"],
            locations=[storage],
        )
        assert in_stock
        assert in_stock[0]["quantity"] > 0

        terms = rpc.model(
            "account.invoice.payment_term",
            "search_read",
            [("name", "in", ["Net 30", "Net 60", "Prepaid"])],
            0,
            None,
            None,
            ["name"],
        )
        assert sorted(t["name"] for t in terms) == ["Net 30", "Net 60", "Prepaid"]

        # A record written before the restart must survive it: restart() keeps the database.
        (probe,) = rpc.model("party.party", "create", [{"name": "Restart Probe"}])
        old_pid, port = server.pid, server.port
        server.restart()
        assert server.is_running()
        assert server.pid != old_pid
        assert server.port == port
        # Sessions live in the database too, so the same client keeps working.
        assert rpc.model("party.party", "search", [("name", "=", "Restart Probe")], 0, None, None) == [probe]
        assert len(rpc.model("party.party", "search", [("code", "like", "CUST-%")], 0, None, None)) == len(
            customers
        )
    finally:
        server.stop()

    assert not server.is_running()
    assert not erp.port_is_open(server.port)
    assert not (tmp_path / erp.PIDFILE).exists()
