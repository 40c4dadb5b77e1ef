"""Customers: ``res.partner`` companies with their delivery addresses, payment terms and credit limits
(pull), new customers (push), and the ship-to addresses orders need (delivery child contacts)."""

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
from apps.erp.connectors.odoo.client import OdooClient
from apps.erp.connectors.odoo.common import (
    EVERY,
    EVERY_ACTIVE_STATE,
    after_id,
    any_match,
    changed_after,
    changed_since,
    decimal,
    id_page,
    many2one,
    many2one_name,
    stamp,
    text,
)

# The customers: top-level partners (no parent) that are customers (``customer_rank`` > 0, which Odoo
# raises on a partner's first sale or invoice, and the push sets).
CUSTOMER_DOMAIN: list[Any] = [["parent_id", "=", False], ["customer_rank", ">", 0]]
# A customer's delivery addresses are its child contacts: their edits reach the customer pull too.
PARTNER_PATHS = ("child_ids",)
# credit_limit / use_partner_credit_limit need an accounting group for the bot user (see client.py).
CUSTOMER_FIELDS = [
    "name",
    "ref",
    "active",
    "child_ids",
    "street",
    "zip",
    "city",
    "state_id",
    "country_id",
    "property_payment_term_id",
    "credit_limit",
    "use_partner_credit_limit",
    "write_date",
]
ADDRESS_FIELDS = ["type", "street", "zip", "city", "state_id", "country_id", "write_date", "active"]


class OdooCustomers:
    """The customer stream, and the delivery addresses the order push creates."""

    def __init__(self, client: OdooClient) -> None:
        self.client = client
        self._countries: dict[str, int] | None = None

    def customers_changed(self, since: datetime | None) -> bool:
        return any_match(
            self.client, "res.partner", [*changed_after(since, *PARTNER_PATHS), *CUSTOMER_DOMAIN]
        )

    def pull_customers(self, cursor: Cursor, limit: int) -> Page[CustomerRecord]:
        """Customers written at or after the cursor (or whose child contacts were), by id. Archived
        customers are not pulled (reconciliation reads them)."""
        domain = [
            *changed_since(cursor.since, *PARTNER_PATHS),
            ["id", ">", after_id(cursor.after)],
            *CUSTOMER_DOMAIN,
        ]
        rows = self.client.call(
            "res.partner", "search_read", domain=domain, fields=CUSTOMER_FIELDS, limit=limit, order="id asc"
        )
        return id_page(self._records(rows), rows, cursor.after, limit)

    def reconcile_customers(
        self, after: str, limit: int, ids: list[int] | None = None
    ) -> Page[ReconcileRecord]:
        """Every customer, archived ones included, by id (``ids``: only those). ``reference`` is the
        partner's ``ref`` (the customer code)."""
        domain = [["id", ">", after_id(after)], EVERY_ACTIVE_STATE, *CUSTOMER_DOMAIN]
        if ids is not None:
            domain.append(["id", "in", ids])
        rows = self.client.call(
            "res.partner",
            "search_read",
            domain=domain,
            fields=CUSTOMER_FIELDS,
            limit=limit or None,
            order="id asc",
        )
        records = [
            customer_reconcile_record(record, active=bool(row["active"]))
            for row, record in zip(rows, self._records(rows), strict=True)
        ]
        return id_page(records, rows, after, limit)

    def _records(self, rows: list[dict[str, Any]]) -> list[CustomerRecord]:
        """The customer records of ``rows``: one read of their child contacts, one of their terms' lines.

        Addresses: the delivery contacts (ship-to records), else the customer's own address. Credit
        limit: the partner's own when ``use_partner_credit_limit`` is on, else none. Odoo has no credit
        hold of its own (``Capabilities.customer_holds`` False): ``on_hold`` stays False."""
        child_ids = [child for row in rows for child in row["child_ids"]]
        children = (
            {
                child["id"]: child
                for child in self.client.call("res.partner", "read", ids=child_ids, fields=ADDRESS_FIELDS)
            }
            if child_ids
            else {}
        )
        term_days = self._term_days({many2one(row["property_payment_term_id"]) for row in rows} - {None})
        codes = {country: code for code, country in self.country_ids().items()} if rows else {}
        records = []
        for row in rows:
            contacts = [children[i] for i in row["child_ids"] if i in children]
            delivery = [contact for contact in contacts if contact["type"] == "delivery"]
            addresses = [_address(contact, codes) for contact in delivery] or [_address(row, codes)]
            term = many2one(row["property_payment_term_id"])
            records.append(
                CustomerRecord(
                    erp_id=str(row["id"]),
                    code=text(row["ref"]),
                    name=text(row["name"]),
                    addresses=addresses,
                    payment_term_id=str(term) if term else None,
                    payment_term_name=many2one_name(row["property_payment_term_id"]),
                    credit_limit=decimal(row["credit_limit"]) if row["use_partner_credit_limit"] else None,
                    changed_at=stamp(row["write_date"], *(contact["write_date"] for contact in contacts)),
                    payment_term_days=term_days.get(term) if term else None,
                )
            )
        return records

    def _term_days(self, ids: set[int | None]) -> dict[int, int]:
        """Each payment term's longest delay in days (its lines' ``nb_days``), from one read."""
        wanted = sorted(i for i in ids if i is not None)
        if not wanted:
            return {}
        lines = self.client.call(
            "account.payment.term.line",
            "search_read",
            domain=[["payment_id", "in", wanted]],
            fields=["payment_id", "nb_days"],
        )
        days: dict[int, int] = dict.fromkeys(wanted, 0)
        for line in lines:
            term = many2one(line["payment_id"])
            if term is not None:
                days[term] = max(days[term], int(line["nb_days"] or 0))
        return days

    def push_customers(
        self, customers: Sequence[CustomerPush], on_created: Callable[[PushResult], None] | None = None
    ) -> list[PushResult]:
        """Create the customers Odoo does not have yet (one ``create`` call: all or none), found by their
        code in ``ref`` (archived ones too). Each is a company with ``customer_rank`` 1, its first
        address as its own and every address as a delivery contact; ``vat`` = the tax identifier."""
        codes = [customer.code for customer in customers]
        existing = self.client.call(
            "res.partner",
            "search_read",
            domain=[["ref", "in", codes], ["parent_id", "=", False]],
            fields=["ref"],
            order="id asc",
            context=EVERY,
        )
        found: dict[str, int] = {}
        for row in existing:
            found.setdefault(row["ref"], row["id"])
        missing = [customer for customer in customers if customer.code not in found]
        results = [
            PushResult(code=code, erp_id=str(found[code]), created=False) for code in codes if code in found
        ]
        if missing:
            countries = self.country_ids()
            values = []
            for customer in missing:
                main = customer.addresses[0] if customer.addresses else None
                value: dict[str, Any] = {
                    "name": customer.name,
                    "ref": customer.code,
                    "is_company": True,
                    "customer_rank": 1,
                    **(self.address_values(main, countries) if main else {}),
                    "child_ids": [
                        [0, 0, {"type": "delivery", **self.address_values(address, countries)}]
                        for address in customer.addresses
                    ],
                }
                if customer.tax_identifier:
                    value["vat"] = customer.tax_identifier
                values.append(value)
            created_ids = self.client.call("res.partner", "create", vals_list=values)
            for customer, new_id in zip(missing, created_ids, strict=True):
                result = PushResult(code=customer.code, erp_id=str(new_id), created=True)
                results.append(result)
                if on_created is not None:
                    on_created(result)
        return results

    def country_ids(self) -> dict[str, int]:
        """Odoo's countries by code, read once per connector."""
        if self._countries is None:
            rows = self.client.call("res.country", "search_read", domain=[], fields=["code"])
            self._countries = {row["code"]: row["id"] for row in rows if row["code"]}
        return self._countries

    @staticmethod
    def address_values(address: AddressRecord, countries: dict[str, int]) -> dict[str, Any]:
        value: dict[str, Any] = {"street": address.street, "zip": address.postal_code, "city": address.city}
        if address.country in countries:
            value["country_id"] = countries[address.country]
        return value


def _address(row: dict[str, Any], country_codes: dict[int, str]) -> AddressRecord:
    state = many2one_name(row.get("state_id")) or ""
    country = many2one(row.get("country_id"))
    return AddressRecord(
        erp_id=str(row["id"]),
        street=text(row.get("street")).strip(),
        city=text(row.get("city")),
        postal_code=text(row.get("zip")),
        region=state,
        country=country_codes.get(country, "") if country else "",
    )
