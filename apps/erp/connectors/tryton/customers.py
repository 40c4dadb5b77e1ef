"""Customers: parties with their addresses, payment terms and credit holds (pull), new parties (push)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from apps.erp.connectors.base import (
    AddressRecord,
    Cursor,
    CustomerPush,
    CustomerRecord,
    Page,
    PushResult,
    ReconcileRecord,
    customer_reconcile_record,
)
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.connectors.tryton.common import (
    EVERY_ACTIVE_STATE,
    after_id,
    any_match,
    changed_after,
    changed_since,
    id_page,
    stamp,
)

# A party's addresses and categories (a credit hold) reach its pull too (see ``pull_customers``).
PARTY_PATHS = ("addresses", "categories")

# Tax identifiers go to the ERP as US EINs, which Tryton validates (python-stdnum).
TAX_IDENTIFIER_TYPE = "us_ein"
# The party category that marks a customer on credit hold in the ERP, unless settings say otherwise.
DEFAULT_HOLD_CATEGORY = "Credit hold"
# What the customer records are built from (``TrytonCustomers._customer_records``).
CUSTOMER_FIELDS = [
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
]


class TrytonCustomers:
    """The customer stream. A party carrying the party category named ``hold_category`` (compared
    case-insensitively) is on credit hold in the ERP. Also the party addresses other streams create."""

    def __init__(self, client: TrytonClient, *, hold_category: str = DEFAULT_HOLD_CATEGORY) -> None:
        self.client = client
        self.hold_category = hold_category
        self._countries: dict[str, int] | None = None

    def customers_changed(self, since: datetime | None) -> bool:
        """A party (its addresses, its categories) created or written after ``since``: the pull's rule."""
        return any_match(self.client, "party.party", changed_after(since, *PARTY_PATHS))

    def pull_customers(self, cursor: Cursor, limit: int) -> Page[CustomerRecord]:
        """Parties created or written since the cursor (or whose addresses or categories were), by id.

        Putting a party on hold or lifting it (``categories`` add/remove on ``party.party.write``) writes
        the party itself, and renaming a category writes the category, so both reach an incremental pull.
        Deleting the category writes neither: its parties come back on hold or not with their next change.
        """
        domain = [*changed_since(cursor.since, *PARTY_PATHS), ["id", ">", after_id(cursor.after)]]
        parties = self.client.search_read(
            "party.party", domain, CUSTOMER_FIELDS, limit=limit, order=[["id", "ASC"]]
        )
        return id_page(self._customer_records(parties), parties, cursor.after, limit)

    def reconcile_customers(self, after: str, limit: int) -> Page[ReconcileRecord]:
        """Every party (the parties the customer pull reads: all of them), inactive ones included, by id.

        One ``search_read`` of the parties, then the pull's record builder (one read of the page's
        addresses, one of its payment terms). ``reference`` is the party code; ``active`` the party's.
        Inactive parties come through the ``active`` clause of the domain, not ``active_test``: so their
        addresses and categories are read as the pull reads them (active ones only)."""
        parties = self.client.search_read(
            "party.party",
            [["id", ">", after_id(after)], EVERY_ACTIVE_STATE],
            CUSTOMER_FIELDS,
            limit=limit,
            order=[["id", "ASC"]],
        )
        records = [
            customer_reconcile_record(record, active=bool(party["active"]))
            for party, record in zip(parties, self._customer_records(parties), strict=True)
        ]
        return id_page(records, parties, after, limit)

    def _customer_records(self, parties: list[dict[str, Any]]) -> list[CustomerRecord]:
        """The customer records of ``parties`` (rows with ``CUSTOMER_FIELDS``), in their order.

        Payment terms: one read of every term of the page (``payment_term_days``, see ``_term_days``).
        """
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
                    changed_at=stamp(
                        party["write_date"],
                        party["create_date"],
                        *(changed for _, changed in party_addresses),
                        *(row["write_date"] for row in categories),
                        *(row["create_date"] for row in categories),
                    ),
                    payment_term_days=term_days.get(party["customer_payment_term"]),
                    on_hold=bool(held),
                    hold_reason=f'On credit hold in the ERP (party category "{held[0]}")' if held else "",
                )
            )
        return records

    def _term_days(self, ids: set[int]) -> dict[int, int]:
        """The longest delay of each payment term, in days, from one read of all their lines.

        A term line falls due after its relative deltas, applied in turn (a line without any: on the
        invoice date, 0). Each delta counts ``days + 7 * weeks + 30 * months``, plus at most ``day - 1``
        for a day of the month it moves to (``day=31``: the end of that month) and at most 6 for a
        weekday; an absolute month is not counted. The term's delay is that of its latest line.
        """
        if not ids:
            return {}
        rows = self.client.read(
            "account.invoice.payment_term",
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
        rows = self.client.read(
            "party.address",
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
                stamp(row["write_date"], row["create_date"]),
            )
        return result

    def push_customers(
        self, customers: Sequence[CustomerPush], on_created: Callable[[PushResult], None] | None = None
    ) -> list[PushResult]:
        """Create the customers the ERP does not have yet; those it has (an earlier attempt) are found."""
        codes = [customer.code for customer in customers]
        existing = self.client.search_read(
            "party.party", [["code", "in", codes]], ["code"], context={"active_test": False}
        )
        found = {row["code"]: row["id"] for row in existing}
        missing = [customer for customer in customers if customer.code not in found]
        results = [
            PushResult(code=code, erp_id=str(found[code]), created=False) for code in codes if code in found
        ]
        if missing:
            countries = self.country_ids()
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

    def country_ids(self) -> dict[str, int]:
        """The ERP's countries by code, read once per connector."""
        if self._countries is None:
            rows = self.client.search_read("country.country", [], ["code"])
            self._countries = {row["code"]: row["id"] for row in rows if row["code"]}
        return self._countries

    def address_values(self, addresses: list[tuple[int, AddressRecord]]) -> list[dict[str, Any]]:
        """``party.address.create`` values for delivery addresses (party id, address), with the ERP's
        country and subdivision (``<country>-<region>``) when it has them."""
        countries = self.country_ids()
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
                for row in self.client.search_read("country.subdivision", [["code", "in", codes]], ["code"])
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
