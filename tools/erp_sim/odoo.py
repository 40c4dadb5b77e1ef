"""An in-process simulator of Odoo 19's External JSON-2 API, for the connector's tests.

Stdlib only: a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) in a thread, state in memory under one lock,
seeded like the Tryton template (``tools.tryton.seed``: customers CUST-001.., products SKU-00001.. with
list prices and stock). ``start()``, ``stop()``, ``.url``.

It reproduces the "Simulator must reproduce" checklist of the Odoo fact sheet (shared/erp-wire/odoo.md);
each item is marked ``# learn: <source>: <what>`` where it is implemented. ``doc:`` abbreviates
``https://www.odoo.com/documentation/19.0/``; ``src:`` is odoo/odoo source as the fact sheet read it.

Besides the wire, it offers Python methods for what Odoo's own users do (``ship``, ``invoice``, ``pay``,
``refund``, ``set_credit_limit``, ``archive``, ``edit``, ``copy_sale``, ``move_stock``, ...) and fault
injection (``fail_next``, ``drop_next_write``) for the tests.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tools.tryton.seed import CUSTOMERS, PAYMENT_TERMS, product_specs

DATABASE = "portal_odoo"
API_KEY = "odoo-sim-api-key-0123456789abcdef"
ACCOUNTING_GROUPS = ("account.group_account_invoice", "account.group_account_readonly")
DEFAULT_PRODUCTS = 600
STAMP = "%Y-%m-%d %H:%M:%S"
CENT = Decimal("0.01")

# --------------------------------------------------------------------------------------------- errors


class OdooError(Exception):
    """An error as the JSON-2 controller serialises it: HTTP status + ``{name, message, arguments,
    context, debug}``."""

    status = 500
    name = "builtins.Exception"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# learn: src: odoo/exceptions.py http_status (fact sheet §6): UserError/ValidationError 422,
# AccessError 403, MissingError 404, LockError 409; werkzeug errors keep their own status.
class UserError(OdooError):
    status, name = 422, "odoo.exceptions.UserError"


class ValidationError(OdooError):
    status, name = 422, "odoo.exceptions.ValidationError"


class AccessError(OdooError):
    status, name = 403, "odoo.exceptions.AccessError"


class MissingError(OdooError):
    status, name = 404, "odoo.exceptions.MissingError"


class LockError(OdooError):
    status, name = 409, "odoo.exceptions.LockError"


class NotFound(OdooError):
    status, name = 404, "werkzeug.exceptions.NotFound"


class Unauthorized(OdooError):
    status, name = 401, "werkzeug.exceptions.Unauthorized"


class BadRequest(OdooError):
    status, name = 400, "werkzeug.exceptions.BadRequest"


class MethodNotAllowed(OdooError):
    status, name = 405, "werkzeug.exceptions.MethodNotAllowed"


class Unprocessable(OdooError):
    status, name = 422, "werkzeug.exceptions.UnprocessableEntity"


# --------------------------------------------------------------------------------------------- schema

M2O, O2M, M2M = "m2o", "o2m", "m2m"

# Per model: field -> kind. Kinds: char, text, int, float, money, bool, date, datetime, sel, and
# (m2o, model), (o2m, model, inverse), (m2m, model). Computed fields are listed too (read-only).
COMMON = {"id": "int", "display_name": "char", "create_date": "datetime", "write_date": "datetime"}
SCHEMA: dict[str, dict[str, Any]] = {
    "res.users": {"name": "char", "login": "char"},
    "res.currency": {"name": "char", "symbol": "char", "active": "bool"},
    "res.country": {"name": "char", "code": "char"},
    "res.country.state": {"name": "char", "code": "char", "country_id": (M2O, "res.country")},
    "uom.uom": {"name": "char"},
    "product.category": {"name": "char"},
    "account.payment.term": {
        "name": "char",
        "active": "bool",
        "line_ids": (O2M, "account.payment.term.line", "payment_id"),
    },
    "account.payment.term.line": {
        "payment_id": (M2O, "account.payment.term"),
        "value": "sel",
        "value_amount": "float",
        "nb_days": "int",
        "delay_type": "sel",
    },
    "res.partner": {
        "name": "char",
        "ref": "char",
        "is_company": "bool",
        "parent_id": (M2O, "res.partner"),
        "commercial_partner_id": (M2O, "res.partner"),
        "child_ids": (O2M, "res.partner", "parent_id"),
        "type": "sel",
        "street": "char",
        "street2": "char",
        "zip": "char",
        "city": "char",
        "state_id": (M2O, "res.country.state"),
        "country_id": (M2O, "res.country"),
        "email": "char",
        "phone": "char",
        "vat": "char",
        "active": "bool",
        "customer_rank": "int",
        "comment": "text",
        "property_payment_term_id": (M2O, "account.payment.term"),
        "property_product_pricelist": (M2O, "product.pricelist"),
        "credit": "money",
        "credit_limit": "money",
        "use_partner_credit_limit": "bool",
        "sale_warn_msg": "text",
    },
    "product.product": {
        "name": "char",
        "default_code": "char",
        "description_sale": "text",
        "lst_price": "money",
        "list_price": "money",
        # learn: src: product/models/product_template.py standard_price (company dependent, "Cost"): a
        # Float read as 0.0 when nobody costed the product.
        "standard_price": "money",
        "uom_id": (M2O, "uom.uom"),
        "categ_id": (M2O, "product.category"),
        "active": "bool",
        "sale_ok": "bool",
        "type": "sel",
        "is_storable": "bool",
        "barcode": "char",
        "qty_available": "float",
        "virtual_available": "float",
        "free_qty": "float",
    },
    "stock.location": {"name": "char", "usage": "sel", "active": "bool"},
    "stock.quant": {
        "product_id": (M2O, "product.product"),
        "location_id": (M2O, "stock.location"),
        "lot_id": "int",
        "quantity": "float",
        "reserved_quantity": "float",
    },
    "product.pricelist": {
        "name": "char",
        "active": "bool",
        "currency_id": (M2O, "res.currency"),
        "item_ids": (O2M, "product.pricelist.item", "pricelist_id"),
    },
    "product.pricelist.item": {
        "pricelist_id": (M2O, "product.pricelist"),
        "applied_on": "sel",
        "product_id": (M2O, "product.product"),
        "categ_id": (M2O, "product.category"),
        "min_quantity": "float",
        "date_start": "datetime",
        "date_end": "datetime",
        "compute_price": "sel",
        "fixed_price": "money",
        "percent_price": "float",
    },
    "sale.order": {
        "name": "char",
        "partner_id": (M2O, "res.partner"),
        "partner_invoice_id": (M2O, "res.partner"),
        "partner_shipping_id": (M2O, "res.partner"),
        "client_order_ref": "char",
        "origin": "char",
        "note": "text",
        "date_order": "datetime",
        "commitment_date": "datetime",
        "state": "sel",
        "locked": "bool",
        "pricelist_id": (M2O, "product.pricelist"),
        "payment_term_id": (M2O, "account.payment.term"),
        "currency_id": (M2O, "res.currency"),
        "amount_untaxed": "money",
        "amount_tax": "money",
        "amount_total": "money",
        "invoice_status": "sel",
        "delivery_status": "sel",
        "invoice_ids": (M2M, "account.move"),
        "picking_ids": (O2M, "stock.picking", "sale_id"),
        "partner_credit_warning": "text",
        "order_line": (O2M, "sale.order.line", "order_id"),
    },
    "sale.order.line": {
        "order_id": (M2O, "sale.order"),
        "product_id": (M2O, "product.product"),
        "name": "text",
        "product_uom_qty": "float",
        "price_unit": "money",
        "discount": "float",
        "qty_delivered": "float",
        "qty_invoiced": "float",
        "price_subtotal": "money",
        "price_total": "money",
    },
    "stock.picking": {
        "name": "char",
        "origin": "char",
        "sale_id": (M2O, "sale.order"),
        "partner_id": (M2O, "res.partner"),
        "state": "sel",
        "scheduled_date": "datetime",
        "date_done": "datetime",
        "carrier_tracking_ref": "char",
    },
    "account.move": {
        "name": "char",
        "move_type": "sel",
        "state": "sel",
        "partner_id": (M2O, "res.partner"),
        "invoice_date": "date",
        "invoice_date_due": "date",
        "currency_id": (M2O, "res.currency"),
        "amount_untaxed": "money",
        "amount_total": "money",
        "amount_residual": "money",
        "amount_total_signed": "money",
        "payment_state": "sel",
        "invoice_origin": "char",
        "ref": "char",
        "narration": "text",
        "reversed_entry_id": (M2O, "account.move"),
        "invoice_payment_term_id": (M2O, "account.payment.term"),
        "invoice_line_ids": (O2M, "account.move.line", "move_id"),
    },
    # learn: fact sheet §3 (account.move); src: account/models/account_move_line.py: the invoice's own
    # lines are display_type "product" (sections and notes "line_section"/"line_note"); the receivable
    # and tax lines the move also holds are "payment_term" and "tax".
    "account.move.line": {
        "move_id": (M2O, "account.move"),
        "display_type": "sel",
        "sequence": "int",
        "product_id": (M2O, "product.product"),
        "name": "text",
        "quantity": "float",
        "price_unit": "money",
        "price_subtotal": "money",
    },
}
# Fields no client writes (computed by the ORM). Writing one is refused like a readonly field would be
# ignored in Odoo; the simulator refuses it loudly so a connector bug shows.
COMPUTED = {
    "res.partner": {"commercial_partner_id", "credit"},
    "product.product": {"qty_available", "virtual_available", "free_qty"},
    "sale.order": {
        "amount_untaxed",
        "amount_tax",
        "amount_total",
        "invoice_status",
        "delivery_status",
        "invoice_ids",
        "picking_ids",
        "partner_credit_warning",
        "name",
    },
    "sale.order.line": {"qty_delivered", "qty_invoiced", "price_subtotal", "price_total"},
    "account.move": {"amount_residual", "amount_total_signed", "payment_state", "amount_total", "name"},
    "account.move.line": {"price_subtotal"},
}
# learn: src: addons/account/models/partner.py (fact sheet §3): credit_limit / use_partner_credit_limit
# (and credit) carry groups account.group_account_invoice,account.group_account_readonly; a user in
# neither gets an AccessError naming the fields.
FIELD_GROUPS = {("res.partner", name): ACCOUNTING_GROUPS for name in ("credit", "credit_limit")} | {
    ("res.partner", "use_partner_credit_limit"): ACCOUNTING_GROUPS
}
MODEL_GROUPS = {"account.move": ACCOUNTING_GROUPS, "account.move.line": ACCOUNTING_GROUPS}
# Models whose default order is not "id" (src: each model's _order).
ORDERS = {
    # learn: src: product/models/product_pricelist_item.py _order: applied_on, min_quantity desc,
    # categ_id desc, id desc (not the order the items were created in).
    "product.pricelist.item": "applied_on asc, min_quantity desc, categ_id desc, id desc",
    "sale.order": "date_order desc, id desc",
    "account.move": "invoice_date desc, name desc, id desc",
}
READ_METHODS = frozenset({"search_read", "search", "search_count", "read", "fields_get", "context_get"})


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


# --------------------------------------------------------------------------------------------- domains


def _is_leaf(term: Any) -> bool:
    return isinstance(term, list | tuple) and len(term) == 3 and isinstance(term[0], str)


def _parse_domain(domain: list[Any]) -> Any:
    """Polish-notation domain -> nested ("&"|"|"|"!", operands) / ("leaf", path, op, value) tree;
    consecutive terms are joined by an implicit "&" (src: odoo/osv/expression.py)."""
    if not isinstance(domain, list):
        raise ValidationError(f"Invalid domain: {domain!r}")
    items = list(domain)
    position = 0

    def term() -> Any:
        nonlocal position
        if position >= len(items):
            raise ValidationError(f"Invalid domain: {domain!r} (an operator lacks operands)")
        item = items[position]
        position += 1
        if item in ("&", "|"):
            return (item, [term(), term()])
        if item == "!":
            return ("!", [term()])
        if _is_leaf(item):
            return ("leaf", *item)
        if item in (True, False) or (isinstance(item, list | tuple) and len(item) in (0, 1)):
            return ("leaf", "id", "!=" if item else "=", 0)
        raise ValidationError(f"Invalid domain term {item!r}")

    terms = []
    while position < len(items):
        terms.append(term())
    return ("&", terms) if terms else ("&", [])


def _mentions(tree: Any, name: str) -> bool:
    if tree[0] == "leaf":
        return bool(tree[1].split(".")[0] == name)
    return any(_mentions(child, name) for child in tree[1])


def _like(pattern: str, text: str, insensitive: bool, anchored: bool) -> bool:
    if not anchored:
        return (pattern.casefold() in text.casefold()) if insensitive else pattern in text
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if insensitive else re.DOTALL) is not None


def _compare(value: Any, op: str, target: Any) -> bool:
    empty = value is None or value is False or value == "" or value == []
    if op in ("=", "!="):
        if target is False or target is None:
            return empty if op == "=" else not empty
        result = value == target or (isinstance(value, Decimal) and value == Decimal(str(target)))
        return result if op == "=" else not result
    if op in ("in", "not in"):
        targets = list(target) if isinstance(target, list | tuple) else [target]
        hit = any(_compare(value, "=", t) for t in targets)
        return hit if op == "in" else not hit
    if op in ("like", "ilike", "not like", "not ilike", "=like", "=ilike"):
        text = "" if empty else str(value)
        hit = _like(str(target), text, "ilike" in op, op.startswith("="))
        return not hit if op.startswith("not") else hit
    if op in (">", ">=", "<", "<="):
        if empty or target is None or target is False:
            return False
        if isinstance(value, Decimal):
            target = Decimal(str(target))
        elif isinstance(value, int | float) and isinstance(target, str):
            return False
        try:
            return {
                ">": value > target,
                ">=": value >= target,
                "<": value < target,
                "<=": value <= target,
            }[op]
        except TypeError as exc:
            raise ValidationError(f"Cannot compare {value!r} {op} {target!r}") from exc
    raise ValidationError(f"Invalid operator {op!r}")


# --------------------------------------------------------------------------------------------- the ERP


@dataclass
class ApiKey:
    uid: int
    expires: datetime


@dataclass
class Fault:
    status: int
    retry_after: str | None = None


@dataclass
class Webhook:
    model: str
    url: str
    fields: list[str]
    sent: list[dict[str, Any]] = field(default_factory=list)


class OdooSim:
    """The simulated Odoo 19 database and its HTTP front. Thread-safe: every call runs under ``lock``."""

    def __init__(self, *, products: int = DEFAULT_PRODUCTS, multi_db: bool = True) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, dict[int, dict[str, Any]]] = {model: {} for model in SCHEMA}
        self._ids: dict[str, Iterator[int]] = {model: itertools.count(1) for model in SCHEMA}
        self.clock_offset = timedelta(0)
        # learn: doc: external_api.html (fact sheet §1): X-Odoo-Database selects the database when one
        # server hosts several; here the server hosts two, so the header is needed (``multi_db``).
        self.databases = {DATABASE, "other_company"} if multi_db else {DATABASE}
        self.multi_db = multi_db
        self.api_keys: dict[str, ApiKey] = {API_KEY: ApiKey(2, _now() + timedelta(days=90))}
        self.user_groups: dict[int, set[str]] = {
            2: {"base.group_user", "sales_team.group_sale_salesman_all_leads"}
        }
        self.user_groups[2].add("account.group_account_invoice")
        # Company settings: "Sales Credit Limit" (account_use_credit_limit), "Lock Confirmed Sales".
        self.settings: dict[str, Any] = {
            "account_use_credit_limit": True,
            "lock_confirmed_sales": False,
            "product_price_digits": 4,
        }
        self.faults: list[Fault] = []
        self.drop_writes = 0
        self.row_locks: set[tuple[str, int]] = set()  # (model, id) another transaction holds
        self.webhooks: list[Webhook] = []
        self.requests: list[tuple[str, str]] = []  # (model, method) of every call answered or not
        self._sequences: dict[str, Iterator[int]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._seed(products)

    # -- clock -------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return _now() + self.clock_offset

    def stamp(self) -> str:
        # learn: fact sheet §2/§8.6: datetimes are UTC "YYYY-MM-DD HH:MM:SS" (second precision).
        return self.now().strftime(STAMP)

    def advance(self, seconds: float = 1) -> None:
        """Time passes in the ERP (its clock runs ahead of the host's by that much more)."""
        with self.lock:
            self.clock_offset += timedelta(seconds=seconds)

    # -- HTTP --------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"  # noqa: S101 - a developer's mistake
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> OdooSim:
        sim = self

        class Handler(_Handler):
            simulator = sim

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- fault injection ---------------------------------------------------------------------------------
    def fail_next(self, count: int = 1, status: int = 429, retry_after: str | None = None) -> None:
        """The next ``count`` requests answer ``status`` (429 with or without Retry-After, 503, 500...)
        before reaching the database, as a proxy or an overloaded worker would."""
        with self.lock:
            self.faults.extend(Fault(status, retry_after) for _ in range(count))

    def drop_next_write(self, count: int = 1) -> None:
        """The next ``count`` write calls are committed, then the connection closes without an answer."""
        with self.lock:
            self.drop_writes += count

    def add_webhook(self, model: str, url: str, fields: list[str] | None = None) -> Webhook:
        """An Automation Rule "On save" with action "Send Webhook Notification" on ``model``."""
        with self.lock:
            hook = Webhook(model, url, fields or [])
            self.webhooks.append(hook)
            return hook

    # -- storage helpers ---------------------------------------------------------------------------------
    def _new_id(self, model: str) -> int:
        return next(self._ids[model])

    def _insert(self, model: str, values: dict[str, Any], at: str | None = None) -> int:
        record_id = self._new_id(model)
        stamp = at or self.stamp()
        row = {name: None for name, kind in SCHEMA[model].items() if not _is_x2many(kind)}
        for name, kind in SCHEMA[model].items():
            if isinstance(kind, tuple) and kind[0] == M2M:
                row[name] = []
        if "active" in SCHEMA[model]:
            row["active"] = True
        row.update(values)
        row.update({"id": record_id, "create_date": stamp, "write_date": stamp})
        self.tables[model][record_id] = row
        return record_id

    def _touch(self, model: str, ids: list[int], at: str | None = None) -> None:
        stamp = at or self.stamp()
        for record_id in ids:
            if record_id in self.tables[model]:
                self.tables[model][record_id]["write_date"] = stamp

    def _row(self, model: str, record_id: int) -> dict[str, Any]:
        row = self.tables[model].get(record_id)
        if row is None:
            # learn: src: odoo/models.py _read / check_exists: MissingError (404) for a deleted record.
            raise MissingError(
                f"Record does not exist or has been deleted.\n(Record: {model}({record_id},), User: 2)"
            )
        return row

    def _sequence(self, prefix: str) -> str:
        counter = self._sequences.setdefault(prefix, itertools.count(1))
        return f"{prefix}{next(counter):05d}"

    # -- seed --------------------------------------------------------------------------------------------
    def _seed(self, products: int) -> None:
        self._insert("res.users", {"name": "Administrator", "login": "admin"})  # uid 1
        self._insert("res.users", {"name": "Portal Bot", "login": "portal-bot"})  # uid 2: the API key's user
        self.usd = self._insert("res.currency", {"name": "USD", "symbol": "$"})
        self.us = self._insert("res.country", {"name": "United States", "code": "US"})
        self._insert("res.country", {"name": "Canada", "code": "CA"})
        self.units = {u: self._insert("uom.uom", {"name": u}) for u in ("u", "kg", "m", "l")}
        self.warehouse = self._insert("stock.location", {"name": "WH/Stock", "usage": "internal"})
        self.customers_location = self._insert("stock.location", {"name": "Customers", "usage": "customer"})
        self.vendors_location = self._insert("stock.location", {"name": "Vendors", "usage": "supplier"})
        self.default_pricelist = self._insert(
            "product.pricelist", {"name": "Default USD pricelist", "currency_id": self.usd}
        )
        terms = {}
        for name, days in PAYMENT_TERMS.items():
            if days == 0:
                name = "Immediate Payment"
            term = self._insert("account.payment.term", {"name": name})
            self._insert(
                "account.payment.term.line",
                {
                    "payment_id": term,
                    "value": "percent",
                    "value_amount": Decimal(100),
                    "nb_days": days,
                    "delay_type": "days_after",
                },
            )
            terms[days] = term
        # The company's own partner (customer_rank 0: not a customer).
        self._insert("res.partner", {"name": "Portal Wholesale Inc.", "is_company": True, "type": "contact"})
        for customer in CUSTOMERS:
            (street, postal, city), *others = customer.addresses
            partner = self._insert(
                "res.partner",
                {
                    "name": customer.name,
                    "ref": customer.code,
                    "is_company": True,
                    "type": "contact",
                    "street": street,
                    "zip": postal,
                    "city": city,
                    "country_id": self.us,
                    "email": customer.email,
                    "phone": customer.phone,
                    "customer_rank": 1,
                    "property_payment_term_id": terms[PAYMENT_TERMS[customer.payment_term]],
                    "credit_limit": Decimal(customer.credit_limit),
                    "use_partner_credit_limit": True,
                },
            )
            for street2, postal2, city2 in [(street, postal, city), *others]:
                # learn: fact sheet §3: ship-to addresses are child contacts of type "delivery".
                self._insert(
                    "res.partner",
                    {
                        "name": f"{customer.name}, {city2}",
                        "parent_id": partner,
                        "type": "delivery",
                        "street": street2,
                        "zip": postal2,
                        "city": city2,
                        "country_id": self.us,
                    },
                )
        categories: dict[str, int] = {}
        for spec in product_specs(products):
            category = categories.get(spec.category) or self._insert(
                "product.category", {"name": spec.category}
            )
            categories[spec.category] = category
            product = self._insert(
                "product.product",
                {
                    "name": spec.name,
                    "default_code": spec.code,
                    "lst_price": spec.list_price,
                    "list_price": spec.list_price,
                    "standard_price": spec.cost_price,
                    "uom_id": self.units.get(spec.uom, self.units["u"]),
                    "categ_id": category,
                    "active": spec.active,
                    "sale_ok": True,
                    "type": "consu",
                    "is_storable": True,
                },
            )
            if spec.on_hand:
                self._insert(
                    "stock.quant",
                    {
                        "product_id": product,
                        "location_id": self.warehouse,
                        "quantity": Decimal(spec.on_hand),
                        "reserved_quantity": Decimal(0),
                    },
                )

    # -- the wire ----------------------------------------------------------------------------------------
    def handle(
        self, method_verb: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, bool]:
        """One HTTP request: (status, JSON body, drop the connection without answering)."""
        with self.lock:
            parts = path.split("?")[0].strip("/").split("/")
            if method_verb == "GET" and parts == ["web", "version"]:
                # learn: doc: external_api.html#migrating-from-xml-rpc-json-rpc: GET /web/version, no auth.
                return 200, {"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"}, False
            if self.faults:
                # Faults come before the database, as a proxy or an overloaded worker answers them.
                # learn: fact sheet §6: no rate limit is documented for JSON-2 (searched the docs and
                # pages again: still unconfirmed); Odoo Online / Odoo.sh may throttle at their proxy. The
                # safer choice: the simulator can answer 429 (with or without Retry-After), 503 and 500.
                fault = self.faults.pop(0)
                error = OdooError(
                    "Too Many Requests" if fault.status == 429 else f"Simulated HTTP {fault.status}"
                )
                error.status = fault.status
                if fault.status == 429:
                    error.name = "werkzeug.exceptions.TooManyRequests"
                elif fault.status == 503:
                    error.name = "werkzeug.exceptions.ServiceUnavailable"
                return fault.status, {"__retry_after__": fault.retry_after, **_error_body(error)}, False
            try:
                # learn: fact sheet §1/§8.1: a single route POST /json/2/<model>/<method>; other /json/2
                # paths 404 "Did you mean POST /json/2/<model>/<method>?"; other verbs 405.
                if len(parts) < 2 or parts[:2] != ["json", "2"]:
                    raise NotFound("Not Found")
                if len(parts) != 4:
                    raise NotFound("Did you mean POST /json/2/<model>/<method>?")
                if method_verb != "POST":
                    raise MethodNotAllowed("The method is not allowed for the requested URL.")
                model, method = parts[2], parts[3]
                # learn: doc: external_api.html (X-Odoo-Database): the 19.0 page lists the header as
                # "optional, the name of the database to connect to" (checked with the search tool); it is
                # what selects the database when one server hosts several. What a multi-database server
                # answers without it is not documented (still unconfirmed): the safer choice here is to
                # refuse with 404, as for a route that does not exist there, so a connector must send it.
                database = headers.get("x-odoo-database")
                if database is None and self.multi_db:
                    raise NotFound("No database selected (X-Odoo-Database) on a multi-database server.")
                if database is not None and database not in self.databases:
                    raise NotFound(f"Database {database!r} not found.")
                uid = self._authenticate(headers.get("authorization", ""))
                try:
                    # learn: fact sheet §6: a body that is not JSON is a 400.
                    arguments = json.loads(body or b"{}")
                except ValueError as exc:
                    raise BadRequest(f"Invalid JSON data: {exc}") from exc
                if not isinstance(arguments, dict):
                    raise BadRequest("The body must be a JSON object of named arguments.")
                if database == "other_company":
                    raise NotFound("This simulated database holds nothing.")
                self.requests.append((model, method))
                result = self.call(uid, model, method, arguments)
            except OdooError as exc:
                return exc.status, _error_body(exc), False
            drop = False
            if method not in READ_METHODS and self.drop_writes:
                self.drop_writes -= 1
                drop = True
            return 200, result, drop

    def _authenticate(self, header: str) -> int:
        # learn: doc: external_api.html (response example): a missing, wrong or expired key is 401
        # werkzeug.exceptions.Unauthorized "Invalid apikey"; keys carry an expiry (max 3 months).
        scheme, _, key = header.partition(" ")
        found = self.api_keys.get(key.strip()) if scheme.lower() == "bearer" else None
        if found is None or found.expires <= _now():
            raise Unauthorized("Invalid apikey")
        return found.uid

    def call(self, uid: int, model: str, method: str, arguments: dict[str, Any]) -> Any:
        """One ORM call as JSON-2 runs it: bound by name, in its own transaction."""
        if model not in SCHEMA:
            # learn: fact sheet §6: unknown model or method -> 404.
            raise NotFound(f"The model {model!r} does not exist.")
        handler = self._method(model, method)
        if handler is None:
            raise NotFound(f"The method {model}.{method} does not exist or is private.")
        function, model_level, required, optional = handler
        arguments = dict(arguments)
        context = arguments.pop("context", None) or {}
        if not isinstance(context, dict):
            raise Unprocessable("context must be an object")
        ids = arguments.pop("ids", None)
        # learn: fact sheet §1/§8.4: named arguments only; ``ids`` on an @api.model method, an unknown
        # or a missing argument -> 422.
        if model_level and ids:
            raise Unprocessable(f"{model}.{method} is an @api.model method: it takes no ids.")
        if not model_level and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
            raise Unprocessable(f"{model}.{method} needs ids, a list of record ids.")
        unknown = set(arguments) - set(required) - set(optional)
        missing = set(required) - set(arguments)
        if unknown or missing:
            said = [
                *([f"unexpected arguments {', '.join(sorted(unknown))}"] if unknown else []),
                *([f"missing arguments {', '.join(sorted(missing))}"] if missing else []),
            ]
            raise Unprocessable(f"{model}.{method}() got {' and '.join(said)}")
        self._check_model_access(uid, model)
        # learn: doc: external_api.html#transaction (fact sheet §4/§8.15): each call is one transaction,
        # committed on success and rolled back on any error; nothing spans two calls; no ETag.
        snapshot = None if method in READ_METHODS else (copy.deepcopy(self.tables), self.clock_offset)
        try:
            result = function(uid, model, context, *([] if model_level else [ids]), **arguments)
        except OdooError:
            if snapshot is not None:
                self.tables = snapshot[0]
            raise
        except (TypeError, ValueError, KeyError) as exc:
            if snapshot is not None:
                self.tables = snapshot[0]
            raise ValidationError(f"Invalid value: {exc}") from exc
        if snapshot is not None:
            self._notify(snapshot[0])
        return result

    def _method(
        self, model: str, method: str
    ) -> tuple[Callable[..., Any], bool, tuple[str, ...], tuple[str, ...]] | None:
        """(function, @api.model?, required names, optional names) of a public method."""
        if method.startswith("_"):
            return None
        generic: dict[str, tuple[Callable[..., Any], bool, tuple[str, ...], tuple[str, ...]]] = {
            "search_read": (
                self._rpc_search_read,
                True,
                (),
                ("domain", "fields", "offset", "limit", "order"),
            ),
            "search": (self._rpc_search, True, ("domain",), ("offset", "limit", "order")),
            "search_count": (self._rpc_search_count, True, ("domain",), ("limit",)),
            "read": (self._rpc_read, False, (), ("fields",)),
            "create": (self._rpc_create, True, ("vals_list",), ()),
            "write": (self._rpc_write, False, ("vals",), ()),
            "unlink": (self._rpc_unlink, False, (), ()),
        }
        specific: dict[tuple[str, str], tuple[Callable[..., Any], bool, tuple[str, ...], tuple[str, ...]]] = {
            ("res.users", "context_get"): (
                lambda uid, model, context: {"lang": "en_US", "tz": "UTC", "uid": uid},
                True,
                (),
                (),
            ),
            ("sale.order", "action_confirm"): (self._rpc_confirm, False, (), ()),
            ("sale.order", "action_cancel"): (self._rpc_cancel, False, (), ()),
            ("sale.order", "action_unlock"): (self._rpc_unlock, False, (), ()),
            ("sale.order", "action_lock"): (self._rpc_lock, False, (), ()),
        }
        return specific.get((model, method)) or generic.get(method)

    def _check_model_access(self, uid: int, model: str) -> None:
        groups = MODEL_GROUPS.get(model)
        if groups and not (self.user_groups.get(uid, set()) & set(groups)):
            raise AccessError(
                f"You are not allowed to access '{model}' records. This operation is allowed for the "
                f"following groups: {', '.join(groups)}. Contact your administrator to request access."
            )

    def _check_field_access(self, uid: int, model: str, names: list[str], operation: str) -> None:
        denied = [
            name
            for name in names
            if (groups := FIELD_GROUPS.get((model, name)))
            and not (self.user_groups.get(uid, set()) & set(groups))
        ]
        if denied:
            groups = sorted({g for name in denied for g in FIELD_GROUPS[(model, name)]})
            raise AccessError(
                f"The requested operation ({operation}) can not be completed due to security restrictions. "
                f"Model: {model}, fields: {', '.join(denied)} (allowed for groups {', '.join(groups)})."
            )

    # -- generic ORM -------------------------------------------------------------------------------------
    def _value(self, model: str, row: dict[str, Any], name: str) -> Any:
        """A field's Python value (computed fields computed; x2many as id lists)."""
        kind = SCHEMA[model].get(name) or COMMON.get(name)
        if kind is None:
            raise ValueError(f"Invalid field {name!r} on model {model!r}")
        compute = getattr(self, f"_compute_{model.replace('.', '_')}_{name}", None)
        if compute is not None:
            return compute(row)
        if name == "display_name":
            return row.get("name") or f"{model},{row['id']}"
        if isinstance(kind, tuple) and kind[0] == O2M:
            target, inverse = kind[1], kind[2]
            return sorted(i for i, other in self.tables[target].items() if other.get(inverse) == row["id"])
        return row.get(name)

    def _compute_res_partner_commercial_partner_id(self, row: dict[str, Any]) -> int:
        while row.get("parent_id") and not row.get("is_company"):
            row = self.tables["res.partner"][row["parent_id"]]
        return int(row["id"])

    def _compute_res_partner_credit(self, row: dict[str, Any]) -> Decimal:
        # The receivable: what posted customer invoices and credit notes leave open (src: partner.py).
        total = Decimal(0)
        for move in self.tables["account.move"].values():
            if move["partner_id"] == row["id"] and move["state"] == "posted":
                sign = -1 if move["move_type"] == "out_refund" else 1
                total += sign * move["amount_residual"]
        return total

    def _quantity(self, product_id: int) -> Decimal:
        return sum(
            (
                quant["quantity"]
                for quant in self.tables["stock.quant"].values()
                if quant["product_id"] == product_id
                and self.tables["stock.location"][quant["location_id"]]["usage"] == "internal"
            ),
            Decimal(0),
        )

    def _compute_product_product_qty_available(self, row: dict[str, Any]) -> Decimal:
        return self._quantity(row["id"])

    _compute_product_product_free_qty = _compute_product_product_qty_available
    _compute_product_product_virtual_available = _compute_product_product_qty_available

    def _compute_sale_order_partner_credit_warning(self, row: dict[str, Any]) -> str:
        # learn: src: sale/models/sale_order.py _compute_partner_credit_warning (fact sheet §3, §8.14):
        # with "Sales Credit Limit" on, a draft/sent order whose customer would pass its limit gets a
        # warning text; nothing blocks confirmation. The wording here is the simulator's own.
        if not self.settings["account_use_credit_limit"] or row["state"] not in ("draft", "sent"):
            return ""
        partner = self.tables["res.partner"][
            self._compute_res_partner_commercial_partner_id(self.tables["res.partner"][row["partner_id"]])
        ]
        limit = partner.get("credit_limit")
        if not partner.get("use_partner_credit_limit") or not limit:
            return ""
        due = self._compute_res_partner_credit(partner) + row["amount_total"]
        if due <= limit:
            return ""
        return (
            f"{partner['name']} has reached its credit limit of {limit:.2f} USD; the amount due, this "
            f"document included, would be {due:.2f} USD."
        )

    def _field_names(self, model: str, fields: list[str] | None, uid: int) -> list[str]:
        every = [name for name in {**COMMON, **SCHEMA[model]} if name != "id"]
        if not fields:
            # read() without fields: every field the user may read (src: models.py check_field_access).
            return [
                name
                for name in every
                if not (
                    (groups := FIELD_GROUPS.get((model, name)))
                    and not (self.user_groups.get(uid, set()) & set(groups))
                )
            ]
        for name in fields:
            if name not in every and name != "id":
                raise ValueError(f"Invalid field {name!r} on model {model!r}")
        self._check_field_access(uid, model, list(fields), "read")
        return [name for name in fields if name != "id"]

    def _serialise(self, model: str, row: dict[str, Any], names: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": row["id"]}
        for name in names:
            value = self._value(model, row, name)
            kind = SCHEMA[model].get(name) or COMMON.get(name)
            if isinstance(kind, tuple) and kind[0] == M2O:
                # learn: fact sheet §2/§8.6: a many2one reads as [id, display name]; empty is false.
                target = self.tables[kind[1]].get(value) if value else None
                out[name] = [value, self._value(kind[1], target, "display_name")] if target else False
            elif value is None or (value == "" and kind in ("char", "text")):
                out[name] = False
            else:
                out[name] = value
        return out

    def _matches(self, model: str, row: dict[str, Any], tree: Any) -> bool:
        kind = tree[0]
        if kind == "&":
            return all(self._matches(model, row, child) for child in tree[1])
        if kind == "|":
            return any(self._matches(model, row, child) for child in tree[1])
        if kind == "!":
            return not self._matches(model, row, tree[1][0])
        _, path, op, target = tree
        head, _, rest = path.partition(".")
        field_kind = SCHEMA[model].get(head) or COMMON.get(head)
        if field_kind is None:
            raise ValueError(f"Invalid field {model}.{head} in leaf {tree[1:]!r}")
        value = self._value(model, row, head)
        if rest:
            if not (isinstance(field_kind, tuple)):
                raise ValueError(f"{model}.{head} is not a relational field")
            related = [value] if field_kind[0] == M2O else list(value or [])
            target_model = field_kind[1]
            sub = ("leaf", rest, op, target)
            return any(
                self._matches(target_model, self.tables[target_model][i], sub)
                for i in related
                if i in self.tables[target_model]
            )
        if isinstance(field_kind, tuple) and field_kind[0] in (O2M, M2M):
            if op in ("=", "in") and target not in (False, None):
                targets = target if isinstance(target, list) else [target]
                return any(i in targets for i in value)
            return _compare(value, op, target)
        return _compare(value, op, target)

    def _search(
        self,
        model: str,
        domain: list[Any] | None,
        context: dict[str, Any],
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[int]:
        tree = _parse_domain(domain or [])
        # learn: fact sheet §2/§8.5: archived records are left out unless the domain names ``active``
        # or the context says active_test false.
        if "active" in SCHEMA[model] and context.get("active_test", True) and not _mentions(tree, "active"):
            tree = ("&", [tree, ("leaf", "active", "=", True)])
        rows = [row for row in self.tables[model].values() if self._matches(model, row, tree)]
        for name, descending in reversed(_parse_order(order or ORDERS.get(model, "id"), model)):
            rows.sort(key=lambda row, name=name: _sort_key(self._value(model, row, name)), reverse=descending)
        ids = [row["id"] for row in rows][int(offset or 0) :]
        return ids[: int(limit)] if limit else ids

    def _rpc_search(
        self,
        uid: int,
        model: str,
        context: dict[str, Any],
        domain: list[Any],
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[int]:
        return self._search(model, domain, context, offset, limit, order)

    def _rpc_search_count(
        self, uid: int, model: str, context: dict[str, Any], domain: list[Any], limit: int | None = None
    ) -> int:
        return len(self._search(model, domain, context, 0, limit))

    def _rpc_search_read(
        self,
        uid: int,
        model: str,
        context: dict[str, Any],
        domain: list[Any] | None = None,
        fields: list[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        names = self._field_names(model, fields, uid)
        # learn: doc: external_api.html#transaction: search_read is one call, one consistent snapshot.
        return [
            self._serialise(model, self.tables[model][i], names)
            for i in self._search(model, domain, context, offset, limit, order)
        ]

    def _rpc_read(
        self, uid: int, model: str, context: dict[str, Any], ids: list[int], fields: list[str] | None = None
    ) -> list[dict[str, Any]]:
        names = self._field_names(model, fields, uid)
        return [self._serialise(model, self._row(model, i), names) for i in ids]

    def _rpc_create(self, uid: int, model: str, context: dict[str, Any], vals_list: Any) -> list[int]:
        # learn: fact sheet §2/§8.7: create(vals_list) -> the list of new ids.
        if isinstance(vals_list, dict):
            vals_list = [vals_list]
        if not isinstance(vals_list, list):
            raise Unprocessable("vals_list must be a list of objects")
        return [self._create(uid, model, dict(values)) for values in vals_list]

    def _rpc_write(
        self, uid: int, model: str, context: dict[str, Any], ids: list[int], vals: dict[str, Any]
    ) -> bool:
        for record_id in ids:
            self._write(uid, model, record_id, dict(vals))
        return True

    def _rpc_unlink(self, uid: int, model: str, context: dict[str, Any], ids: list[int]) -> bool:
        for record_id in ids:
            self._unlink(model, record_id)
        return True

    def _coerce(self, model: str, name: str, value: Any) -> Any:
        kind = SCHEMA[model].get(name)
        if kind is None:
            raise ValueError(f"Invalid field {name!r} on model {model!r}")
        if value is False and kind not in ("bool",):
            return None
        if kind in ("money", "float") and value is not None:
            value = Decimal(str(value))
            # learn: src: odoo/fields.py Float(digits=...): a float field is rounded to its decimal
            # accuracy on write; price_unit uses "Product Price" (2 by default). The simulated database
            # has it set to 4, as a wholesaler selling 0.13-a-piece screws must (a setup requirement of
            # the connector: see apps/erp/connectors/odoo/__init__.py).
            if (model, name) == ("sale.order.line", "price_unit"):
                value = value.quantize(
                    Decimal(1).scaleb(-self.settings["product_price_digits"]), ROUND_HALF_UP
                )
            return value
        if (
            isinstance(kind, tuple)
            and kind[0] == M2O
            and value is not None
            and (not isinstance(value, int) or value not in self.tables[kind[1]])
        ):
            # A foreign key to nothing: Odoo's ORM answers with a ValidationError (IntegrityError).
            raise ValidationError(
                f"The operation cannot be completed: {model}.{name} points to a record of "
                f"{kind[1]} that does not exist ({value!r})."
            )
        return value

    def _apply(
        self, uid: int, model: str, record_id: int | None, values: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
        """Plain values coerced, x2many commands kept apart."""
        self._check_field_access(uid, model, list(values), "write")
        plain: dict[str, Any] = {}
        commands: list[tuple[str, Any]] = []
        for name, value in values.items():
            if name in COMPUTED.get(model, set()) and not (model == "sale.order" and name == "name"):
                raise ValidationError(f"Field {model}.{name} is computed and cannot be written.")
            kind = SCHEMA[model].get(name)
            if isinstance(kind, tuple) and kind[0] in (O2M, M2M):
                commands.append((name, value))
            else:
                plain[name] = self._coerce(model, name, value)
        return plain, commands

    def _run_commands(self, uid: int, model: str, record_id: int, commands: list[tuple[str, Any]]) -> None:
        # learn: doc: backend/orm.html Command (fact sheet §2/§8.7): [0,0,vals] create, [1,id,vals]
        # update, [2,id] delete, [3,id] unlink, [4,id] link, [5] clear, [6,0,ids] set.
        for name, value in commands:
            kind = SCHEMA[model][name]
            target = kind[1]
            if not isinstance(value, list):
                raise ValidationError(f"{model}.{name} takes a list of commands")
            for command in value:
                if not isinstance(command, list) or not command:
                    raise ValidationError(f"Invalid command {command!r} for {model}.{name}")
                code = command[0]
                if kind[0] == O2M:
                    inverse = kind[2]
                    current = [i for i, row in self.tables[target].items() if row.get(inverse) == record_id]
                    if code == 0:
                        self._create(uid, target, {**command[2], inverse: record_id})
                    elif code == 1:
                        self._write(uid, target, command[1], dict(command[2]))
                    elif code in (2, 3):
                        if command[1] in current:
                            self._unlink(target, command[1])
                    elif code == 5:
                        for i in current:
                            self._unlink(target, i)
                    elif code == 6:
                        for i in current:
                            if i not in command[2]:
                                self._unlink(target, i)
                        for i in command[2]:
                            self._row(target, i)[inverse] = record_id
                    elif code == 4:
                        self._row(target, command[1])[inverse] = record_id
                    else:
                        raise ValidationError(f"Unknown command {code!r}")
                else:
                    row = self.tables[model][record_id]
                    if code == 6:
                        row[name] = list(command[2])
                    elif code == 4:
                        row[name] = sorted({*row[name], command[1]})
                    elif code in (3, 2):
                        row[name] = [i for i in row[name] if i != command[1]]
                    elif code == 5:
                        row[name] = []
                    else:
                        raise ValidationError(f"Unsupported command {code!r} on {model}.{name}")

    def _create(self, uid: int, model: str, values: dict[str, Any]) -> int:
        plain, commands = self._apply(uid, model, None, values)
        prepare = getattr(self, f"_prepare_{model.replace('.', '_')}", None)
        if prepare is not None:
            plain = prepare(plain)
        record_id = self._insert(model, plain)
        self._run_commands(uid, model, record_id, commands)
        check = getattr(self, f"_check_{model.replace('.', '_')}", None)
        if check is not None:
            check(self.tables[model][record_id])
        after = getattr(self, f"_after_{model.replace('.', '_')}", None)
        if after is not None:
            after(self.tables[model][record_id])
        return record_id

    def _write(self, uid: int, model: str, record_id: int, values: dict[str, Any]) -> None:
        row = self._row(model, record_id)
        if (model, record_id) in self.row_locks:
            # learn: src: odoo/exceptions.py LockError (fact sheet §6/§8.8): a row another transaction
            # holds (SELECT ... FOR UPDATE NOWAIT failed) is 409; serialization conflicts are retried
            # server-side first. Whether 19.0 answers 409 or 500 stays unconfirmed (searched): 409 here,
            # and the connector treats both as transient.
            raise LockError(
                f"Could not obtain a lock on {model}({record_id},): another transaction holds it."
            )
        plain, commands = self._apply(uid, model, record_id, values)
        guard = getattr(self, f"_guard_{model.replace('.', '_')}", None)
        if guard is not None:
            guard(row, plain)
        row.update(plain)
        self._run_commands(uid, model, record_id, commands)
        check = getattr(self, f"_check_{model.replace('.', '_')}", None)
        if check is not None:
            check(row)
        after = getattr(self, f"_after_{model.replace('.', '_')}", None)
        if after is not None:
            after(row)
        row["write_date"] = self.stamp()

    def _unlink(self, model: str, record_id: int) -> None:
        row = self._row(model, record_id)
        guard = getattr(self, f"_unlink_guard_{model.replace('.', '_')}", None)
        if guard is not None:
            guard(row)
        for kind in SCHEMA[model].values():
            cascade = ("product.pricelist.item", "sale.order.line", "account.payment.term.line")
            if isinstance(kind, tuple) and kind[0] == O2M and kind[1] in cascade:
                for i in [i for i, other in self.tables[kind[1]].items() if other.get(kind[2]) == record_id]:
                    del self.tables[kind[1]][i]  # ondelete cascade
        del self.tables[model][record_id]

    def _notify(self, before: dict[str, dict[int, dict[str, Any]]]) -> None:
        """Automation Rules "On save" with "Send Webhook Notification" (fact sheet §7)."""
        for hook in self.webhooks:
            for record_id, row in self.tables[hook.model].items():
                old = before[hook.model].get(record_id)
                if old is not None and old.get("write_date") == row.get("write_date") and old == row:
                    continue
                payload = {
                    "_model": hook.model,
                    "_id": record_id,
                    "_action": f"Send Webhook Notification(#{record_id})",
                    **{name: self._serialise(hook.model, row, [name])[name] for name in hook.fields},
                }
                hook.sent.append(payload)
                threading.Thread(target=_post_webhook, args=(hook.url, payload), daemon=True).start()

    # -- model rules -------------------------------------------------------------------------------------
    def _prepare_res_partner(self, values: dict[str, Any]) -> dict[str, Any]:
        values.setdefault("type", "contact")
        if not values.get("name") and values.get("type") == "contact":
            raise ValidationError("Contacts require a name.")
        return values

    def _check_res_partner(self, row: dict[str, Any]) -> None:
        vat = row.get("vat")
        # learn: src: addons/base_vat res_partner.check_vat (fact sheet: a refused content): an invalid
        # VAT number is a ValidationError. The simulator checks the shape: country code + 2..13 digits.
        if vat and not re.fullmatch(r"[A-Z]{2}[0-9A-Z]{2,13}", vat):
            raise ValidationError(f"The VAT number [{vat}] for {row.get('name')} does not seem to be valid.")

    def _check_product_pricelist_item(self, row: dict[str, Any]) -> None:
        # src: product_pricelist_item.py constraints: dates in order, a non-negative minimum quantity.
        if row.get("min_quantity") is not None and row["min_quantity"] < 0:
            raise ValidationError("The minimum quantity must be positive.")
        if row.get("date_start") and row.get("date_end") and row["date_start"] > row["date_end"]:
            raise ValidationError("The start date of a pricelist rule must be before its end date.")
        row.setdefault("applied_on", "3_global")
        if row.get("applied_on") is None:
            row["applied_on"] = "3_global"
        if row.get("compute_price") is None:
            row["compute_price"] = "fixed"
        if row["applied_on"] == "0_product_variant" and not row.get("product_id"):
            raise ValidationError("Please specify the product variant for which this rule should be applied.")

    def _unlink_guard_product_product(self, row: dict[str, Any]) -> None:
        used = any(line["product_id"] == row["id"] for line in self.tables["sale.order.line"].values())
        moved = any(quant["product_id"] == row["id"] for quant in self.tables["stock.quant"].values())
        if used or moved:
            raise UserError("You cannot delete a product that has been sold or moved; archive it instead.")

    def price(self, pricelist_id: int | None, product_id: int, quantity: Decimal, on: str) -> Decimal:
        """src: product_pricelist._compute_price_rule: the first item (in the items' _order) whose
        product, minimum quantity and dates match gives the price; none: the list price."""
        product = self.tables["product.product"][product_id]
        if pricelist_id:
            items = self._search(
                "product.pricelist.item", [["pricelist_id", "=", pricelist_id]], {"active_test": False}
            )
            for item_id in items:
                item = self.tables["product.pricelist.item"][item_id]
                if item["applied_on"] == "0_product_variant" and item["product_id"] != product_id:
                    continue
                if item["applied_on"] == "2_product_category" and item["categ_id"] != product["categ_id"]:
                    continue
                if (item["min_quantity"] or 0) > quantity:
                    continue
                if (item["date_start"] and item["date_start"] > on) or (
                    item["date_end"] and item["date_end"] < on
                ):
                    continue
                if item["compute_price"] == "fixed":
                    return Decimal(item["fixed_price"] or 0)
                if item["compute_price"] == "percentage":
                    return product["lst_price"] * (1 - Decimal(item["percent_price"] or 0) / 100)
        return Decimal(product["lst_price"])

    def _prepare_sale_order(self, values: dict[str, Any]) -> dict[str, Any]:
        partner_id = values.get("partner_id")
        if not partner_id:
            raise ValidationError("A sales order needs a customer (partner_id).")
        partner = self.tables["res.partner"][
            self._compute_res_partner_commercial_partner_id(self.tables["res.partner"][partner_id])
        ]
        values.setdefault("partner_invoice_id", partner_id)
        values.setdefault("partner_shipping_id", partner_id)
        if values.get("pricelist_id") is None:
            values["pricelist_id"] = partner.get("property_product_pricelist") or self.default_pricelist
        if values.get("payment_term_id") is None:
            values["payment_term_id"] = partner.get("property_payment_term_id")
        values.setdefault("date_order", self.stamp())
        values.update(
            name=self._sequence("S"),
            state="draft",
            locked=False,
            currency_id=self.usd,
            amount_untaxed=Decimal(0),
            amount_tax=Decimal(0),
            amount_total=Decimal(0),
            invoice_status="no",
            delivery_status=None,
        )
        return values

    def _guard_sale_order(self, row: dict[str, Any], values: dict[str, Any]) -> None:
        # learn: src: sale_order.py (fact sheet §3/§8.11): a confirmed order's pricelist is frozen.
        if (
            "pricelist_id" in values
            and values["pricelist_id"] != row["pricelist_id"]
            and row["state"] == "sale"
        ):
            raise UserError("You cannot change the pricelist of a confirmed order!")
        if row["locked"] and set(values) - {"locked", "note", "client_order_ref", "commitment_date"}:
            raise UserError("This order is locked: unlock it to change it.")

    def _after_sale_order(self, row: dict[str, Any]) -> None:
        self._recompute_order(row)

    def _prepare_sale_order_line(self, values: dict[str, Any]) -> dict[str, Any]:
        if not values.get("product_id"):
            raise ValidationError("A sales order line needs a product.")
        order = self.tables["sale.order"][values["order_id"]] if values.get("order_id") else None
        values.setdefault("product_uom_qty", Decimal(1))
        if values.get("name") is None:
            values["name"] = self.tables["product.product"][values["product_id"]]["name"]
        if values.get("price_unit") is None:
            # learn: fact sheet §3/§8.11: a line without price_unit is priced by the order's pricelist;
            # an explicit price_unit is kept (unconfirmed in the docs; the ORM's compute is not stored
            # over a value given at create).
            pricelist = order["pricelist_id"] if order else self.default_pricelist
            on = order["date_order"] if order else self.stamp()
            values["price_unit"] = self.price(pricelist, values["product_id"], values["product_uom_qty"], on)
        values.setdefault("qty_delivered", Decimal(0))
        values.setdefault("qty_invoiced", Decimal(0))
        values.setdefault("discount", Decimal(0))
        return values

    def _after_sale_order_line(self, row: dict[str, Any]) -> None:
        subtotal = _money(
            row["product_uom_qty"] * row["price_unit"] * (1 - Decimal(row["discount"] or 0) / 100)
        )
        row["price_subtotal"] = row["price_total"] = subtotal
        if row.get("order_id") in self.tables["sale.order"]:
            self._recompute_order(self.tables["sale.order"][row["order_id"]])

    def _recompute_order(self, order: dict[str, Any]) -> None:
        lines = [line for line in self.tables["sale.order.line"].values() if line["order_id"] == order["id"]]
        order["amount_untaxed"] = sum((line["price_subtotal"] or Decimal(0) for line in lines), Decimal(0))
        order["amount_total"] = order["amount_untaxed"] + (order["amount_tax"] or 0)

    def _unlink_guard_sale_order(self, row: dict[str, Any]) -> None:
        # learn: src: sale_order.py _unlink_except_draft_or_cancel (fact sheet §4): only draft or
        # cancelled orders may be deleted.
        if row["state"] not in ("draft", "cancel"):
            raise UserError(
                "You can not delete a sent quotation or a confirmed sales order. You must first cancel it."
            )

    def _orders(self, ids: list[int]) -> list[dict[str, Any]]:
        return [self._row("sale.order", i) for i in ids]

    def _rpc_confirm(self, uid: int, model: str, context: dict[str, Any], ids: list[int]) -> bool:
        orders = self._orders(ids)
        # learn: src: sale_order.py action_confirm (fact sheet §4/§8.9): only draft/sent orders may be
        # confirmed (UserError otherwise); a line without product is refused. The credit warning never
        # blocks (§8.14).
        if any(order["state"] not in ("draft", "sent") for order in orders):
            raise UserError("Some orders are not in a state requiring confirmation.")
        for order in orders:
            lines = [
                line for line in self.tables["sale.order.line"].values() if line["order_id"] == order["id"]
            ]
            if not lines or any(not line["product_id"] for line in lines):
                raise UserError("A line on these orders is missing a product, you cannot confirm it.")
            stamp = self.stamp()
            order.update(
                state="sale", date_order=stamp, invoice_status="to invoice", delivery_status="pending"
            )
            order["locked"] = bool(self.settings["lock_confirmed_sales"])
            order["write_date"] = stamp
            # sale_stock: confirmation makes the delivery picking (state "assigned": ready).
            self._insert(
                "stock.picking",
                {
                    "name": self._sequence("WH/OUT/"),
                    "origin": order["name"],
                    "sale_id": order["id"],
                    "partner_id": order["partner_shipping_id"],
                    "state": "assigned",
                    "scheduled_date": stamp,
                },
            )
        return True

    def _rpc_cancel(self, uid: int, model: str, context: dict[str, Any], ids: list[int]) -> Any:
        orders = self._orders(ids)
        # learn: src: sale_order.py action_cancel (fact sheet §4/§8.9): a locked order raises
        # UserError; an order that is not a draft gets the cancel wizard (an action dict, nothing
        # cancelled) unless the context says disable_cancel_warning.
        if any(order["locked"] for order in orders):
            raise UserError("You cannot cancel a locked order. Please unlock it first.")
        if any(order["state"] != "draft" for order in orders) and not context.get("disable_cancel_warning"):
            return {
                "name": "Cancel Sales Order",
                "type": "ir.actions.act_window",
                "res_model": "sale.order.cancel",
                "view_mode": "form",
                "target": "new",
                "context": {"default_order_id": ids[0]},
            }
        for order in orders:
            stamp = self.stamp()
            order.update(state="cancel", invoice_status="no", write_date=stamp)
            for picking in self.tables["stock.picking"].values():
                if picking["sale_id"] == order["id"] and picking["state"] != "done":
                    picking.update(state="cancel", write_date=stamp)
            for move_id in order["invoice_ids"]:
                move = self.tables["account.move"][move_id]
                if move["state"] == "draft":
                    move.update(state="cancel", write_date=stamp)
        return True

    def _rpc_unlock(self, uid: int, model: str, context: dict[str, Any], ids: list[int]) -> bool:
        for order in self._orders(ids):
            order.update(locked=False, write_date=self.stamp())
        return True

    def _rpc_lock(self, uid: int, model: str, context: dict[str, Any], ids: list[int]) -> bool:
        for order in self._orders(ids):
            order.update(locked=True, write_date=self.stamp())
        return True

    def _compute_sale_order_delivery_status(self, row: dict[str, Any]) -> str | None:
        # learn: src: sale_stock sale_order._compute_delivery_status (fact sheet §3, §8.12): no
        # picking: false; none done: pending; some: partial (started); all: full.
        pickings = [
            p
            for p in self.tables["stock.picking"].values()
            if p["sale_id"] == row["id"] and p["state"] != "cancel"
        ]
        if not pickings:
            return None
        done = [p for p in pickings if p["state"] == "done"]
        if not done:
            return "pending"
        return "full" if len(done) == len(pickings) else "partial"

    # -- what Odoo's own users do (the conformance driver, the tests) ------------------------------------
    def edit(self, model: str, record_id: int, values: dict[str, Any], at: datetime | None = None) -> None:
        """A person edits a record in the UI; ``at``: its write_date is stamped ``at`` (a long
        transaction that began then)."""
        with self.lock:
            self._write(2, model, record_id, dict(values))
            if at is not None:
                self._touch(model, [record_id], at.astimezone(UTC).strftime(STAMP))

    def archive(self, model: str, record_id: int) -> None:
        self.edit(model, record_id, {"active": False})

    def set_credit_limit(self, partner_id: int, amount: Decimal) -> None:
        self.edit("res.partner", partner_id, {"credit_limit": amount, "use_partner_credit_limit": True})

    def move_stock(self, product_id: int, quantity: Decimal) -> None:
        """Receive ``quantity`` into WH/Stock (a validated receipt updates the quant)."""
        with self.lock:
            self._row("product.product", product_id)
            # learn: fact sheet §3: a stock change writes the quant, not product.product (its
            # write_date stays).
            self._quant_add(product_id, Decimal(quantity))

    def _quant_add(self, product_id: int, quantity: Decimal) -> None:
        for quant in self.tables["stock.quant"].values():
            if quant["product_id"] == product_id and quant["location_id"] == self.warehouse:
                quant["quantity"] += quantity
                quant["write_date"] = self.stamp()
                return
        self._insert(
            "stock.quant",
            {
                "product_id": product_id,
                "location_id": self.warehouse,
                "quantity": quantity,
                "reserved_quantity": Decimal(0),
            },
        )

    def ship(self, order_id: int) -> None:
        """The warehouse validates the order's delivery: quants go down, lines delivered."""
        with self.lock:
            order = self._row("sale.order", order_id)
            stamp = self.stamp()
            lines = [line for line in self.tables["sale.order.line"].values() if line["order_id"] == order_id]
            for picking in self.tables["stock.picking"].values():
                if picking["sale_id"] == order_id and picking["state"] not in ("done", "cancel"):
                    picking.update(state="done", date_done=stamp, write_date=stamp)
            for line in lines:
                self._quant_add(line["product_id"], -line["product_uom_qty"])
                line.update(qty_delivered=line["product_uom_qty"], write_date=stamp)
            # learn: src: models.py _write sets write_date when stored computed fields are flushed
            # (delivery_status, invoice_status): the order's write_date moves with its delivery.
            order["write_date"] = stamp

    def invoice(self, order_id: int, post: bool = True) -> int:
        """Accounting invoices the whole order (account.move out_invoice) and, by default, posts it."""
        with self.lock:
            order = self._row("sale.order", order_id)
            lines = [line for line in self.tables["sale.order.line"].values() if line["order_id"] == order_id]
            total = sum((line["price_subtotal"] for line in lines), Decimal(0))
            move_id = self._insert(
                "account.move",
                {
                    "name": None,
                    "move_type": "out_invoice",
                    "state": "draft",
                    "partner_id": order["partner_invoice_id"],
                    "currency_id": self.usd,
                    "amount_untaxed": total,
                    "amount_total": total,
                    "amount_residual": total,
                    "amount_total_signed": total,
                    "payment_state": "not_paid",
                    # learn: fact sheet §3/§8.13: invoice_origin is the SO name; ref the customer reference.
                    "invoice_origin": order["name"],
                    "ref": order["client_order_ref"],
                    "invoice_payment_term_id": order["payment_term_id"],
                },
            )
            for sequence, line in enumerate(lines, start=10):
                line.update(qty_invoiced=line["product_uom_qty"], write_date=self.stamp())
                self._insert(
                    "account.move.line",
                    {
                        "move_id": move_id,
                        "display_type": "product",
                        "sequence": sequence,
                        "product_id": line["product_id"],
                        "name": line["name"],
                        "quantity": line["product_uom_qty"],
                        "price_unit": line["price_unit"],
                        "price_subtotal": line["price_subtotal"],
                    },
                )
            self._insert(
                "account.move.line",
                {
                    "move_id": move_id,
                    "display_type": "payment_term",
                    "name": "",
                    "price_subtotal": Decimal(0),
                },
            )
            order["invoice_ids"] = [*order["invoice_ids"], move_id]
            order.update(invoice_status="invoiced", write_date=self.stamp())
            if post:
                self.post(move_id)
            return move_id

    def post(self, move_id: int) -> None:
        with self.lock:
            move = self._row("account.move", move_id)
            today = self.now().date()
            days = 0
            if move["invoice_payment_term_id"]:
                days = max(
                    (
                        line["nb_days"]
                        for line in self.tables["account.payment.term.line"].values()
                        if line["payment_id"] == move["invoice_payment_term_id"]
                    ),
                    default=0,
                )
            prefix = "INV" if move["move_type"] == "out_invoice" else "RINV"
            move.update(
                state="posted",
                name=self._sequence(f"{prefix}/{today.year}/"),
                invoice_date=move["invoice_date"] or today.isoformat(),
                invoice_date_due=(today + timedelta(days=days)).isoformat(),
                write_date=self.stamp(),
            )

    def pay(self, move_id: int, amount: Decimal) -> None:
        """A customer payment reconciled with the invoice: amount_residual and payment_state move."""
        with self.lock:
            move = self._row("account.move", move_id)
            if move["state"] != "posted":
                raise UserError("Only posted entries can be paid.")
            move["amount_residual"] = max(Decimal(0), move["amount_residual"] - Decimal(amount))
            # learn: fact sheet §3/§8.13: payment_state partial / paid; amount_residual is stored, so
            # the move's write_date moves with it.
            move["payment_state"] = "paid" if move["amount_residual"] == 0 else "partial"
            move["write_date"] = self.stamp()

    def refund(self, move_id: int, amount: Decimal | None = None) -> int:
        """A credit note (out_refund) reversing ``amount`` (default: all) of a posted invoice, posted."""
        with self.lock:
            move = self._row("account.move", move_id)
            value = Decimal(amount) if amount is not None else move["amount_total"]
            return self._credit_note(
                move["partner_id"],
                value,
                # Whether a reversal keeps the invoice's invoice_origin is unconfirmed: kept here.
                invoice_origin=move["invoice_origin"],
                ref=f"Reversal of: {move['name']}",
                reversed_entry_id=move_id,
            )

    def credit_note(self, partner_id: int, amount: Decimal) -> int:
        """Accounting posts a credit note (out_refund) of ``amount`` for the customer, reversing no
        invoice (Invoicing > Customers > Credit Notes > New): its id. Refunding it is ``pay``."""
        with self.lock:
            self._row("res.partner", partner_id)
            return self._credit_note(partner_id, Decimal(amount))

    def _credit_note(self, partner_id: int, value: Decimal, **values: Any) -> int:
        # learn: fact sheet §3 (account.move): a credit note is move_type out_refund; amount_total and
        # amount_residual are positive like an invoice's, amount_total_signed negative; a refund paid
        # to the customer lowers amount_residual as a payment does an invoice's (``pay``).
        refund_id = self._insert(
            "account.move",
            {
                "move_type": "out_refund",
                "state": "draft",
                "partner_id": partner_id,
                "currency_id": self.usd,
                "amount_untaxed": value,
                "amount_total": value,
                "amount_residual": value,
                "amount_total_signed": -value,
                "payment_state": "not_paid",
                **values,
            },
        )
        self.post(refund_id)
        return refund_id

    def copy_sale(self, order_id: int, default: dict[str, Any] | None = None) -> int:
        """A person duplicates a sale (a new quotation with the same lines)."""
        with self.lock:
            order = self._row("sale.order", order_id)
            lines = [line for line in self.tables["sale.order.line"].values() if line["order_id"] == order_id]
            values = {
                "partner_id": order["partner_id"],
                "partner_shipping_id": order["partner_shipping_id"],
                "partner_invoice_id": order["partner_invoice_id"],
                "pricelist_id": order["pricelist_id"],
                **(default or {}),
                "order_line": [
                    [
                        0,
                        0,
                        {
                            "product_id": line["product_id"],
                            "product_uom_qty": line["product_uom_qty"],
                            "price_unit": line["price_unit"],
                        },
                    ]
                    for line in lines
                ],
            }
            return self._create(2, "sale.order", values)

    def new_product(self, sku: str, name: str | None = None, price: Decimal = Decimal("12.50")) -> int:
        with self.lock:
            return self._create(
                2,
                "product.product",
                {
                    "name": name or f"Product {sku}",
                    "default_code": sku,
                    "lst_price": price,
                    "list_price": price,
                    "standard_price": Decimal(0),
                    "uom_id": self.units["u"],
                    "categ_id": 1,
                    "sale_ok": True,
                    "type": "consu",
                    "is_storable": True,
                },
            )

    def delete(self, model: str, record_id: int) -> None:
        with self.lock:
            self._unlink(model, record_id)

    def find(self, model: str, domain: list[Any], active_test: bool = False) -> list[dict[str, Any]]:
        """Rows (stored values) matching ``domain``: what a person sees in a list view."""
        with self.lock:
            ids = self._search(model, domain, {"active_test": active_test})
            return [dict(self.tables[model][i]) for i in ids]


class _Handler(BaseHTTPRequestHandler):
    simulator: OdooSim
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self, verb: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, payload, drop = self.simulator.handle(verb, self.path, headers, body)
        if drop:
            # The call committed; the answer never leaves (a proxy timeout, a dropped connection).
            self.close_connection = True
            self.connection.shutdown(2)
            return
        retry_after = payload.pop("__retry_after__", None) if isinstance(payload, dict) else None
        data = json.dumps(payload, default=_jsonable).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")


def _error_body(exc: OdooError) -> dict[str, Any]:
    # learn: doc: external_api.html#response (fact sheet §6/§8.8): {name, message, arguments, context,
    # debug}.
    return {
        "name": exc.name,
        "message": exc.message,
        "arguments": [exc.message],
        "context": {},
        "debug": f"Traceback (most recent call last):\n  (simulated)\n{exc.name}: {exc.message}",
    }


def _post_webhook(url: str, payload: dict[str, Any]) -> None:
    # learn: src: base/models/ir_actions.py _run_action_webhook (fact sheet §7/§8.16): JSON via
    # json.dumps(default=str), 1 s timeout, fire-and-forget: failures are logged, never retried.
    request = urllib.request.Request(  # noqa: S310 - a loopback test URL
        url, data=json.dumps(payload, default=str).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=1):  # noqa: S310 - a loopback test URL
            pass
    except OSError:
        pass


def _is_x2many(kind: Any) -> bool:
    return isinstance(kind, tuple) and kind[0] in (O2M, M2M)


def _parse_order(order: str, model: str) -> list[tuple[str, bool]]:
    result = []
    for part in order.split(","):
        words = part.split()
        if not words:
            continue
        name = words[0]
        if name not in SCHEMA[model] and name not in COMMON:
            raise ValidationError(f"Invalid order field {name!r} on {model}")
        direction = words[1].lower() if len(words) > 1 else "asc"
        if direction not in ("asc", "desc"):
            raise ValidationError(f"Invalid order direction {direction!r}")
        result.append((name, direction == "desc"))
    return result


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value is False:
        return (0, 0)
    if isinstance(value, list):
        return (1, value[0] if value else 0)
    if isinstance(value, str):
        return (2, value)
    return (1, value)
