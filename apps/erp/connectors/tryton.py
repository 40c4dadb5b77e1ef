"""The Tryton 8.2 connector: pulls customers, products and stock, pushes customers and price lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from apps.erp.connectors.base import (
    AddressRecord,
    Cursor,
    CustomerPush,
    CustomerRecord,
    ErpBusinessError,
    ErpError,
    ErpHealth,
    Page,
    PriceListLine,
    PriceListPush,
    PriceListResult,
    ProductRecord,
    PushResult,
    StockRecord,
)
from apps.erp.connectors.tryton_rpc import TrytonClient
from apps.erp.models import ErpConnection

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Tax identifiers go to the ERP as US EINs, which Tryton validates (python-stdnum).
TAX_IDENTIFIER_TYPE = "us_ein"


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


class TrytonConnector:
    def __init__(self, client: TrytonClient) -> None:
        self.client = client
        self._storage_locations: list[int] | None = None
        self._category_names: dict[int, str] = {}
        self._countries: dict[str, int] | None = None

    @classmethod
    def for_connection(cls, connection: ErpConnection) -> TrytonConnector:
        return cls(
            TrytonClient(
                connection.url,
                connection.database,
                connection.username,
                connection.password(),
                timeout=float(connection.timeout_seconds),
                concurrency_limit=connection.concurrency_limit,
            )
        )

    def close(self) -> None:
        self.client.close()

    def health(self) -> ErpHealth:
        try:
            version = self.client.server_version()
            self.client.login()
        except ErpError as exc:
            return ErpHealth(False, "", exc.message)
        return ErpHealth(True, version, f"Tryton {version}, signed in as {self.client.username}")

    # -- customers -----------------------------------------------------------------------------------------
    def pull_customers(self, cursor: Cursor, limit: int) -> Page[CustomerRecord]:
        domain = [*_changed_since(cursor.since, "addresses"), ["id", ">", cursor.after_id]]
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
                "write_date",
                "create_date",
            ],
        )
        address_ids = [address_id for party in parties for address_id in party["addresses"]]
        addresses = self._addresses(address_ids)
        records = []
        for party in parties:
            party_addresses = [addresses[i] for i in party["addresses"] if i in addresses]
            term = party.get("customer_payment_term.") or {}
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
                        party["write_date"], party["create_date"], *(stamp for _, stamp in party_addresses)
                    ),
                )
            )
        return Page(records, parties[-1]["id"] if parties else cursor.after_id, len(parties) == limit)

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
