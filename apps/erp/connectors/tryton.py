"""The Tryton 8.2 connector: pulls customers, products and stock, pushes customers."""

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
    ErpError,
    ErpHealth,
    Page,
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
