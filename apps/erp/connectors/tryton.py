"""The Tryton 8.2 connector: pulls customers, products, stock, order states and invoices; pushes
customers, price lists and orders."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from apps.erp.connectors.base import (
    AddressRecord,
    Cursor,
    CustomerPush,
    CustomerRecord,
    ErpBusinessError,
    ErpError,
    ErpHealth,
    InvoiceRecord,
    OrderCancel,
    OrderCancelResult,
    OrderPush,
    OrderPushResult,
    OrderStateRecord,
    Page,
    PriceListLine,
    PriceListPush,
    PriceListResult,
    ProductRecord,
    PushResult,
    StockRecord,
)
from apps.erp.connectors.tryton_rpc import TrytonClient, TrytonWarning
from apps.erp.models import ErpConnection

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Tax identifiers go to the ERP as US EINs, which Tryton validates (python-stdnum).
TAX_IDENTIFIER_TYPE = "us_ein"
# The ERP names its credit-limit warnings "<md5 of the sale>.credit_limit_amount" (res.user.warning).
CREDIT_LIMIT_WARNING = ".credit_limit_amount"
# The party category that marks a customer on credit hold in the ERP, unless settings say otherwise.
DEFAULT_HOLD_CATEGORY = "Credit hold"

OrderKey = tuple[str, str]  # (customer_erp_id, reference stripped): how a pushed order is found again


def _changed_since(since: datetime | None, *paths: str) -> list[Any]:
    """Domain: created or written at/after ``since`` on the record or any of the related ``paths``."""
    if since is None:
        return []
    clauses: list[Any] = ["OR"]
    for prefix in ("", *(f"{path}." for path in paths)):
        clauses.append([f"{prefix}write_date", ">=", since])
        clauses.append([f"{prefix}create_date", ">=", since])
    return [clauses]


def _stamp(*values: datetime | None) -> datetime:
    return max((value for value in values if value is not None), default=EPOCH)


def price_list_marker(key: str) -> str:
    """The suffix that names a pushed price list in the ERP: ``"<name> [<key>]"`` ends with it."""
    return f"[{key}]"


def _like_escape(text: str) -> str:
    """Escape Tryton's LIKE wildcards (``%``, ``_``; escape character ``\\``) in a literal."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _decimal_literal(value: Decimal) -> str:
    if not value.is_finite():
        raise ErpBusinessError(f"A price list line has a non-finite number ({value}).")
    return f'Decimal("{value:f}")'


def _price_list_formula(line: PriceListLine) -> str:
    """A fixed price as ``Decimal("12.3400")``; a discount as ``unit_price * Decimal("0.90")``.

    ``unit_price`` is the product's list price because pushed price lists have ``price="list_price"``.
    """
    if line.unit_price is not None and line.discount is None:
        return _decimal_literal(line.unit_price)
    if line.discount is not None and line.unit_price is None:
        return f"unit_price * {_decimal_literal(Decimal(1) - line.discount)}"
    raise ErpBusinessError(
        f"A price list line for product {line.product_erp_id or 'any'} must have exactly one of "
        "a unit price and a discount."
    )


# The sale states a button leads to (or past): a sale already there needs the button no more.
_STATES_REACHED_BY: dict[str, frozenset[str]] = {
    "quote": frozenset({"quotation", "confirmed", "processing", "done"}),
    "confirm": frozenset({"confirmed", "processing", "done"}),
    "cancel": frozenset({"cancelled"}),
}


class TrytonConnector:
    """``client`` is the service user (``portal``: credit overruns are hard errors). ``finance_client``,
    optional, is a user in the ERP's credit-limit group (``portal-finance``): it confirms the orders whose
    credit hold finance released (``OrderPush.accept_credit_warning``). A party carrying the party category
    named ``hold_category`` (compared case-insensitively) is on credit hold in the ERP."""

    def __init__(
        self,
        client: TrytonClient,
        finance_client: TrytonClient | None = None,
        *,
        hold_category: str = DEFAULT_HOLD_CATEGORY,
    ) -> None:
        self.client = client
        self.finance_client = finance_client
        self.hold_category = hold_category
        self._storage_locations: list[int] | None = None
        self._category_names: dict[int, str] = {}
        self._countries: dict[str, int] | None = None

    @classmethod
    def for_connection(
        cls,
        connection: ErpConnection,
        *,
        finance_username: str | None = None,
        finance_password: str | None = None,
    ) -> TrytonConnector:
        """The finance user comes from the arguments, else from the environment (``ERP_FINANCE_USERNAME``,
        or ``ERP_FINANCE_USER`` as ``tools/tryton/erp.py up`` prints it, and ``ERP_FINANCE_PASSWORD``);
        without both a login and a password there is none, and credit holds stay errors. The hold category
        is the ``ERP_HOLD_CATEGORY`` setting."""

        def client(username: str, password: str) -> TrytonClient:
            return TrytonClient(
                connection.url,
                connection.database,
                username,
                password,
                timeout=float(connection.timeout_seconds),
                concurrency_limit=connection.concurrency_limit,
            )

        username = (
            finance_username
            or os.environ.get("ERP_FINANCE_USERNAME")
            or os.environ.get("ERP_FINANCE_USER")
            or ""
        )
        password = finance_password or os.environ.get("ERP_FINANCE_PASSWORD") or ""
        return cls(
            client(connection.username, connection.password()),
            client(username, password) if username and password else None,
            hold_category=getattr(settings, "ERP_HOLD_CATEGORY", DEFAULT_HOLD_CATEGORY),
        )

    def close(self) -> None:
        self.client.close()
        if self.finance_client is not None:
            self.finance_client.close()

    def health(self) -> ErpHealth:
        try:
            version = self.client.server_version()
            self.client.login()
        except ErpError as exc:
            return ErpHealth(False, "", exc.message)
        return ErpHealth(True, version, f"Tryton {version}, signed in as {self.client.username}")

    # -- customers -----------------------------------------------------------------------------------------
    def pull_customers(self, cursor: Cursor, limit: int) -> Page[CustomerRecord]:
        """Parties created or written since the cursor (or whose addresses or categories were), by id.

        Putting a party on hold or lifting it (``categories`` add/remove on ``party.party.write``) writes
        the party itself, and renaming a category writes the category, so both reach an incremental pull.
        Deleting the category writes neither: its parties come back on hold or not with their next change.
        Payment terms: one read of every term of the page (``payment_term_days``, see ``_term_days``).
        """
        domain = [*_changed_since(cursor.since, "addresses", "categories"), ["id", ">", cursor.after_id]]
        parties = self.client.model(
            "party.party",
            "search_read",
            domain,
            0,
            limit,
            [["id", "ASC"]],
            [
                "code",
                "name",
                "active",
                "addresses",
                "customer_payment_term",
                "customer_payment_term.name",
                "credit_limit_amount",
                "categories.name",
                "categories.write_date",
                "categories.create_date",
                "write_date",
                "create_date",
            ],
        )
        address_ids = [address_id for party in parties for address_id in party["addresses"]]
        addresses = self._addresses(address_ids)
        term_days = self._term_days(
            {party["customer_payment_term"] for party in parties if party["customer_payment_term"]}
        )
        hold = self.hold_category.strip().casefold()
        records = []
        for party in parties:
            party_addresses = [addresses[i] for i in party["addresses"] if i in addresses]
            term = party.get("customer_payment_term.") or {}
            categories = party.get("categories.") or []
            held = [row["name"] for row in categories if (row["name"] or "").strip().casefold() == hold]
            records.append(
                CustomerRecord(
                    erp_id=str(party["id"]),
                    code=party["code"] or "",
                    name=party["name"],
                    addresses=[record for record, _ in party_addresses],
                    payment_term_id=str(party["customer_payment_term"])
                    if party["customer_payment_term"]
                    else None,
                    payment_term_name=term.get("name"),
                    credit_limit=party.get("credit_limit_amount"),
                    changed_at=_stamp(
                        party["write_date"],
                        party["create_date"],
                        *(stamp for _, stamp in party_addresses),
                        *(row["write_date"] for row in categories),
                        *(row["create_date"] for row in categories),
                    ),
                    payment_term_days=term_days.get(party["customer_payment_term"]),
                    on_hold=bool(held),
                    hold_reason=f'On credit hold in the ERP (party category "{held[0]}")' if held else "",
                )
            )
        return Page(records, parties[-1]["id"] if parties else cursor.after_id, len(parties) == limit)

    def _term_days(self, ids: set[int]) -> dict[int, int]:
        """The longest delay of each payment term, in days, from one read of all their lines.

        A term line falls due after its relative deltas, applied in turn (a line without any: on the
        invoice date, 0). Each delta counts ``days + 7 * weeks + 30 * months``, plus at most ``day - 1``
        for a day of the month it moves to (``day=31``: the end of that month) and at most 6 for a
        weekday; an absolute month is not counted. The term's delay is that of its latest line.
        """
        if not ids:
            return {}
        rows = self.client.model(
            "account.invoice.payment_term",
            "read",
            sorted(ids),
            [
                "lines.relativedeltas.days",
                "lines.relativedeltas.weeks",
                "lines.relativedeltas.months",
                "lines.relativedeltas.day",
                "lines.relativedeltas.weekday",
            ],
        )
        result = {}
        for row in rows:
            delays = [
                sum(
                    (delta["days"] or 0)
                    + 7 * (delta["weeks"] or 0)
                    + 30 * (delta["months"] or 0)
                    + (delta["day"] - 1 if delta["day"] else 0)
                    + (6 if delta["weekday"] else 0)
                    for delta in line.get("relativedeltas.") or []
                )
                for line in row.get("lines.") or []
            ]
            result[row["id"]] = max(delays, default=0)
        return result

    def _addresses(self, ids: list[int]) -> dict[int, tuple[AddressRecord, datetime]]:
        if not ids:
            return {}
        rows = self.client.model(
            "party.address",
            "read",
            ids,
            [
                "street",
                "city",
                "postal_code",
                "subdivision.code",
                "country.code",
                "write_date",
                "create_date",
            ],
        )
        result = {}
        for row in rows:
            subdivision = (row.get("subdivision.") or {}).get("code") or ""
            result[row["id"]] = (
                AddressRecord(
                    erp_id=str(row["id"]),
                    street=(row["street"] or "").strip(),
                    city=row["city"] or "",
                    postal_code=row["postal_code"] or "",
                    region=subdivision.split("-")[-1],
                    country=(row.get("country.") or {}).get("code") or "",
                ),
                _stamp(row["write_date"], row["create_date"]),
            )
        return result

    def push_customers(
        self, customers: Sequence[CustomerPush], on_created: Callable[[PushResult], None] | None = None
    ) -> list[PushResult]:
        """Create the customers the ERP does not have yet; those it has (an earlier attempt) are found."""
        codes = [customer.code for customer in customers]
        existing = self.client.model(
            "party.party",
            "search_read",
            [["code", "in", codes]],
            0,
            None,
            None,
            ["code"],
            context={"active_test": False},
        )
        found = {row["code"]: row["id"] for row in existing}
        missing = [customer for customer in customers if customer.code not in found]
        results = [
            PushResult(code=code, erp_id=str(found[code]), created=False) for code in codes if code in found
        ]
        if missing:
            countries = self._country_ids()
            values = [
                {
                    "name": customer.name,
                    "code": customer.code,
                    "identifiers": [
                        ["create", [{"type": TAX_IDENTIFIER_TYPE, "code": customer.tax_identifier}]]
                    ]
                    if customer.tax_identifier
                    else [],
                    "addresses": [
                        [
                            "create",
                            [
                                {
                                    "street": address.street,
                                    "city": address.city,
                                    "postal_code": address.postal_code,
                                    **(
                                        {"country": countries[address.country]}
                                        if address.country in countries
                                        else {}
                                    ),
                                }
                                for address in customer.addresses
                            ],
                        ]
                    ]
                    if customer.addresses
                    else [],
                }
                for customer in missing
            ]
            created_ids = self.client.model("party.party", "create", values)
            for customer, erp_id in zip(missing, created_ids, strict=True):
                result = PushResult(code=customer.code, erp_id=str(erp_id), created=True)
                results.append(result)
                if on_created is not None:
                    on_created(result)
        return results

    def _country_ids(self) -> dict[str, int]:
        if self._countries is None:
            rows = self.client.model("country.country", "search_read", [], 0, None, None, ["code"])
            self._countries = {row["code"]: row["id"] for row in rows if row["code"]}
        return self._countries

    # -- products ------------------------------------------------------------------------------------------
    def pull_products(self, cursor: Cursor, limit: int) -> Page[ProductRecord]:
        domain = [*_changed_since(cursor.since, "template"), ["id", ">", cursor.after_id]]
        rows = self.client.model(
            "product.product",
            "search_read",
            domain,
            0,
            limit,
            [["id", "ASC"]],
            [
                "code",
                "name",
                "active",
                "list_price_used",
                "default_uom.symbol",
                "template.categories",
                "template.active",
                "template.salable",
                "template.write_date",
                "template.create_date",
                "write_date",
                "create_date",
            ],
            context={"active_test": False},
        )
        category_ids = {
            category for row in rows for category in (row.get("template.") or {}).get("categories", [])[:1]
        }
        names = self._categories(category_ids)
        records = []
        for row in rows:
            template = row.get("template.") or {}
            categories = template.get("categories") or []
            category_id = categories[0] if categories else None
            records.append(
                ProductRecord(
                    erp_id=str(row["id"]),
                    sku=row["code"] or f"ERP-{row['id']}",
                    name=row["name"],
                    category_id=str(category_id) if category_id else None,
                    category_name=names.get(category_id) if category_id else None,
                    unit=(row.get("default_uom.") or {}).get("symbol") or "",
                    list_price=row["list_price_used"] if row["list_price_used"] is not None else Decimal("0"),
                    is_active=bool(
                        row["active"] and template.get("active", True) and template.get("salable", True)
                    ),
                    changed_at=_stamp(
                        row["write_date"],
                        row["create_date"],
                        template.get("write_date"),
                        template.get("create_date"),
                    ),
                )
            )
        return Page(records, rows[-1]["id"] if rows else cursor.after_id, len(rows) == limit)

    def _categories(self, ids: set[int]) -> dict[int, str]:
        unknown = [category for category in ids if category not in self._category_names]
        if unknown:
            for row in self.client.model("product.category", "read", unknown, ["name"]):
                self._category_names[row["id"]] = row["name"]
        return {
            category: self._category_names[category] for category in ids if category in self._category_names
        }

    # -- stock ---------------------------------------------------------------------------------------------
    def _storage(self) -> list[int]:
        if self._storage_locations is None:
            warehouses = self.client.model(
                "stock.location",
                "search_read",
                [["type", "=", "warehouse"]],
                0,
                None,
                None,
                ["storage_location"],
            )
            self._storage_locations = [
                row["storage_location"] for row in warehouses if row["storage_location"]
            ]
        return self._storage_locations

    def pull_stock(self, cursor: Cursor, limit: int) -> Page[StockRecord]:
        """Stock of the products whose moves changed since the cursor (all products on a first pull).

        Tryton computes quantities from moves, so the stream follows ``stock.move`` and re-reads the
        on-hand quantity of the products those moves touch.
        """
        if cursor.since is None:
            product_rows = self.client.model(
                "product.product",
                "search_read",
                [["id", ">", cursor.after_id]],
                0,
                limit,
                [["id", "ASC"]],
                ["id"],
            )
            product_ids = [row["id"] for row in product_rows]
            last_id = product_ids[-1] if product_ids else cursor.after_id
            has_more = len(product_ids) == limit
            stamps: dict[int, datetime] = {}
        else:
            moves = self.client.model(
                "stock.move",
                "search_read",
                [*_changed_since(cursor.since), ["id", ">", cursor.after_id]],
                0,
                limit,
                [["id", "ASC"]],
                ["product", "write_date", "create_date"],
            )
            stamps = {}
            for move in moves:
                stamp = _stamp(move["write_date"], move["create_date"])
                stamps[move["product"]] = max(stamps.get(move["product"], EPOCH), stamp)
            product_ids = sorted(stamps)
            last_id = moves[-1]["id"] if moves else cursor.after_id
            has_more = len(moves) == limit
        if not product_ids:
            return Page([], last_id, has_more)
        as_of = datetime.now(tz=UTC)
        rows = self.client.model(
            "product.product",
            "read",
            product_ids,
            ["quantity"],
            context={"locations": self._storage(), "active_test": False},
        )
        records = [
            StockRecord(
                product_erp_id=str(row["id"]),
                quantity=Decimal(str(row["quantity"])),
                as_of=as_of,
                changed_at=stamps.get(row["id"]),
            )
            for row in rows
        ]
        return Page(records, last_id, has_more)

    # -- price lists ---------------------------------------------------------------------------------------
    def push_price_lists(self, price_lists: Sequence[PriceListPush]) -> list[PriceListResult]:
        """Create or replace each price list in the ERP and assign it to exactly its customers.

        Naming and lookup (the idempotency key): a pushed ``product.price_list`` is named
        ``f"{push.name} [{push.key}]"``. It is found again by searching ``name ilike "%[<key>]"`` (LIKE
        wildcards in the key escaped), inactive lists included, then keeping only names that end with
        exactly ``[<key>]`` (case-sensitive); the brackets keep ``[k-1]`` from matching ``[k-12]``. The
        lowest id wins if the ERP somehow holds several. So a person may rename the part before the
        marker in the ERP (the next push writes the portal's name back), but must keep the marker.

        Missing: one ``create`` with every line (``created=True``). Found: one ``write`` that deletes
        all its lines and creates the new ones and sets the name, so a re-push is exact (a list a person
        deactivated in the ERP is reactivated first, in one more call: inactive records are read-only).
        Lines keep the given order (``sequence`` 1..n; Tryton uses the first matching line) and carry
        ``product`` (None: every product), ``quantity`` = min_quantity (a line matches when the ordered
        quantity, in the product's default unit, is at least that), a ``formula`` and
        ``start_date``/``end_date`` (module ``product_price_list_dates``; the date compared is
        ``context["date"]``, for a sale line its sale date, else today). The list's ``price`` is
        ``list_price``, which makes ``unit_price`` in discount formulas the product's list price (with
        the default, empty ``price`` it would be null and discount lines would give no price).

        Then ``party.sale_price_list`` (per company, the user's current company) is set on every party
        in ``customer_erp_ids`` that does not have this list yet, and cleared on parties that have it
        but are no longer listed; parties already right are not written (a write bumps their
        ``write_date`` and so the customer pull). The list and the parties are two calls, not one
        transaction: after a failure between them, a retry converges. ERP failures propagate as
        ErpBusinessError / ErpTransientError; a line with both or neither of unit price and discount
        is an ErpBusinessError before anything is sent.
        """
        # Every line is checked before anything is sent.
        all_lines = [
            [self._price_list_line(sequence, line) for sequence, line in enumerate(push.lines, 1)]
            for push in price_lists
        ]
        results = []
        for push, lines in zip(price_lists, all_lines, strict=True):
            marker = price_list_marker(push.key)
            values: dict[str, Any] = {
                "name": f"{push.name} {marker}" if push.name else marker,
                "price": "list_price",
                "unit": "product_default",
                "tax_included": False,
                "active": True,
            }
            existing = self._find_price_list(marker)
            if existing is None:
                (erp_id,) = self.client.model(
                    "product.price_list", "create", [{**values, "lines": [["create", lines]]}]
                )
                created = True
            else:
                erp_id = existing["id"]
                if not existing["active"]:
                    # An inactive (DeactivableMixin) record's fields are read-only: reactivate first.
                    self.client.model("product.price_list", "write", [erp_id], {"active": True})
                operations: list[Any] = [["delete", existing["lines"]]] if existing["lines"] else []
                if lines:
                    operations.append(["create", lines])
                self.client.model("product.price_list", "write", [erp_id], {**values, "lines": operations})
                created = False
            self._assign_price_list(erp_id, [int(party) for party in push.customer_erp_ids], created)
            results.append(PriceListResult(key=push.key, erp_id=str(erp_id), created=created))
        return results

    @staticmethod
    def _price_list_line(sequence: int, line: PriceListLine) -> dict[str, Any]:
        return {
            "sequence": sequence,
            "product": int(line.product_erp_id) if line.product_erp_id else None,
            "quantity": float(line.min_quantity),
            "formula": _price_list_formula(line),
            "start_date": line.start,
            "end_date": line.end,
        }

    def _find_price_list(self, marker: str) -> dict[str, Any] | None:
        rows = self.client.model(
            "product.price_list",
            "search_read",
            [["name", "ilike", f"%{_like_escape(marker)}"]],
            0,
            None,
            [["id", "ASC"]],
            ["name", "lines", "active"],
            context={"active_test": False},
        )
        matching = [row for row in rows if (row["name"] or "").endswith(marker)]
        return matching[0] if matching else None

    def _assign_price_list(self, price_list_id: int, party_ids: list[int], created: bool) -> None:
        """Make ``price_list_id`` the sale price list of exactly ``party_ids`` (in the current company)."""
        wanted = list(dict.fromkeys(party_ids))
        every = {"active_test": False}
        holders: list[int] = []
        if not created:  # a new list has no holders yet
            # party.party.sale_price_list (the per-company values) is not open to RPC: search the
            # parties through their one2many to it instead.
            company = self.client.context["company"]
            where = [["sale_price_list", "=", price_list_id], ["company", "=", company]]
            rows = self.client.model(
                "party.party",
                "search_read",
                [["sale_price_lists", "where", where]],
                0,
                None,
                None,
                ["sale_price_list"],
                context=every,
            )
            holders = [row["id"] for row in rows if row["sale_price_list"] == price_list_id]
        current = (
            self.client.model("party.party", "read", wanted, ["sale_price_list"], context=every)
            if wanted
            else []
        )
        assign = [row["id"] for row in current if row["sale_price_list"] != price_list_id]
        unassign = sorted(set(holders) - set(wanted))
        actions: list[Any] = []
        if assign:
            actions += [assign, {"sale_price_list": price_list_id}]
        if unassign:
            actions += [unassign, {"sale_price_list": None}]
        if actions:
            self.client.model("party.party", "write", *actions)

    # -- orders --------------------------------------------------------------------------------------------
    def push_orders(self, orders: Sequence[OrderPush]) -> list[OrderPushResult]:
        """Make each order an ERP sale exactly once, and confirm it. Results come in the input order.

        Exactly once: an order is identified by (party = ``customer_erp_id``, ``reference``). One
        ``search_read`` (``reference in [...]`` and ``party in [...]``, then filtered by pair; the ERP
        strips references, so the comparison does too; the lowest id wins) finds the sales of earlier
        attempts, whatever their state: those come back with ``created=False``, and a draft or quotation
        one is carried on through quote/confirm. The rest are created in ONE ``sale.sale.create``: party,
        invoice address (the party's first invoice address, else its first address), shipment address,
        payment term and price list from the party, reference, sale date (today, UTC: the ERP's today
        without a company time zone), ``shipping_date`` = ``requested_date`` when that is not in the past,
        comment = notes, and per line product, quantity, the product's sale unit, ``unit_price`` = the
        frozen price (a Decimal on the wire) and ``note``. No taxes are set (the ERP's on_change would
        compute them; the seeded catalogue has none).

        Ship-to: ``ship_to.erp_id`` when it is one of the party's addresses; otherwise (a portal-made
        address, or one the ERP no longer has for that party) an address of the party with the same
        street, postal code and city (whitespace and case ignored) is reused, else it is created on the
        party, all such addresses in one ``party.address.create``.

        Then one ``quote`` call for every draft sale and ``confirm`` calls: one per round, where a round
        holds at most one sale per party that has a credit limit (the ERP checks each sale of a confirm
        call against the party's credit *before* the call confirms any, so two sales of one party in one
        call could pass the limit together); parties without a limit all go in the first round.

        Per-order failures: when a batched call (create, quote, confirm round) is refused with a business
        error, its records are retried one by one so only the refused ones fail; each refused order comes
        back with ``error`` = the ERP's text (a refused confirm leaves the sale in quotation; a refused
        create leaves ``erp_id``/``number``/``state`` empty). An unknown customer or product is reported
        the same way without asking the ERP to create. A confirm refused for the customer's credit also
        sets ``credit_refused`` (the portal sends such an order to finance). Transient errors (timeouts,
        503 …) propagate: a retry of the same push is safe because of the lookup.

        ``accept_credit_warning``: such orders are confirmed one by one by ``finance_client`` (a user of the
        ERP's credit-limit group), after the other orders. When the ERP answers with its credit-limit
        warning, the warning is accepted for that sale only (``res.user.warning.skip``: a
        ``res.user.warning`` {user: the finance user, name, always: False}; the ERP does not let the
        user create one directly) and the confirm is retried. Without a finance user they are confirmed
        like the others and report the credit error.

        Orders repeated in ``orders`` (same customer and reference) make one sale and share its result.
        """
        unique: dict[OrderKey, OrderPush] = {}
        for order in orders:
            unique.setdefault(_order_key(order), order)
        errors: dict[OrderKey, str] = {}
        credit_refused: set[OrderKey] = set()  # confirms the ERP refused for the customer's credit
        for key, order in unique.items():
            if not key[1]:
                errors[key] = "An order needs a reference to be pushed to the ERP."
            elif _erp_id(order.customer_erp_id) is None:
                errors[key] = f"The customer id {order.customer_erp_id!r} is not an ERP party id."
        keys = [key for key in unique if key not in errors]
        parties = self._order_parties({int(customer) for customer, _ in keys})
        for key in keys:
            if int(key[0]) not in parties:
                errors[key] = f"The ERP has no customer with id {key[0]}."
        keys = [key for key in keys if key not in errors]

        found = self._find_sales(keys)
        sale_ids = {key: row["id"] for key, row in found.items()}
        states = {key: row["state"] for key, row in found.items()}
        missing = [key for key in keys if key not in found]
        created, create_errors = self._create_sales([unique[key] for key in missing], parties)
        errors.update(create_errors)
        sale_ids.update(created)
        states.update(dict.fromkeys(created, "draft"))

        by_sale = {sale_id: key for key, sale_id in sale_ids.items()}
        drafts = [sale_ids[key] for key in sale_ids if states[key] == "draft"]
        for sale_id, error in self._transition(self.client, "quote", drafts).items():
            errors[by_sale[sale_id]] = error
        to_confirm = [key for key in sale_ids if states[key] in ("draft", "quotation") and key not in errors]
        accepting = self.finance_client is not None
        normal = [key for key in to_confirm if not (accepting and unique[key].accept_credit_warning)]
        limited = self._parties_short_of_credit(parties, [(sale_ids[key], int(key[0])) for key in normal])
        for batch in _confirm_rounds([(sale_ids[key], int(key[0])) for key in normal], limited):
            for sale_id, error in self._transition(self.client, "confirm", batch).items():
                errors[by_sale[sale_id]] = error
                if _is_credit_refusal(error):
                    credit_refused.add(by_sale[sale_id])
        for key in to_confirm:
            if key not in normal and (error := self._confirm_accepting_credit(sale_ids[key])):
                errors[key] = error

        final = (
            {
                row["id"]: row
                for row in self.client.model("sale.sale", "read", list(by_sale), ["number", "state"])
            }
            if by_sale
            else {}
        )
        results = []
        for order in orders:
            key = _order_key(order)
            sale = final.get(sale_ids.get(key, 0), {})
            results.append(
                OrderPushResult(
                    reference=order.reference,
                    customer_erp_id=order.customer_erp_id,
                    erp_id=str(sale["id"]) if sale else "",
                    number=sale.get("number") or "",
                    state=sale.get("state") or "",
                    created=key in created,
                    error=errors.get(key, ""),
                    credit_refused=key in credit_refused,
                )
            )
        return results

    def _parties_short_of_credit(
        self, parties: dict[int, dict[str, Any]], sales: list[tuple[int, int]]
    ) -> set[int]:
        """Credit-limited customers whose sales of this batch might, together, pass their limit.

        Tryton checks every sale of one confirm call against the credit used before any of them, so
        two sales that each fit could pass the limit together. A customer with one sale in the batch,
        or whose credit used plus all its sales here stays within the limit, can be confirmed in one
        call; only the others go one sale per call. (A sale confirmed elsewhere in between is the
        ERP's own check to catch, as it is for any single confirm.)
        """
        counts = Counter(party for _, party in sales)
        candidates = {
            party
            for party, count in counts.items()
            if count > 1 and parties.get(party, {}).get("credit_limit_amount") is not None
        }
        if not candidates:
            return set()
        credit = {
            row["id"]: row["credit_amount"]
            for row in self.client.model("party.party", "read", sorted(candidates), ["credit_amount"])
        }
        totals: dict[int, Decimal] = defaultdict(Decimal)
        sale_party = {sale_id: party for sale_id, party in sales if party in candidates}
        for row in self.client.model("sale.sale", "read", sorted(sale_party), ["total_amount"]):
            totals[sale_party[row["id"]]] += row["total_amount"] or Decimal(0)
        return {
            party
            for party in candidates
            if (credit.get(party) or Decimal(0)) + totals[party] > parties[party]["credit_limit_amount"]
        }

    def _order_parties(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        rows = self.client.model(
            "party.party",
            "search_read",
            [["id", "in", sorted(ids)]],
            0,
            None,
            None,
            ["addresses", "customer_payment_term", "sale_price_list", "credit_limit_amount"],
            context={"active_test": False},
        )
        return {row["id"]: row for row in rows}

    def _find_sales(self, keys: list[OrderKey]) -> dict[OrderKey, dict[str, Any]]:
        if not keys:
            return {}
        rows = self.client.model(
            "sale.sale",
            "search_read",
            [
                ["reference", "in", sorted({reference for _, reference in keys})],
                ["party", "in", sorted({int(customer) for customer, _ in keys})],
            ],
            0,
            None,
            [["id", "ASC"]],
            ["party", "reference", "state"],
        )
        wanted = set(keys)
        found: dict[OrderKey, dict[str, Any]] = {}
        for row in rows:
            key = (str(row["party"]), (row["reference"] or "").strip())
            if key in wanted:
                found.setdefault(key, row)
        return found

    def _create_sales(
        self, orders: list[OrderPush], parties: dict[int, dict[str, Any]]
    ) -> tuple[dict[OrderKey, int], dict[OrderKey, str]]:
        """Create the sales (one call; one by one if the ERP refuses the batch): ids and errors by key."""
        if not orders:
            return {}, {}
        errors: dict[OrderKey, str] = {}
        products = self._sale_units({line.product_erp_id for order in orders for line in order.lines})
        for order in orders:
            unknown = [
                line.product_erp_id for line in order.lines if _erp_id(line.product_erp_id) not in products
            ]
            if unknown:
                errors[_order_key(order)] = f"The ERP has no product with id {', '.join(unknown)}."
        orders = [order for order in orders if _order_key(order) not in errors]
        ship_to, invoice = self._ship_to_addresses(orders, parties)
        today = datetime.now(tz=UTC).date()
        values = []
        for order in orders:
            party = parties[int(order.customer_erp_id)]
            shipment_address = ship_to[_order_key(order)]
            values.append(
                {
                    "party": party["id"],
                    "invoice_address": invoice.get(party["id"], shipment_address),
                    "shipment_address": shipment_address,
                    "payment_term": party["customer_payment_term"],
                    "price_list": party["sale_price_list"],
                    "reference": order.reference.strip(),
                    "sale_date": today,
                    "shipping_date": order.requested_date
                    if _not_before(order.requested_date, today)
                    else None,
                    "comment": order.notes or None,
                    "lines": [
                        [
                            "create",
                            [
                                {
                                    "type": "line",
                                    "product": int(line.product_erp_id),
                                    "quantity": float(line.quantity),
                                    "unit": products[int(line.product_erp_id)],
                                    "unit_price": line.unit_price,
                                    "note": line.note or None,
                                }
                                for line in order.lines
                            ],
                        ]
                    ],
                }
            )
        created: dict[OrderKey, int] = {}
        for order, outcome in zip(orders, self._create("sale.sale", values), strict=True):
            if isinstance(outcome, ErpBusinessError):
                errors[_order_key(order)] = outcome.message
            else:
                created[_order_key(order)] = outcome
        return created, errors

    def _sale_units(self, product_ids: set[str]) -> dict[int, int]:
        """The sale unit of each product (by ERP id); unknown or non-numeric ids are left out."""
        ids = sorted({product for product in map(_erp_id, product_ids) if product is not None})
        if not ids:
            return {}
        rows = self.client.model(
            "product.product",
            "search_read",
            [["id", "in", ids]],
            0,
            None,
            None,
            ["sale_uom"],
            context={"active_test": False},
        )
        return {row["id"]: row["sale_uom"] for row in rows}

    def _ship_to_addresses(
        self, orders: list[OrderPush], parties: dict[int, dict[str, Any]]
    ) -> tuple[dict[OrderKey, int], dict[int, int]]:
        """The shipment address of each order (creating those the ERP lacks) and the invoice address of
        each party that has an address."""
        address_ids = sorted(
            {address for order in orders for address in parties[int(order.customer_erp_id)]["addresses"]}
        )
        rows = (
            self.client.model(
                "party.address", "read", address_ids, ["party", "street", "postal_code", "city", "invoice"]
            )
            if address_ids
            else []
        )
        by_id = {row["id"]: row for row in rows}
        invoice: dict[int, int] = {}
        for party_id in {int(order.customer_erp_id) for order in orders}:
            # Like the ERP's address_get("invoice"): the first invoice address, else the first address.
            own = [by_id[address] for address in parties[party_id]["addresses"] if address in by_id]
            flagged = [row["id"] for row in own if row["invoice"]]
            if flagged or own:
                invoice[party_id] = (flagged or [own[0]["id"]])[0]
        # Match by content: (party, street, postal code, city), whitespace and case ignored.
        known = {}
        for row in sorted(rows, key=lambda row: row["id"], reverse=True):  # the lowest id wins
            known[_address_key(row["party"], row["street"], row["postal_code"], row["city"])] = row["id"]
        result: dict[OrderKey, int] = {}
        to_create: dict[tuple[str, ...], tuple[int, AddressRecord]] = {}
        for order in orders:
            party_id = int(order.customer_erp_id)
            address = order.ship_to
            address_id = _erp_id(address.erp_id)
            if address_id is not None and address_id in parties[party_id]["addresses"]:
                result[_order_key(order)] = address_id
                continue
            content = _address_key(party_id, address.street, address.postal_code, address.city)
            if content in known:
                result[_order_key(order)] = known[content]
            else:
                to_create.setdefault(content, (party_id, address))
        if to_create:
            new_ids = self.client.model(
                "party.address", "create", self._address_values(list(to_create.values()))
            )
            known.update(zip(to_create, new_ids, strict=True))
            for order in orders:
                key = _order_key(order)
                if key not in result:
                    address = order.ship_to
                    content = _address_key(int(key[0]), address.street, address.postal_code, address.city)
                    result[key] = known[content]
        return result, invoice

    def _address_values(self, addresses: list[tuple[int, AddressRecord]]) -> list[dict[str, Any]]:
        countries = self._country_ids()
        codes = sorted(
            {
                f"{address.country}-{address.region}"
                for _, address in addresses
                if address.country in countries and address.region
            }
        )
        subdivisions = (
            {
                row["code"]: row["id"]
                for row in self.client.model(
                    "country.subdivision", "search_read", [["code", "in", codes]], 0, None, None, ["code"]
                )
            }
            if codes
            else {}
        )
        values = []
        for party_id, address in addresses:
            value: dict[str, Any] = {
                "party": party_id,
                "street": address.street,
                "postal_code": address.postal_code,
                "city": address.city,
                "delivery": True,
            }
            if address.country in countries:
                value["country"] = countries[address.country]
            subdivision = subdivisions.get(f"{address.country}-{address.region}")
            if subdivision:
                value["subdivision"] = subdivision
            values.append(value)
        return values

    def _create(self, model: str, values: list[dict[str, Any]]) -> list[int | ErpBusinessError]:
        """One ``create`` for all; if the ERP refuses it, one each, so that only the refused ones fail."""
        if not values:
            return []
        try:
            return list(self.client.model(model, "create", values))
        except ErpBusinessError as exc:
            if len(values) == 1:
                return [exc]
        outcomes: list[int | ErpBusinessError] = []
        for value in values:
            try:
                (new_id,) = self.client.model(model, "create", [value])
            except ErpBusinessError as exc:
                outcomes.append(exc)
            else:
                outcomes.append(new_id)
        return outcomes

    @staticmethod
    def _transition(client: TrytonClient, method: str, sale_ids: list[int]) -> dict[int, str]:
        """Run a sale button on all ``sale_ids`` in one call; if the ERP refuses the call (a business
        error: one transaction, so nothing happened), run it sale by sale. The refusals by sale id.

        A sale that is already where the button leads is no refusal: an earlier attempt whose answer
        never came back (the client timed out, the worker died) went on in the ERP and got there between
        this attempt's look-up and its call ("You can not call confirm on …")."""
        if not sale_ids:
            return {}
        try:
            client.model("sale.sale", method, sale_ids)
        except ErpBusinessError as exc:
            errors = {sale_ids[0]: exc.message} if len(sale_ids) == 1 else {}
        else:
            return {}
        if len(sale_ids) > 1:
            for sale_id in sale_ids:
                try:
                    client.model("sale.sale", method, [sale_id])
                except ErpBusinessError as exc:
                    errors[sale_id] = exc.message
        reached = _STATES_REACHED_BY.get(method, frozenset())
        if errors and reached:
            for row in client.model("sale.sale", "read", list(errors), ["state"]):
                if row["state"] in reached:
                    errors.pop(row["id"], None)
        return errors

    def _confirm_accepting_credit(self, sale_id: int) -> str:
        """Confirm as the finance user, accepting the credit-limit warning of this sale: '' or the error."""
        finance = self.finance_client
        assert finance is not None  # noqa: S101 - only called with a finance user
        accepted: set[str] = set()
        while True:
            try:
                finance.model("sale.sale", "confirm", [sale_id])
            except TrytonWarning as warning:
                if not warning.name.endswith(CREDIT_LIMIT_WARNING) or warning.name in accepted:
                    return warning.message
                accepted.add(warning.name)
                finance.model("res.user.warning", "skip", warning.name, False)
            except ErpBusinessError as exc:
                return exc.message
            else:
                return ""

    def cancel_orders(self, orders: Sequence[OrderCancel]) -> list[OrderCancelResult]:
        """Cancel the sales of orders the portal refused after the ERP had them (a confirm the ERP refused
        for credit leaves the sale in quotation). Draft and quotation sales are cancelled in one call
        (one by one if the ERP refuses it); a cancelled sale is left as it is; a confirmed one is reported
        as an error, for a person; an order with no sale has nothing to cancel."""
        keys = [_order_key(order) for order in orders]
        found = self._find_sales([key for key in keys if key[0].isdigit() and key[1]])
        states = {key: row["state"] for key, row in found.items()}
        errors: dict[OrderKey, str] = {}
        cancellable = {row["id"]: key for key, row in found.items() if row["state"] in ("draft", "quotation")}
        refused = self._transition(self.client, "cancel", sorted(cancellable))
        for sale_id, key in cancellable.items():
            if sale_id in refused:
                errors[key] = refused[sale_id]
            else:
                states[key] = "cancelled"
        for key, row in found.items():
            if row["state"] not in ("draft", "quotation", "cancelled"):
                errors[key] = f"The ERP sale is {row['state']}; cancel it in the ERP if it must not go on."
        return [
            OrderCancelResult(
                reference=order.reference,
                customer_erp_id=order.customer_erp_id,
                erp_id=str(found[key]["id"]) if key in found else "",
                state=states.get(key, ""),
                error=errors.get(key, ""),
            )
            for order, key in zip(orders, keys, strict=True)
        ]

    def pull_orders(self, cursor: Cursor, limit: int) -> Page[OrderStateRecord]:
        """Sales with a reference (the portal's orders) created or written since the cursor, by id.

        The sale's own ``write_date`` is enough: the ERP re-processes a sale when its shipment is done or
        its invoice is posted or paid, and writes the new ``shipment_state``/``invoice_state`` on it.
        """
        domain = [
            *_changed_since(cursor.since),
            ["id", ">", cursor.after_id],
            ["reference", "!=", None],
            ["reference", "!=", ""],
        ]
        rows = self.client.model(
            "sale.sale",
            "search_read",
            domain,
            0,
            limit,
            [["id", "ASC"]],
            [
                "number",
                "reference",
                "party",
                "state",
                "shipment_state",
                "invoice_state",
                "write_date",
                "create_date",
            ],
        )
        records = [
            OrderStateRecord(
                erp_id=str(row["id"]),
                reference=row["reference"],
                customer_erp_id=str(row["party"]),
                number=row["number"] or "",
                state=row["state"],
                shipment_state=row["shipment_state"],
                invoice_state=row["invoice_state"],
                changed_at=_stamp(row["write_date"], row["create_date"]),
            )
            for row in rows
        ]
        return Page(records, rows[-1]["id"] if rows else cursor.after_id, len(rows) == limit)

    # -- invoices ------------------------------------------------------------------------------------------
    def pull_invoices(self, cursor: Cursor, limit: int) -> Page[InvoiceRecord]:
        """Customer invoices and credit notes (``type`` out, any state) changed since the cursor, by id.

        One ``search_read`` per page; the receivable lines, payment lines and sales come in it as nested
        reads. Changed means the invoice itself or, through ``move.lines``, ``payment_lines`` or
        ``additional_moves.lines``, a move line of it was created or written. Checked on Tryton 8.2:
        a payment through the invoice's pay wizard writes the invoice (``payment_lines``), and a
        reconciliation of its receivable lines writes those lines and, in a queued ``process`` after
        the commit, the invoice (``paid``, or back to ``posted`` when undone). A payment line that gets
        reconciled with something else raises what is left to pay while writing only that line: only
        ``payment_lines`` sees it. ``move.lines`` and ``additional_moves.lines`` (rescheduled lines) are
        there for a reconciliation whose queued ``process`` has not run yet (a queue worker) or failed:
        what is left to pay has changed but the invoice is not written yet.

        ``due_date``: the earliest maturity of the receivable lines (``lines_to_pay``) not reconciled
        yet, else the last maturity (paid), the invoice date for lines without a maturity, None without
        lines (draft, validated). ``amount_paid``: ``total_amount - amount_to_pay`` once posted, the
        total once paid, 0 before posting and when cancelled; a credit note has a negative total and,
        with the same formula, a negative ``amount_paid`` as it is used up.
        """
        line_paths = ("move.lines", "payment_lines", "additional_moves.lines")
        domain = [
            *_changed_since(cursor.since, *line_paths),
            ["id", ">", cursor.after_id],
            ["type", "=", "out"],
        ]
        rows = self.client.model(
            "account.invoice",
            "search_read",
            domain,
            0,
            limit,
            [["id", "ASC"]],
            [
                "number",
                "party",
                "invoice_date",
                "state",
                "currency.code",
                "total_amount",
                "amount_to_pay",
                "lines_to_pay.maturity_date",
                "lines_to_pay.reconciliation",
                "lines_to_pay.write_date",
                "lines_to_pay.create_date",
                "payment_lines.write_date",
                "payment_lines.create_date",
                "sales.reference",
                "write_date",
                "create_date",
            ],
        )
        records = []
        for row in rows:
            lines = row.get("lines_to_pay.") or []
            payments = row.get("payment_lines.") or []
            total = row["total_amount"] if row["total_amount"] is not None else Decimal(0)
            records.append(
                InvoiceRecord(
                    erp_id=str(row["id"]),
                    customer_erp_id=str(row["party"]),
                    number=row["number"] or "",
                    invoice_date=row["invoice_date"],
                    due_date=_due_date(lines, row["invoice_date"]),
                    currency=(row.get("currency.") or {}).get("code") or "",
                    total_amount=total,
                    amount_paid=_amount_paid(row["state"], total, row["amount_to_pay"]),
                    state=row["state"],
                    sale_references=sorted(
                        {
                            (sale["reference"] or "").strip()
                            for sale in row.get("sales.") or []
                            if (sale["reference"] or "").strip()
                        }
                    ),
                    changed_at=_stamp(
                        row["write_date"],
                        row["create_date"],
                        *(
                            line[name]
                            for line in [*lines, *payments]
                            for name in ("write_date", "create_date")
                        ),
                    ),
                )
            )
        return Page(records, rows[-1]["id"] if rows else cursor.after_id, len(rows) == limit)


def _due_date(lines: list[dict[str, Any]], invoice_date: date | None) -> date | None:
    """The earliest maturity still open, else (all reconciled) the last one; None without lines."""
    if not lines:
        return None
    maturities = [(line["maturity_date"] or invoice_date, line["reconciliation"]) for line in lines]
    open_dates = [day for day, reconciliation in maturities if day is not None and not reconciliation]
    if open_dates:
        return min(open_dates)
    return max((day for day, _ in maturities if day is not None), default=None)


def _amount_paid(state: str, total: Decimal, amount_to_pay: Decimal | None) -> Decimal:
    if state == "paid":
        return total
    if state == "posted":
        return total - (amount_to_pay or Decimal(0))
    return Decimal(0)  # draft, validated, cancelled: nothing is owed, so nothing counts as paid


def _is_credit_refusal(message: str) -> bool:
    """sale_credit_limit's refusal: 'The party "X" will exceed their $10000.00 credit limit by …'."""
    return "credit limit" in message.lower()


def _erp_id(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _order_key(order: OrderPush | OrderCancel) -> OrderKey:
    """(party id as the ERP writes it, reference stripped as the ERP stores it)."""
    party = _erp_id(order.customer_erp_id)
    return (str(party) if party is not None else order.customer_erp_id, order.reference.strip())


def _address_key(
    party: int, street: str | None, postal_code: str | None, city: str | None
) -> tuple[str, ...]:
    return (str(party), *(" ".join((text or "").split()).casefold() for text in (street, postal_code, city)))


def _not_before(day: date | None, today: date) -> bool:
    return day is not None and day >= today


def _confirm_rounds(sales: list[tuple[int, int]], limited: set[int]) -> list[list[int]]:
    """Split (sale id, party id) into confirm calls holding at most one sale per credit-limited party."""
    rounds: list[list[int]] = []
    taken: Counter[int] = Counter()
    for sale_id, party in sales:
        index = 0
        if party in limited:
            index = taken[party]
            taken[party] += 1
        while len(rounds) <= index:
            rounds.append([])
        rounds[index].append(sale_id)
    return rounds
