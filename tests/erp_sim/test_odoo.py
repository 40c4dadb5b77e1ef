"""The Odoo 19 JSON-2 simulator refuses what the real Odoo refuses: one test (at least) per item of the
fact sheet's "Simulator must reproduce" checklist, over real HTTP against the running simulator."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tools.erp_sim.odoo import API_KEY, DATABASE, OdooSim

HEADERS = {"Authorization": f"bearer {API_KEY}", "X-Odoo-Database": DATABASE}


@pytest.fixture(scope="module")
def shared() -> Iterator[OdooSim]:
    """One simulator for the read-only tests."""
    sim = OdooSim(products=60).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim() -> Iterator[OdooSim]:
    sim = OdooSim(products=60).start()
    yield sim
    sim.stop()


def call(
    sim: OdooSim, model: str, method: str, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return httpx.post(f"{sim.url}/json/2/{model}/{method}", json=body, headers=headers or HEADERS, timeout=10)


def ok(sim: OdooSim, model: str, method: str, **body: Any) -> Any:
    response = call(sim, model, method, **body)
    assert response.status_code == 200, response.text
    return response.json()


def error(response: httpx.Response, status: int, name: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"name", "message", "arguments", "context", "debug"}
    assert body["name"] == name
    assert body["message"]
    return dict(body)


def customer(sim: OdooSim, code: str = "CUST-001") -> dict[str, Any]:
    (row,) = ok(sim, "res.partner", "search_read", domain=[["ref", "=", code]], fields=["name", "child_ids"])
    return dict(row)


def product(sim: OdooSim, sku: str = "SKU-00001") -> int:
    (found,) = ok(sim, "product.product", "search", domain=[["default_code", "=", sku]])
    return int(found)


def sale(sim: OdooSim, partner: int, reference: str, *lines: dict[str, Any]) -> int:
    (order,) = ok(
        sim,
        "sale.order",
        "create",
        vals_list=[
            {
                "partner_id": partner,
                "client_order_ref": reference,
                "order_line": [[0, 0, line] for line in lines],
            }
        ],
    )
    return int(order)


# 1. Single route, verbs, unknown model/method, invalid JSON ----------------------------------------------


def test_one_route_405_for_other_verbs_404_for_unknown_model_method_or_path_400_for_bad_json(
    shared: OdooSim,
) -> None:
    url = f"{shared.url}/json/2/res.partner/search_read"
    error(httpx.get(url, headers=HEADERS), 405, "werkzeug.exceptions.MethodNotAllowed")
    error(httpx.put(url, headers=HEADERS, json={}), 405, "werkzeug.exceptions.MethodNotAllowed")
    error(call(shared, "no.such.model", "search_read", domain=[]), 404, "werkzeug.exceptions.NotFound")
    error(call(shared, "res.partner", "no_such_method"), 404, "werkzeug.exceptions.NotFound")
    error(call(shared, "res.partner", "_private"), 404, "werkzeug.exceptions.NotFound")
    wrong = error(
        httpx.post(f"{shared.url}/json/2/res.partner", headers=HEADERS, json={}),
        404,
        "werkzeug.exceptions.NotFound",
    )
    assert "POST /json/2/<model>/<method>" in wrong["message"]
    error(httpx.post(url, headers=HEADERS, content=b"{not json"), 400, "werkzeug.exceptions.BadRequest")
    version = httpx.get(f"{shared.url}/web/version").json()
    assert version["version"] == "19.0"


# 2. Bearer API key, expiry ---------------------------------------------------------------------------------


def test_a_missing_wrong_or_expired_key_is_401_invalid_apikey(sim: OdooSim) -> None:
    for headers in (
        {"X-Odoo-Database": DATABASE},
        {**HEADERS, "Authorization": "bearer nope"},
        {**HEADERS, "Authorization": f"basic {API_KEY}"},
    ):
        body = error(
            call(sim, "res.partner", "search", headers=headers, domain=[]),
            401,
            "werkzeug.exceptions.Unauthorized",
        )
        assert body["message"] == "Invalid apikey"
    sim.api_keys[API_KEY].expires = datetime.now(tz=UTC) - timedelta(seconds=1)
    error(call(sim, "res.partner", "search", domain=[]), 401, "werkzeug.exceptions.Unauthorized")


# 3. X-Odoo-Database --------------------------------------------------------------------------------------


def test_a_multi_database_server_needs_the_database_header(shared: OdooSim) -> None:
    no_database = {"Authorization": f"bearer {API_KEY}"}
    error(
        call(shared, "res.partner", "search", headers=no_database, domain=[]),
        404,
        "werkzeug.exceptions.NotFound",
    )
    error(
        call(shared, "res.partner", "search", headers={**HEADERS, "X-Odoo-Database": "nope"}, domain=[]),
        404,
        "werkzeug.exceptions.NotFound",
    )
    single = OdooSim(products=1, multi_db=False).start()
    try:
        assert call(single, "res.partner", "search", headers=no_database, domain=[]).status_code == 200
    finally:
        single.stop()


# 4. Named arguments -------------------------------------------------------------------------------------


def test_unknown_or_missing_arguments_and_ids_on_model_methods_are_422(shared: OdooSim) -> None:
    name = "werkzeug.exceptions.UnprocessableEntity"
    error(call(shared, "res.partner", "search_read", domain=[], colour="red"), 422, name)
    error(call(shared, "res.partner", "search"), 422, name)  # domain is required
    error(call(shared, "res.partner", "create", ids=[1], vals_list=[{"name": "X"}]), 422, name)
    error(call(shared, "res.partner", "write", vals={"name": "X"}), 422, name)  # a record method without ids
    assert (
        call(shared, "res.partner", "read", ids=[2], fields=["name"]).json()[0]["name"] == "Acme Hardware Co."
    )


# 5. Domains, order, limit, offset, active_test ------------------------------------------------------------


def test_search_read_domains_order_paging_and_active_test(sim: OdooSim) -> None:
    codes = ["CUST-001", "CUST-002", "CUST-004"]
    rows = ok(
        sim, "res.partner", "search_read", domain=[["ref", "in", codes]], fields=["ref"], order="ref desc"
    )
    assert [row["ref"] for row in rows] == sorted(codes, reverse=True)
    either = ok(
        sim,
        "res.partner",
        "search_read",
        domain=["|", ["ref", "=", "CUST-001"], ["ref", "=", "CUST-002"]],
        fields=["ref"],
        order="id asc",
    )
    assert [row["ref"] for row in either] == ["CUST-001", "CUST-002"]
    assert (
        ok(sim, "res.partner", "search_count", domain=[["name", "ilike", "acme hard"], ["ref", "!=", False]])
        == 1
    )
    page = ok(
        sim, "res.partner", "search", domain=[["customer_rank", ">=", 1]], order="id asc", offset=2, limit=3
    )
    every = ok(sim, "res.partner", "search", domain=[["customer_rank", ">=", 1]], order="id asc")
    assert page == every[2:5]
    assert ok(
        sim, "res.partner", "search", domain=["!", ["customer_rank", ">", 0], ["is_company", "=", True]]
    ) == [1]
    # Archived: out by default, in with active_test false or a domain naming active.
    acme = customer(sim)["id"]
    sim.archive("res.partner", acme)
    assert acme not in ok(sim, "res.partner", "search", domain=[["customer_rank", ">", 0]])
    assert acme in ok(
        sim, "res.partner", "search", domain=[["customer_rank", ">", 0]], context={"active_test": False}
    )
    assert acme in ok(sim, "res.partner", "search", domain=[["active", "in", [True, False]]])
    # A dotted path reaches related records (child_ids.write_date: any child).
    assert ok(sim, "res.partner", "search", domain=[["child_ids.city", "=", "St. Francis"]]) == [
        customer(sim, "CUST-008")["id"]
    ]


# 6. write_date / create_date, many2one as [id, name] --------------------------------------------------


def test_stamps_are_utc_seconds_and_many2one_reads_as_id_and_name(sim: OdooSim) -> None:
    before = datetime.now(tz=UTC).replace(microsecond=0)
    ok(sim, "res.partner", "write", ids=[2], vals={"comment": "edited"})
    (row,) = ok(
        sim,
        "res.partner",
        "read",
        ids=[2],
        fields=["write_date", "create_date", "property_payment_term_id", "parent_id"],
    )
    written = datetime.strptime(row["write_date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert before <= written <= datetime.now(tz=UTC)
    assert row["create_date"] <= row["write_date"]
    assert row["property_payment_term_id"] == [1, "Net 30"]
    assert row["parent_id"] is False
    sim.advance(5)
    ok(sim, "res.partner", "write", ids=[2], vals={"comment": "again"})
    (later,) = ok(sim, "res.partner", "read", ids=[2], fields=["write_date"])
    assert later["write_date"] > row["write_date"]


# 7. create(vals_list) and x2many commands -------------------------------------------------------------


def test_create_returns_ids_and_x2many_commands_create_update_delete_set(sim: OdooSim) -> None:
    ids = ok(sim, "res.partner", "create", vals_list=[{"name": "One", "customer_rank": 1}, {"name": "Two"}])
    assert len(ids) == 2
    (pricelist,) = ok(
        sim,
        "product.pricelist",
        "create",
        vals_list=[
            {
                "name": "L",
                "item_ids": [
                    [0, 0, {"compute_price": "fixed", "fixed_price": 5}],
                    [0, 0, {"compute_price": "fixed", "fixed_price": 6}],
                ],
            }
        ],
    )
    (row,) = ok(sim, "product.pricelist", "read", ids=[pricelist], fields=["item_ids"])
    first, second = row["item_ids"]
    ok(
        sim,
        "product.pricelist",
        "write",
        ids=[pricelist],
        vals={"item_ids": [[1, first, {"fixed_price": 7}], [2, second], [0, 0, {"fixed_price": 8}]]},
    )
    items = ok(
        sim,
        "product.pricelist.item",
        "search_read",
        domain=[["pricelist_id", "=", pricelist]],
        fields=["fixed_price"],
        order="id asc",
    )
    assert [item["fixed_price"] for item in items] == [7.0, 8.0]
    ok(sim, "product.pricelist", "write", ids=[pricelist], vals={"item_ids": [[6, 0, [items[0]["id"]]]]})
    assert ok(sim, "product.pricelist.item", "search", domain=[["pricelist_id", "=", pricelist]]) == [
        items[0]["id"]
    ]


# 8. Error bodies: 422 / 403 / 404 / 409 --------------------------------------------------------------------


def test_errors_carry_odoo_s_body_and_status(sim: OdooSim) -> None:
    error(
        call(sim, "res.partner", "create", vals_list=[{"name": "Bad", "vat": "not a vat"}]),
        422,
        "odoo.exceptions.ValidationError",
    )
    error(
        call(sim, "res.partner", "read", ids=[999999], fields=["name"]), 404, "odoo.exceptions.MissingError"
    )
    order = sale(sim, 2, "PO-ERR", {"product_id": product(sim), "product_uom_qty": 1})
    ok(sim, "sale.order", "action_confirm", ids=[order])
    error(call(sim, "sale.order", "action_confirm", ids=[order]), 422, "odoo.exceptions.UserError")
    # A bot user without an accounting group: credit fields and invoices are refused with 403.
    sim.user_groups[2] -= {"account.group_account_invoice", "account.group_account_readonly"}
    refused = error(
        call(sim, "res.partner", "read", ids=[2], fields=["credit_limit"]), 403, "odoo.exceptions.AccessError"
    )
    assert "account.group_account_invoice" in refused["message"]
    error(
        call(sim, "account.move", "search_read", domain=[], fields=["name"]),
        403,
        "odoo.exceptions.AccessError",
    )
    # read() without fields leaves out what the user may not read, instead of failing.
    (row,) = ok(sim, "res.partner", "read", ids=[2])
    assert "credit_limit" not in row
    assert row["name"] == "Acme Hardware Co."


def test_lock_errors_and_injected_faults_are_answered_before_the_database(sim: OdooSim) -> None:
    sim.row_locks.add(("res.partner", 2))
    error(call(sim, "res.partner", "write", ids=[2], vals={"comment": "x"}), 409, "odoo.exceptions.LockError")
    sim.row_locks.clear()
    assert call(sim, "res.partner", "write", ids=[2], vals={"comment": "x"}).status_code == 200
    sim.fail_next(1, 409)
    sim.fail_next(1, 429, retry_after="2")
    sim.fail_next(1, 503)
    first = call(sim, "res.partner", "search", domain=[])
    second = call(sim, "res.partner", "search", domain=[])
    third = call(sim, "res.partner", "search", domain=[])
    assert [first.status_code, second.status_code, third.status_code] == [409, 429, 503]
    assert second.headers["Retry-After"] == "2"
    assert second.json()["name"] == "werkzeug.exceptions.TooManyRequests"
    assert call(sim, "res.partner", "search", domain=[]).status_code == 200


def test_a_dropped_answer_still_commits_the_write(sim: OdooSim) -> None:
    sim.drop_next_write()
    assert (
        call(sim, "res.partner", "search", domain=[["ref", "=", "CUST-001"]]).status_code == 200
    )  # reads pass
    with pytest.raises(httpx.TransportError):
        call(sim, "res.partner", "create", vals_list=[{"name": "Committed Co", "ref": "LOST-1"}])
    assert ok(sim, "res.partner", "search_count", domain=[["ref", "=", "LOST-1"]]) == 1


# 9. sale.order states, confirm errors, cancel wizard, locked -------------------------------------------


def test_confirm_cancel_wizard_and_locked_orders(sim: OdooSim) -> None:
    item = product(sim)
    draft = sale(sim, 2, "PO-DRAFT", {"product_id": item, "product_uom_qty": 1})
    assert ok(sim, "sale.order", "action_cancel", ids=[draft]) is True  # a draft cancels without a wizard
    confirmed = sale(sim, 2, "PO-CONFIRMED", {"product_id": item, "product_uom_qty": 1})
    ok(sim, "sale.order", "action_confirm", ids=[confirmed])
    wizard = ok(sim, "sale.order", "action_cancel", ids=[confirmed])
    assert wizard["res_model"] == "sale.order.cancel"
    rows = ok(sim, "sale.order", "read", ids=[draft, confirmed], fields=["state", "locked"])
    assert [(row["state"], row["locked"]) for row in rows] == [("cancel", False), ("sale", False)]
    ok(sim, "sale.order", "action_lock", ids=[confirmed])
    locked = error(
        call(sim, "sale.order", "action_cancel", ids=[confirmed], context={"disable_cancel_warning": True}),
        422,
        "odoo.exceptions.UserError",
    )
    assert "unlock" in locked["message"]
    ok(sim, "sale.order", "action_unlock", ids=[confirmed])
    assert (
        ok(sim, "sale.order", "action_cancel", ids=[confirmed], context={"disable_cancel_warning": True})
        is True
    )
    assert ok(sim, "sale.order", "read", ids=[confirmed], fields=["state"])[0]["state"] == "cancel"
    error(call(sim, "sale.order", "action_confirm", ids=[confirmed]), 422, "odoo.exceptions.UserError")
    # Deleting: only draft or cancelled orders.
    other = sale(sim, 2, "PO-DEL", {"product_id": item, "product_uom_qty": 1})
    ok(sim, "sale.order", "action_confirm", ids=[other])
    error(call(sim, "sale.order", "unlink", ids=[other]), 422, "odoo.exceptions.UserError")
    assert ok(sim, "sale.order", "unlink", ids=[draft]) is True


def test_lock_confirmed_sales_setting_locks_on_confirm(sim: OdooSim) -> None:
    sim.settings["lock_confirmed_sales"] = True
    order = sale(sim, 2, "PO-LOCK", {"product_id": product(sim), "product_uom_qty": 1})
    ok(sim, "sale.order", "action_confirm", ids=[order])
    assert ok(sim, "sale.order", "read", ids=[order], fields=["locked"])[0]["locked"] is True


# 10. client_order_ref searchable, duplicates allowed ---------------------------------------------------


def test_client_order_ref_is_searchable_and_not_unique(sim: OdooSim) -> None:
    item = product(sim)
    first = sale(sim, 2, "PO-SAME", {"product_id": item})
    second = sale(sim, 2, "PO-SAME", {"product_id": item})
    assert ok(
        sim,
        "sale.order",
        "search",
        domain=[["client_order_ref", "=", "PO-SAME"], ["partner_id", "=", 2]],
        order="id asc",
    ) == [first, second]


# 11. Pricelist resolution; explicit price kept; pricelist frozen after confirm ------------------------


def test_lines_are_priced_by_the_pricelist_unless_given_and_a_confirmed_pricelist_is_frozen(
    sim: OdooSim,
) -> None:
    item = product(sim)
    (list_price,) = [
        row["lst_price"] for row in ok(sim, "product.product", "read", ids=[item], fields=["lst_price"])
    ]
    (pricelist,) = ok(
        sim,
        "product.pricelist",
        "create",
        vals_list=[
            {
                "name": "Contract",
                "item_ids": [
                    [0, 0, {"applied_on": "3_global", "compute_price": "percentage", "percent_price": 10}],
                    [
                        0,
                        0,
                        {
                            "applied_on": "0_product_variant",
                            "product_id": item,
                            "min_quantity": 10,
                            "compute_price": "fixed",
                            "fixed_price": 1.25,
                        },
                    ],
                ],
            }
        ],
    )
    ok(sim, "res.partner", "write", ids=[2], vals={"property_product_pricelist": pricelist})
    order = sale(
        sim,
        2,
        "PO-PRICE",
        {"product_id": item, "product_uom_qty": 12},
        {"product_id": item, "product_uom_qty": 1},
        {"product_id": item, "product_uom_qty": 1, "price_unit": 3.3},
    )
    lines = ok(
        sim,
        "sale.order.line",
        "search_read",
        domain=[["order_id", "=", order]],
        fields=["price_unit"],
        order="id asc",
    )
    # The variant item (applied_on 0) comes before the global one in the items' own order.
    assert [line["price_unit"] for line in lines] == [
        1.25,
        float(Decimal(str(list_price)) * Decimal("0.9")),
        3.3,
    ]
    ok(sim, "sale.order", "action_confirm", ids=[order])
    error(
        call(sim, "sale.order", "write", ids=[order], vals={"pricelist_id": 1}),
        422,
        "odoo.exceptions.UserError",
    )


# 12. Deliveries and delivery_status / invoice_status ------------------------------------------------------


def test_delivery_and_invoice_status_progress(sim: OdooSim) -> None:
    item = product(sim)
    (stock,) = ok(sim, "product.product", "read", ids=[item], fields=["qty_available", "write_date"])
    order = sale(sim, 2, "PO-SHIP", {"product_id": item, "product_uom_qty": 4})
    ok(sim, "sale.order", "action_confirm", ids=[order])
    fields = ["delivery_status", "invoice_status", "picking_ids", "write_date"]
    (confirmed,) = ok(sim, "sale.order", "read", ids=[order], fields=fields)
    assert (confirmed["delivery_status"], confirmed["invoice_status"]) == ("pending", "to invoice")
    (picking,) = ok(sim, "stock.picking", "read", ids=confirmed["picking_ids"], fields=["state", "origin"])
    assert picking["state"] == "assigned"
    sim.advance()
    sim.ship(order)
    (shipped,) = ok(sim, "sale.order", "read", ids=[order], fields=fields)
    assert shipped["delivery_status"] == "full"
    assert shipped["write_date"] > confirmed["write_date"]
    assert (
        ok(
            sim, "sale.order.line", "search_read", domain=[["order_id", "=", order]], fields=["qty_delivered"]
        )[0]["qty_delivered"]
        == 4
    )
    (after,) = ok(sim, "product.product", "read", ids=[item], fields=["qty_available", "write_date"])
    assert after["qty_available"] == stock["qty_available"] - 4
    assert after["write_date"] == stock["write_date"]  # stock moves leave the product alone
    sim.invoice(order)
    assert (
        ok(sim, "sale.order", "read", ids=[order], fields=["invoice_status"])[0]["invoice_status"]
        == "invoiced"
    )


# 13. Invoices and credit notes ------------------------------------------------------------------------


def test_invoices_and_credit_notes_with_residual_due_date_and_payment_state(sim: OdooSim) -> None:
    order = sale(sim, 2, "PO-INV", {"product_id": product(sim), "product_uom_qty": 10, "price_unit": 12.345})
    ok(sim, "sale.order", "action_confirm", ids=[order])
    move = sim.invoice(order)
    fields = [
        "name",
        "move_type",
        "state",
        "amount_total",
        "amount_residual",
        "payment_state",
        "invoice_origin",
        "invoice_date",
        "invoice_date_due",
        "write_date",
    ]
    (posted,) = ok(sim, "account.move", "read", ids=[move], fields=fields)
    (so,) = ok(sim, "sale.order", "read", ids=[order], fields=["name"])
    assert (posted["move_type"], posted["state"], posted["amount_total"], posted["amount_residual"]) == (
        "out_invoice",
        "posted",
        123.45,
        123.45,
    )
    assert posted["invoice_origin"] == so["name"]
    assert (
        posted["invoice_date_due"]
        == (date.fromisoformat(posted["invoice_date"]) + timedelta(days=30)).isoformat()
    )
    sim.advance()
    sim.pay(move, Decimal("23.45"))
    (partly,) = ok(sim, "account.move", "read", ids=[move], fields=fields)
    assert (partly["amount_residual"], partly["payment_state"]) == (100.0, "partial")
    assert partly["write_date"] > posted["write_date"]
    sim.pay(move, Decimal("100"))
    assert ok(sim, "account.move", "read", ids=[move], fields=fields)[0]["payment_state"] == "paid"
    refund = sim.refund(move, Decimal("20"))
    (note,) = ok(
        sim,
        "account.move",
        "read",
        ids=[refund],
        fields=["move_type", "amount_total", "amount_residual", "reversed_entry_id"],
    )
    assert (
        note["move_type"],
        note["amount_total"],
        note["amount_residual"],
        note["reversed_entry_id"][0],
    ) == ("out_refund", 20.0, 20.0, move)


def test_a_credit_note_of_no_invoice_is_refunded_down_its_residual(sim: OdooSim) -> None:
    partner = customer(sim, "CUST-002")["id"]
    fields = ["name", "move_type", "state", "partner_id", "amount_total", "amount_residual", "payment_state"]
    fields += ["amount_total_signed", "reversed_entry_id", "write_date"]
    note_id = sim.credit_note(partner, Decimal("250.00"))
    (note,) = ok(sim, "account.move", "read", ids=[note_id], fields=fields)
    assert (note["move_type"], note["state"], note["partner_id"][0], note["reversed_entry_id"]) == (
        "out_refund",
        "posted",
        partner,
        False,
    )
    assert note["name"].startswith("RINV/")
    assert (note["amount_total"], note["amount_residual"], note["amount_total_signed"]) == (
        250.0,
        250.0,
        -250.0,
    )
    sim.advance()
    sim.pay(note_id, Decimal("100"))  # a refund paid to the customer
    (partly,) = ok(sim, "account.move", "read", ids=[note_id], fields=fields)
    assert (partly["amount_residual"], partly["payment_state"]) == (150.0, "partial")
    assert partly["write_date"] > note["write_date"]
    sim.pay(note_id, Decimal("150"))
    (paid,) = ok(sim, "account.move", "read", ids=[note_id], fields=fields)
    assert (paid["amount_residual"], paid["payment_state"]) == (0.0, "paid")


# 14. Credit warning: text, never a block -------------------------------------------------------------------


def test_credit_warning_text_never_blocks_confirmation(sim: OdooSim) -> None:
    sim.set_credit_limit(2, Decimal("100"))
    order = sale(sim, 2, "PO-OVER", {"product_id": product(sim), "product_uom_qty": 10, "price_unit": 50})
    (row,) = ok(sim, "sale.order", "read", ids=[order], fields=["partner_credit_warning", "state"])
    assert "credit limit" in row["partner_credit_warning"]
    ok(sim, "sale.order", "action_confirm", ids=[order])
    (row,) = ok(sim, "sale.order", "read", ids=[order], fields=["partner_credit_warning", "state"])
    assert (row["state"], row["partner_credit_warning"]) == ("sale", False)
    sim.settings["account_use_credit_limit"] = False
    other = sale(sim, 2, "PO-OVER-2", {"product_id": product(sim), "product_uom_qty": 10, "price_unit": 50})
    assert (
        ok(sim, "sale.order", "read", ids=[other], fields=["partner_credit_warning"])[0][
            "partner_credit_warning"
        ]
        is False
    )


# 15. Each call atomic; no ETag ------------------------------------------------------------------------------


def test_a_failing_call_changes_nothing_and_there_is_no_etag(sim: OdooSim) -> None:
    before = ok(sim, "res.partner", "search_count", domain=[])
    response = call(
        sim, "res.partner", "create", vals_list=[{"name": "Fine Co"}, {"name": "Bad Co", "vat": "??"}]
    )
    error(response, 422, "odoo.exceptions.ValidationError")
    assert ok(sim, "res.partner", "search_count", domain=[]) == before
    assert "etag" not in {key.lower() for key in response.headers}
    item = product(sim)
    order = sale(sim, 2, "PO-ATOMIC", {"product_id": item})
    ok(sim, "sale.order", "action_confirm", ids=[order])
    draft = sale(sim, 2, "PO-ATOMIC-2", {"product_id": item})
    error(call(sim, "sale.order", "action_confirm", ids=[draft, order]), 422, "odoo.exceptions.UserError")
    assert ok(sim, "sale.order", "read", ids=[draft], fields=["state"])[0]["state"] == "draft"


# 16. Outbound webhook ------------------------------------------------------------------------------------


def test_an_automation_rule_posts_the_record_once_with_no_retry(sim: OdooSim) -> None:
    received: list[dict[str, Any]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(500)  # refused: Odoo does not retry
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sim.add_webhook("res.partner", f"http://127.0.0.1:{server.server_address[1]}/hook", ["name"])
        ok(sim, "res.partner", "write", ids=[2], vals={"comment": "ping"})
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        server.shutdown()
        server.server_close()
    assert received == [
        {
            "_model": "res.partner",
            "_id": 2,
            "_action": "Send Webhook Notification(#2)",
            "name": "Acme Hardware Co.",
        }
    ]
