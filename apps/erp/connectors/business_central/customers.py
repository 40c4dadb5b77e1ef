"""The customer stream of Business Central: ``customers`` with their payment terms, credit limit and
``blocked`` hold; the customer push (looked up by ``number`` before it is created)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.erp.connectors.base import (
    AddressRecord,
    Cursor,
    CustomerPush,
    CustomerRecord,
    ErpBusinessError,
    Page,
    PushResult,
    ReconcileRecord,
    customer_reconcile_record,
)
from apps.erp.connectors.business_central.client import BusinessCentralClient, odata_text
from apps.erp.connectors.business_central.common import (
    after_filter,
    guid,
    link_page,
    parse_time,
    query,
    read_page,
    since_filter,
    term_days,
)

# learn: api-reference/v2.0/resources/dynamics_customer — blocked " " is not blocked; "Ship", "Invoice" and
# "All" each stop the customer's new orders (learn: receivables-how-block-customers): a credit hold.
NOT_BLOCKED = " "


class BusinessCentralCustomers:
    def __init__(self, client: BusinessCentralClient) -> None:
        self.client = client
        self._terms: dict[str, dict[str, Any]] | None = None

    def _payment_terms(self, wanted: set[str]) -> dict[str, dict[str, Any]]:
        """The payment terms by id: one read of the (small) table, again when a new term shows up."""
        if self._terms is None or not wanted <= set(self._terms):
            self._terms = {row["id"].lower(): row for row in self.client.get_all("paymentTerms")}
        return self._terms

    def records(self, rows: list[dict[str, Any]]) -> list[CustomerRecord]:
        terms = self._payment_terms({term_id for row in rows if (term_id := guid(row.get("paymentTermsId")))})
        records = []
        for row in rows:
            term = terms.get(guid(row.get("paymentTermsId")) or "")
            blocked = row.get("blocked") or NOT_BLOCKED
            limit = Decimal(str(row.get("creditLimit") or 0))
            street = ", ".join(part for part in (row.get("addressLine1"), row.get("addressLine2")) if part)
            records.append(
                CustomerRecord(
                    erp_id=row["id"].lower(),
                    code=row["number"],
                    name=row["displayName"],
                    # One address per customer in the standard API (no shipToAddresses resource): it is the
                    # customer's one AddressRecord, under the customer's own id.
                    addresses=[
                        AddressRecord(
                            row["id"].lower(),
                            street,
                            row.get("city") or "",
                            row.get("postalCode") or "",
                            row.get("state") or "",
                            row.get("country") or "",
                        )
                    ],
                    payment_term_id=term["id"].lower() if term else None,
                    payment_term_name=term["displayName"] if term else None,
                    # A credit limit of 0 is "no limit" in BC (Customer table, Credit Limit (LCY): left blank,
                    # no credit limit — NAV 2016 docs hh915344).
                    credit_limit=limit if limit else None,
                    changed_at=parse_time(row["lastModifiedDateTime"]),
                    payment_term_days=term_days(term.get("dueDateCalculation")) if term else None,
                    on_hold=blocked != NOT_BLOCKED,
                    hold_reason=f"Blocked in Business Central ({blocked})" if blocked != NOT_BLOCKED else "",
                )
            )
        return records

    # -- pulls ---------------------------------------------------------------------------------------------
    def customers_changed(self, since: datetime | None) -> str:
        return query("customers", after_filter(since), select="id", top=1)

    def pull_customers(self, cursor: Cursor, limit: int) -> Page[CustomerRecord]:
        """Customers changed at or after ``cursor.since``, by number (BC's key order), page by next link.
        A payment term edited in BC does not stamp its customers: the next change of each brings it."""
        rows, link = read_page(
            self.client, query("customers", since_filter(cursor.since)), cursor.after, limit
        )
        return link_page(self.records(rows), link)

    def reconcile_record(self, record: CustomerRecord, row: dict[str, Any]) -> ReconcileRecord:
        # BC customers have no archive flag; one blocked for every transaction is out of business.
        return customer_reconcile_record(record, active=row.get("blocked") != "All")

    def reconcile_customers(self, after: str, limit: int) -> Page[ReconcileRecord]:
        rows, link = read_page(self.client, "customers", after, limit)
        return link_page(
            [self.reconcile_record(r, row) for r, row in zip(self.records(rows), rows, strict=True)], link
        )

    def reconcile_one(self, key: str) -> ReconcileRecord | None:
        rows = self.client.request("GET", query("customers", f"id eq {key}"))["value"]
        return self.reconcile_record(self.records(rows)[0], rows[0]) if rows else None

    # -- push ----------------------------------------------------------------------------------------------
    def push_customers(
        self, customers: Sequence[CustomerPush], on_created: Callable[[PushResult], None] | None = None
    ) -> list[PushResult]:
        """Each customer is looked up by ``number`` (the portal's code) first, all in one ``$batch``; only
        the missing ones are created (a retry after a lost answer finds the first attempt's customer)."""
        found = self.client.batch(
            [
                ("GET", query("customers", f"number eq {odata_text(c.code)}", select="id,number"), None)
                for c in customers
            ]
        )
        results = []
        for customer, answer in zip(customers, found, strict=True):
            rows = answer.body.get("value", []) if answer.ok() and isinstance(answer.body, dict) else []
            if not answer.ok():
                raise ErpBusinessError(f"Business Central could not look up customer {customer.code}.")
            if rows:
                results.append(PushResult(customer.code, rows[0]["id"].lower(), created=False))
                continue
            address = customer.addresses[0] if customer.addresses else None
            body: dict[str, Any] = {"number": customer.code, "displayName": customer.name}
            if customer.tax_identifier:
                body["taxRegistrationNumber"] = customer.tax_identifier
            if address is not None:
                body.update(
                    addressLine1=address.street,
                    city=address.city,
                    postalCode=address.postal_code,
                    state=address.region,
                    country=address.country,
                )
            try:
                made = self.client.request("POST", "customers", body=body)
            except ErpBusinessError as exc:
                raise ErpBusinessError(
                    f"Business Central refused customer {customer.code}: {exc.message}"
                ) from exc
            result = PushResult(customer.code, made["id"].lower(), created=True)
            if on_created is not None:
                on_created(result)
            results.append(result)
        return results
