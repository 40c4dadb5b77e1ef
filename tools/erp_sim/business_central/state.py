"""The simulated company data of Business Central and the business rules the API enforces on it.

Everything here runs under the simulator's lock. Records are plain dicts holding the API v2.0 fields
(fact sheet §2); keys starting with ``_`` are the simulator's own (ETag version, lines).
"""

from __future__ import annotations

import base64
import calendar
import copy
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tools.erp_sim.business_central.odata import ODataError

CENT = Decimal("0.01")
CURRENCY = "USD"
# Entity sets a company has, and the key each lists by (BC lists by the table's primary key).
ENTITY_SETS = {
    "customers": "number",
    "items": "number",
    "paymentTerms": "code",
    "salesOrders": "number",
    "salesShipments": "number",
    "salesInvoices": "number",
    "salesCreditMemos": "number",
    "itemLedgerEntries": "entryNumber",
}
# Posted documents and ledger entries are read-only through the API (learn: api-reference/v2.0/resources/
# dynamics_salesShipment: GET only; dynamics_itemledgerentry: GET only). Posted invoices and credit memos
# cannot be edited either (only bound actions); the simulator keeps only posted ones.
READ_ONLY_SETS = {"salesShipments", "salesInvoices", "salesCreditMemos", "itemLedgerEntries"}
# Document sets and their line navigation property.
LINE_SETS = {
    "salesOrders": "salesOrderLines",
    "salesShipments": "salesShipmentLines",
    "salesInvoices": "salesInvoiceLines",
    "salesCreditMemos": "salesCreditMemoLines",
}
# Writable fields per entity set; anything else in a POST/PATCH body is refused (the fact sheet lists the
# read-only ones: id, lastModifiedDateTime, status, totals, inventory, balanceDue).
WRITABLE = {
    "customers": {
        "number",
        "displayName",
        "type",
        "addressLine1",
        "addressLine2",
        "city",
        "state",
        "country",
        "postalCode",
        "phoneNumber",
        "email",
        "website",
        "creditLimit",
        "taxLiable",
        "taxRegistrationNumber",
        "currencyCode",
        "paymentTermsId",
        "blocked",
    },
    "items": {
        "number",
        "displayName",
        "displayName2",
        "type",
        "itemCategoryCode",
        "blocked",
        "gtin",
        "unitPrice",
        "unitCost",
        "baseUnitOfMeasureCode",
    },
    "paymentTerms": {
        "code",
        "displayName",
        "dueDateCalculation",
        "discountDateCalculation",
        "discountPercent",
    },
    "salesOrders": {
        "number",
        "externalDocumentNumber",
        "orderDate",
        "postingDate",
        "customerId",
        "customerNumber",
        "shipToName",
        "shipToContact",
        "shipToAddressLine1",
        "shipToAddressLine2",
        "shipToCity",
        "shipToCountry",
        "shipToState",
        "shipToPostCode",
        "requestedDeliveryDate",
        "partialShipping",
        "phoneNumber",
        "email",
        "paymentTermsId",
        "salesOrderLines",
    },
    "salesOrderLines": {
        "sequence",
        "itemId",
        "lineType",
        "lineObjectNumber",
        "description",
        "quantity",
        "unitPrice",
        "discountPercent",
        "shipmentDate",
    },
}
# learn: api-reference/v2.0/resources/dynamics_customer — blocked is one of " ", "Ship", "Invoice", "All".
BLOCKED_VALUES = (" ", "Ship", "Invoice", "All")
# Text field lengths of the base tables (Customer Name 100, Address 100, Code 20, External Document No. 35);
# a longer value is refused with Application_StringExceededLength (learn: webservices/dynamics-error-codes).
MAX_LENGTHS = {
    "displayName": 100,
    "number": 20,
    "addressLine1": 100,
    "city": 30,
    "externalDocumentNumber": 35,
    "taxRegistrationNumber": 20,
    "email": 80,
}

SEED_CUSTOMERS = [
    # number, name, credit limit, payment terms, address line, city, state, postal code
    (
        "CUST-001",
        "Acme Hardware Supply",
        Decimal(25000),
        "30 DAYS",
        "100 Main St",
        "Springfield",
        "IL",
        "62701",
    ),
    (
        "CUST-002",
        "Brightline Builders",
        Decimal(50000),
        "14 DAYS",
        "22 Harbor Ave",
        "Portland",
        "OR",
        "97201",
    ),
    ("CUST-003", "Cedar Office Interiors", Decimal(0), "COD", "5 Elm Rd", "Madison", "WI", "53703"),
    ("CUST-004", "Delta Facilities Group", Decimal(40000), "30 DAYS", "410 Lake Dr", "Austin", "TX", "73301"),
    (
        "CUST-005",
        "Evergreen Property Care",
        Decimal(15000),
        "14 DAYS",
        "77 Pine St",
        "Seattle",
        "WA",
        "98101",
    ),
    (
        "CUST-006",
        "Foundry Lane Contractors",
        Decimal(30000),
        "30 DAYS",
        "9 Mill Rd",
        "Pittsburgh",
        "PA",
        "15201",
    ),
    (
        "CUST-007",
        "Granite State Builders",
        Decimal(20000),
        "30 DAYS",
        "3 Quarry Way",
        "Concord",
        "NH",
        "03301",
    ),
    ("CUST-008", "Harbor Point Marine", Decimal(0), "COD", "12 Dock St", "Mobile", "AL", "36602"),
]
SEED_TERMS = [
    ("COD", "Cash on delivery", "0D"),
    ("14 DAYS", "Net 14 days", "14D"),
    ("30 DAYS", "Net 30 days", "30D"),
]
SEED_ITEMS = 520  # more than two pages of 250 (the conformance suite's product page size)


def new_id() -> str:
    return str(uuid.uuid4())


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def add_formula(start: date, formula: str) -> date:
    """A BC date formula of the simple kinds payment terms use (``30D``, ``2W``, ``1M``, ``0D``, ``CM``)."""
    formula = formula.strip().upper()
    if formula in ("", "0D"):
        return start
    if formula == "CM":
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    match = re.fullmatch(r"(\d+)([DWMY])", formula)
    if not match:
        raise ODataError(400, "Application_EvaluateException", f"The date formula '{formula}' is not valid.")
    count, unit = int(match.group(1)), match.group(2)
    if unit == "D":
        return start + timedelta(days=count)
    if unit == "W":
        return start + timedelta(weeks=count)
    months = count * (12 if unit == "Y" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


class Company:
    """One company's tables. ``stamp`` gives each write its ``lastModifiedDateTime``; ``changed`` is told
    of every change (webhooks)."""

    def __init__(self, name: str, stamp: Callable[[], datetime], changed: Callable[..., None]) -> None:
        self.id = new_id()
        self.name = name
        self.tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in ENTITY_SETS}
        self.counters = {"order": 101000, "shipment": 102000, "invoice": 103000, "memo": 104000, "entry": 0}
        self._stamp = stamp
        self._changed = changed

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "systemVersion": "27.0.38460.40180",
            "timestamp": 1,
            "name": self.name,
            "displayName": self.name,
            "businessProfileId": "",
        }

    # -- generic record handling ------------------------------------------------------------------------
    def touch(self, entity_set: str, record: dict[str, Any], *, at: datetime | None = None) -> None:
        """A write: a new ETag and a newer lastModifiedDateTime (fact sheet §8.5)."""
        record["_version"] = record.get("_version", 0) + 1
        record["lastModifiedDateTime"] = at or self._stamp()
        self._changed(self, entity_set, record["id"], "created" if record["_version"] == 1 else "updated")

    def insert(
        self, entity_set: str, record: dict[str, Any], *, at: datetime | None = None
    ) -> dict[str, Any]:
        record.setdefault("id", new_id())
        self.tables[entity_set][record["id"]] = record
        self.touch(entity_set, record, at=at)
        return record

    def delete(self, entity_set: str, record_id: str) -> None:
        del self.tables[entity_set][record_id]
        self._changed(self, entity_set, record_id, "deleted")

    def get(self, entity_set: str, record_id: str) -> dict[str, Any]:
        record = self.tables[entity_set].get(record_id.lower())
        if record is None:
            # learn: webservices/dynamics-error-codes — BadRequest_NotFound for a key that matches nothing.
            raise ODataError(
                404, "BadRequest_NotFound", f"The {entity_set} record '{record_id}' does not exist."
            )
        return record

    def by_field(self, entity_set: str, field: str, value: Any) -> dict[str, Any] | None:
        return next((r for r in self.tables[entity_set].values() if r.get(field) == value), None)

    # -- seeded data ------------------------------------------------------------------------------------
    def seed(self) -> None:
        at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        terms = {}
        for code, name, formula in SEED_TERMS:
            terms[code] = self.insert(
                "paymentTerms",
                {
                    "code": code,
                    "displayName": name,
                    "dueDateCalculation": formula,
                    "discountDateCalculation": "",
                    "discountPercent": Decimal(0),
                    "calculateDiscountOnCreditMemos": False,
                },
                at=at,
            )
        for offset, (number, name, limit, term, street, city, state, postal) in enumerate(SEED_CUSTOMERS):
            self.insert(
                "customers",
                self.customer_defaults(
                    {
                        "number": number,
                        "displayName": name,
                        "addressLine1": street,
                        "city": city,
                        "state": state,
                        "postalCode": postal,
                        "creditLimit": limit,
                        "paymentTermsId": terms[term]["id"],
                    }
                ),
                at=at + timedelta(minutes=offset),
            )
        for n in range(1, SEED_ITEMS + 1):
            item = self.insert(
                "items",
                self.item_defaults(
                    {
                        "number": f"SKU-{n:05d}",
                        "displayName": f"Catalog item {n}",
                        "unitPrice": Decimal(n * 3) + Decimal("0.99"),
                        # Every fifth item never costed (unitCost 0), the others at about 60 % of the price.
                        "unitCost": Decimal(0) if n % 5 == 0 else (Decimal(n * 9) / 15).quantize(CENT),
                        "itemCategoryCode": "TOOLS" if n % 2 else "PARTS",
                    }
                ),
                at=at + timedelta(hours=1, minutes=n),
            )
            self.post_ledger(item, Decimal(100 + n), "Positive Adjmt.", at=at + timedelta(hours=2, minutes=n))

    def customer_defaults(self, fields: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "number": "",
            "displayName": "",
            "type": "Company",
            "addressLine1": "",
            "addressLine2": "",
            "city": "",
            "state": "",
            "country": "US",
            "postalCode": "",
            "phoneNumber": "",
            "email": "",
            "website": "",
            "salespersonCode": "",
            "balanceDue": Decimal(0),
            "creditLimit": Decimal(0),
            "taxLiable": False,
            "taxAreaId": "00000000-0000-0000-0000-000000000000",
            "taxAreaDisplayName": "",
            "taxRegistrationNumber": "",
            "currencyId": "00000000-0000-0000-0000-000000000000",
            "currencyCode": CURRENCY,
            "paymentTermsId": "00000000-0000-0000-0000-000000000000",
            "shipmentMethodId": "00000000-0000-0000-0000-000000000000",
            "paymentMethodId": "00000000-0000-0000-0000-000000000000",
            "blocked": " ",
        }
        record.update(fields)
        return record

    def item_defaults(self, fields: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "number": "",
            "displayName": "",
            "displayName2": "",
            "type": "Inventory",
            "itemCategoryId": "00000000-0000-0000-0000-000000000000",
            "itemCategoryCode": "",
            "blocked": False,
            "gtin": "",
            "inventory": Decimal(0),
            "unitPrice": Decimal(0),
            "priceIncludesTax": False,
            # learn: api-reference/v2.0/resources/dynamics_item: unitCost, the item's cost (decimal); an item
            # nobody costed has 0.
            "unitCost": Decimal(0),
            "taxGroupId": "00000000-0000-0000-0000-000000000000",
            "taxGroupCode": "",
            "baseUnitOfMeasureId": "00000000-0000-0000-0000-000000000000",
            "baseUnitOfMeasureCode": "PCS",
        }
        record.update(fields)
        return record

    def post_ledger(
        self,
        item: dict[str, Any],
        quantity: Decimal,
        entry_type: str,
        *,
        document: str = "",
        at: datetime | None = None,
    ) -> None:
        """An item ledger entry. ``items.inventory`` is a FlowField summing these (learn: api-reference/
        v2.0/resources/dynamics_item: inventory is read-only); posting one does not modify the Item row,
        so the item's lastModifiedDateTime stays (the entry has its own:
        learn: .../dynamics_itemledgerentry)."""
        self.counters["entry"] += 1
        self.insert(
            "itemLedgerEntries",
            {
                "entryNumber": self.counters["entry"],
                "itemNumber": item["number"],
                "postingDate": (at or self._stamp()).date(),
                "entryType": entry_type,
                "sourceNumber": "",
                "sourceType": " ",
                "documentNumber": document,
                "documentType": " ",
                "description": "",
                "quantity": quantity,
                "salesAmountActual": Decimal(0),
                "costAmountActual": Decimal(0),
            },
            at=at,
        )
        item["inventory"] = item["inventory"] + quantity

    # -- validation shared by customers, items and orders ------------------------------------------------
    @staticmethod
    def check_lengths(body: dict[str, Any]) -> None:
        for field, limit in MAX_LENGTHS.items():
            value = body.get(field)
            if isinstance(value, str) and len(value) > limit:
                # learn: webservices/dynamics-error-codes — Application_StringExceededLength.
                raise ODataError(
                    400,
                    "Application_StringExceededLength",
                    f"The length of the string is {len(value)}, but it must be less than or equal to "
                    f"{limit} characters. Value: {value}",
                )

    @staticmethod
    def check_writable(entity_set: str, body: dict[str, Any]) -> None:
        allowed = WRITABLE.get(entity_set, set())
        for field in body:
            if field.startswith("@odata"):
                continue
            if field not in allowed:
                # Read-only fields (status, totals, inventory, lastModifiedDateTime, id) cannot be set: fact
                # sheet §2 (status "read-only") and §8.9. BC's exact code for this refusal is unconfirmed
                # in the docs; the safer behaviour is to refuse rather than ignore.
                raise ODataError(400, "BadRequest", f"The property '{field}' cannot be modified.")

    def customer_of(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("customerId"):
            customer = self.tables["customers"].get(str(body["customerId"]).lower())
            if customer is None:
                raise ODataError(
                    400,
                    "Internal_RecordNotFound",
                    f"The customer with id {body['customerId']} does not exist.",
                )
            return customer
        if body.get("customerNumber"):
            customer = self.by_field("customers", "number", body["customerNumber"])
            if customer is None:
                raise ODataError(
                    400, "Internal_RecordNotFound", f"The customer {body['customerNumber']} does not exist."
                )
            return customer
        # APIV2SalesOrders.Page.al (microsoft/ALAppExtensions): a new order needs customerNumber or
        # customerId, else an error dialog (Application_DialogException).
        raise ODataError(400, "Application_DialogException", "Provide a customerNumber or a customerId.")

    # -- customers, items --------------------------------------------------------------------------------
    def create_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        self.check_writable("customers", body)
        self.check_lengths(body)
        if not body.get("number"):
            body["number"] = f"C{len(self.tables['customers']) + 10000:05d}"
        if self.by_field("customers", "number", body["number"]):
            # learn: webservices/dynamics-error-codes — Internal_EntityWithSameKeyExists.
            raise ODataError(
                400,
                "Internal_EntityWithSameKeyExists",
                f"The record in table Customer already exists. No.='{body['number']}'",
            )
        self._check_customer_fields(body)
        return self.insert("customers", self.customer_defaults(body))

    def _check_customer_fields(self, body: dict[str, Any]) -> None:
        if "blocked" in body and body["blocked"] not in BLOCKED_VALUES:
            raise ODataError(400, "BadRequest", f"'{body['blocked']}' is not a valid value for blocked.")
        if body.get("paymentTermsId") and body["paymentTermsId"] not in self.tables["paymentTerms"]:
            raise ODataError(400, "Internal_RecordNotFound", "The payment terms do not exist.")
        email = body.get("email")
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            # Customer.E-Mail is validated on input (MailManagement.CheckValidEmailAddresses).
            raise ODataError(
                400, "Application_FieldValidationException", f'The email address "{email}" is not valid.'
            )

    def update(self, entity_set: str, record: dict[str, Any], body: dict[str, Any]) -> None:
        self.check_writable(entity_set, body)
        self.check_lengths(body)
        if entity_set == "customers":
            self._check_customer_fields(body)
        if entity_set == "salesOrders":
            body.pop("salesOrderLines", None)
            if record["status"] == "Open":
                # A released order's header is not edited until it is reopened (Sales Header.Status must be
                # Open, i.e. API "Draft": TestField on the header's fields; fact sheet §2 status mapping).
                raise ODataError(
                    400,
                    "Application_FieldValidationException",
                    "Status must be equal to 'Open' in Sales Header.",
                )
        record.update(body)
        self.touch(entity_set, record)

    # -- sales orders -------------------------------------------------------------------------------------
    def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        self.check_writable("salesOrders", body)
        self.check_lengths(body)
        customer = self.customer_of(body)
        if customer["blocked"] != " ":
            # learn: (business-central) receivables-how-block-customers — Ship, Invoice and All each stop new
            # orders for the customer. Fact sheet §3: the API answers 400 Application_*; the exact message is
            # unconfirmed.
            raise ODataError(
                400,
                "Application_DialogException",
                f"You cannot create this type of document when Customer {customer['number']} is blocked "
                f"with type {customer['blocked']}.",
            )
        # externalDocumentNumber is not unique: BC does not refuse a second order with the same one (fact
        # sheet §5: unconfirmed in the docs; the safer assumption for a client, which must look up first).
        # Credit limit: never checked here. BCApps Cust-Check Cr. Limit only notifies, and only when
        # GuiAllowed; API sessions get neither a warning nor a block (fact sheet §3).
        lines = body.pop("salesOrderLines", None) or []
        self.counters["order"] += 1
        today = self._stamp().date()
        order = {
            "id": new_id(),
            "number": body.pop("number", None) or f"S-ORD{self.counters['order']}",
            "externalDocumentNumber": "",
            "orderDate": today,
            "postingDate": today,
            "customerId": customer["id"],
            "customerNumber": customer["number"],
            "customerName": customer["displayName"],
            "billToName": customer["displayName"],
            "billToCustomerId": customer["id"],
            "billToCustomerNumber": customer["number"],
            "shipToName": customer["displayName"],
            "shipToContact": "",
            "sellToAddressLine1": customer["addressLine1"],
            "sellToCity": customer["city"],
            "sellToState": customer["state"],
            "sellToCountry": customer["country"],
            "sellToPostCode": customer["postalCode"],
            "shipToAddressLine1": customer["addressLine1"],
            "shipToAddressLine2": customer["addressLine2"],
            "shipToCity": customer["city"],
            "shipToState": customer["state"],
            "shipToCountry": customer["country"],
            "shipToPostCode": customer["postalCode"],
            "currencyId": "00000000-0000-0000-0000-000000000000",
            "currencyCode": CURRENCY,
            "pricesIncludeTax": False,
            "paymentTermsId": customer["paymentTermsId"],
            "shipmentMethodId": "00000000-0000-0000-0000-000000000000",
            "salesperson": "",
            "partialShipping": True,
            "requestedDeliveryDate": None,
            "discountAmount": Decimal(0),
            "discountAppliedBeforeTax": True,
            "totalAmountExcludingTax": Decimal(0),
            "totalTaxAmount": Decimal(0),
            "totalAmountIncludingTax": Decimal(0),
            "fullyShipped": False,
            # A new order is "Draft" (Sales Header.Status Open); "Open" means released, "In Review" pending
            # approval (Graph Mgt - Sales Order Buffer, SetStatusOptionFromSalesHeader; fact sheet §2).
            "status": "Draft",
            "phoneNumber": "",
            "email": "",
            "_lines": [],
        }
        body.pop("customerId", None)
        body.pop("customerNumber", None)
        order.update(body)
        # Deep insert (learn: api-reference/v2.0/dynamics-rate-limits, fact sheet §5): the lines come in the
        # same request; a refused line refuses the whole order (one transaction).
        for line in lines:
            self.add_line(order, line, touch=False)
        self.tables["salesOrders"][order["id"]] = order
        self._totals(order)
        self.touch("salesOrders", order)
        return order

    def add_line(self, order: dict[str, Any], body: dict[str, Any], *, touch: bool = True) -> dict[str, Any]:
        self.check_writable("salesOrderLines", body)
        if order["status"] == "Open":
            raise ODataError(
                400, "Application_FieldValidationException", "Status must be equal to 'Open' in Sales Header."
            )
        item = None
        if body.get("itemId"):
            item = self.tables["items"].get(str(body["itemId"]).lower())
            if item is None:
                raise ODataError(
                    400, "Internal_RecordNotFound", f"The item with id {body['itemId']} does not exist."
                )
        elif body.get("lineObjectNumber"):
            item = self.by_field("items", "number", body["lineObjectNumber"])
            if item is None:
                raise ODataError(
                    400, "Internal_RecordNotFound", f"The item {body['lineObjectNumber']} does not exist."
                )
        if item is None:
            raise ODataError(
                400, "Application_DialogException", "An item line needs an itemId or a lineObjectNumber."
            )
        if item["blocked"]:
            raise ODataError(
                400,
                "Application_FieldValidationException",
                f"Blocked must be equal to 'No' in Item: No.={item['number']}.",
            )
        quantity = Decimal(str(body.get("quantity", 0)))
        if quantity < 0:
            raise ODataError(400, "Application_FieldValidationException", "Quantity must be positive.")
        unit_price = Decimal(str(body["unitPrice"])) if "unitPrice" in body else item["unitPrice"]
        line = {
            "id": new_id(),
            "documentId": order["id"],
            "sequence": body.get("sequence") or 10000 * (len(order["_lines"]) + 1),
            "itemId": item["id"],
            "accountId": "00000000-0000-0000-0000-000000000000",
            "lineType": "Item",
            "lineObjectNumber": item["number"],
            "description": body.get("description") or item["displayName"],
            "unitOfMeasureCode": item["baseUnitOfMeasureCode"],
            "quantity": quantity,
            "unitPrice": unit_price,
            "discountAmount": Decimal(0),
            "discountPercent": Decimal(str(body.get("discountPercent", 0))),
            "amountExcludingTax": Decimal(0),
            "taxCode": "",
            "taxPercent": Decimal(0),
            "totalTaxAmount": Decimal(0),
            "amountIncludingTax": Decimal(0),
            "netAmount": Decimal(0),
            "shipmentDate": order["orderDate"],
            "shippedQuantity": Decimal(0),
            "invoicedQuantity": Decimal(0),
            "invoiceQuantity": quantity,
            "shipQuantity": quantity,
        }
        self._line_amounts(line)
        order["_lines"].append(line)
        if touch:
            self._totals(order)
            # Line changes notify (and stamp) the document header (learn: api-reference/v2.0/
            # dynamics-subscriptions; fact sheet §7).
            self.touch("salesOrders", order)
        return line

    @staticmethod
    def _line_amounts(line: dict[str, Any]) -> None:
        gross = line["quantity"] * line["unitPrice"]
        discount = money(gross * line["discountPercent"] / 100)
        line["discountAmount"] = discount
        line["amountExcludingTax"] = money(gross) - discount
        line["netAmount"] = line["amountExcludingTax"]
        line["amountIncludingTax"] = line["amountExcludingTax"]

    @staticmethod
    def _totals(document: dict[str, Any]) -> None:
        total = sum((line["amountExcludingTax"] for line in document["_lines"]), Decimal(0))
        document["totalAmountExcludingTax"] = total
        document["totalAmountIncludingTax"] = total
        document["totalTaxAmount"] = Decimal(0)

    def delete_order(self, order: dict[str, Any]) -> None:
        if any(line["shippedQuantity"] > line["invoicedQuantity"] for line in order["_lines"]):
            # Sales Line OnDelete: a line shipped but not invoiced cannot be deleted.
            raise ODataError(
                400,
                "Application_DialogException",
                f"You cannot delete order {order['number']} because it has lines shipped and not invoiced.",
            )
        self.delete("salesOrders", order["id"])

    # -- posting -----------------------------------------------------------------------------------------
    def post(self, order: dict[str, Any], *, ship: bool, invoice: bool) -> tuple[str | None, str | None]:
        """Post the order as BC's Sales-Post does: ship what is left to ship, invoice what is shipped and
        not invoiced; fully invoiced orders are deleted (fact sheet §3, §8.10). Returns the ids of the
        shipment and invoice made."""
        customer = self.tables["customers"][order["customerId"]]
        # learn: receivables-how-block-customers — Ship stops shipments; Invoice stops shipments and
        # invoices; All stops every transaction.
        if ship and customer["blocked"] in ("Ship", "Invoice", "All"):
            raise ODataError(
                400,
                "Application_DialogException",
                f"You cannot ship to Customer {customer['number']}: "
                f"it is blocked with type {customer['blocked']}.",
            )
        if invoice and customer["blocked"] in ("Invoice", "All"):
            raise ODataError(
                400,
                "Application_DialogException",
                f"You cannot invoice Customer {customer['number']}: "
                f"it is blocked with type {customer['blocked']}.",
            )
        if not order["_lines"]:
            raise ODataError(400, "Application_DialogException", "There is nothing to post.")
        when = self._stamp()
        order["status"] = "Open"  # posting releases the order first
        shipment_id = invoice_id = None
        if ship:
            shipped = [
                (line, line["quantity"] - line["shippedQuantity"])
                for line in order["_lines"]
                if line["quantity"] > line["shippedQuantity"]
            ]
            if shipped:
                shipment_id = self._post_shipment(order, shipped, when)
        if invoice:
            to_invoice = [
                (line, line["shippedQuantity"] - line["invoicedQuantity"])
                for line in order["_lines"]
                if line["shippedQuantity"] > line["invoicedQuantity"]
            ]
            if not to_invoice and not shipment_id:
                raise ODataError(400, "Application_DialogException", "There is nothing to post.")
            if to_invoice:
                invoice_id = self._post_invoice(order, to_invoice, when)
        order["fullyShipped"] = all(line["shippedQuantity"] >= line["quantity"] for line in order["_lines"])
        if all(line["invoicedQuantity"] >= line["quantity"] for line in order["_lines"]):
            # Sales-Post deletes an order once it is completely shipped and invoiced (fact sheet §3: found
            # afterwards through salesInvoices?$filter=orderNumber eq '…').
            self.delete("salesOrders", order["id"])
        else:
            self.touch("salesOrders", order, at=when)
        return shipment_id, invoice_id

    def _post_shipment(
        self, order: dict[str, Any], lines: list[tuple[dict[str, Any], Decimal]], when: datetime
    ) -> str:
        self.counters["shipment"] += 1
        number = f"S-SHPT{self.counters['shipment']}"
        shipment = {
            "number": number,
            "externalDocumentNumber": order["externalDocumentNumber"],
            "customerPurchaseOrderReference": order["externalDocumentNumber"],
            "orderNumber": order["number"],
            "invoiceDate": None,
            "postingDate": when.date(),
            "customerId": order["customerId"],
            "customerNumber": order["customerNumber"],
            "customerName": order["customerName"],
            "shipToName": order["shipToName"],
            "shipToAddressLine1": order["shipToAddressLine1"],
            "shipToCity": order["shipToCity"],
            "shipToState": order["shipToState"],
            "shipToCountry": order["shipToCountry"],
            "shipToPostCode": order["shipToPostCode"],
            "currencyCode": CURRENCY,
            "_lines": [],
        }
        for line, quantity in lines:
            item = self.tables["items"][line["itemId"]]
            line["shippedQuantity"] += quantity
            line["shipQuantity"] = line["quantity"] - line["shippedQuantity"]
            self.post_ledger(item, -quantity, "Sale", document=number, at=when)
            shipment["_lines"].append(
                {
                    "id": new_id(),
                    "documentId": "",
                    "sequence": line["sequence"],
                    "lineType": "Item",
                    "lineObjectNumber": line["lineObjectNumber"],
                    "description": line["description"],
                    "quantity": quantity,
                    "unitPrice": line["unitPrice"],
                }
            )
        self.insert("salesShipments", shipment, at=when)
        for shipment_line in shipment["_lines"]:
            shipment_line["documentId"] = shipment["id"]
        return shipment["id"]

    def _post_invoice(
        self, order: dict[str, Any], lines: list[tuple[dict[str, Any], Decimal]], when: datetime
    ) -> str:
        self.counters["invoice"] += 1
        customer = self.tables["customers"][order["customerId"]]
        term = self.tables["paymentTerms"].get(order["paymentTermsId"])
        posted = when.date()
        invoice = {
            "number": f"S-INV{self.counters['invoice']}",
            "externalDocumentNumber": order["externalDocumentNumber"],
            "invoiceDate": posted,
            "postingDate": posted,
            "dueDate": add_formula(posted, term["dueDateCalculation"] if term else "0D"),
            "customerPurchaseOrderReference": order["externalDocumentNumber"],
            "customerId": customer["id"],
            "customerNumber": customer["number"],
            "customerName": customer["displayName"],
            "orderId": order["id"],
            "orderNumber": order["number"],
            "paymentTermsId": order["paymentTermsId"],
            "currencyCode": CURRENCY,
            "pricesIncludeTax": False,
            "discountAmount": Decimal(0),
            "totalAmountExcludingTax": Decimal(0),
            "totalTaxAmount": Decimal(0),
            "totalAmountIncludingTax": Decimal(0),
            "remainingAmount": Decimal(0),
            # learn: .../dynamics_salesinvoice: " ", Draft, In Review, Open, Paid, Canceled, Corrective.
            "status": "Open",
            "_lines": [],
        }
        for line, quantity in lines:
            line["invoicedQuantity"] += quantity
            line["invoiceQuantity"] = line["quantity"] - line["invoicedQuantity"]
            invoice_line = {
                "id": new_id(),
                "documentId": "",
                "sequence": line["sequence"],
                "itemId": line["itemId"],
                "lineType": "Item",
                "lineObjectNumber": line["lineObjectNumber"],
                "description": line["description"],
                "quantity": quantity,
                "unitPrice": line["unitPrice"],
                "discountPercent": line["discountPercent"],
            }
            self._line_amounts(invoice_line)
            invoice["_lines"].append(invoice_line)
        self._totals(invoice)
        invoice["remainingAmount"] = invoice["totalAmountIncludingTax"]
        self.insert("salesInvoices", invoice, at=when)
        for invoice_line in invoice["_lines"]:
            invoice_line["documentId"] = invoice["id"]
        return invoice["id"]

    def pay(self, invoice: dict[str, Any], amount: Decimal, *, at: datetime | None = None) -> None:
        """A payment applied to the invoice: remainingAmount falls, status Open → Paid at zero (learn:
        .../dynamics_salesinvoice; amount paid = total - remaining, fact sheet §2)."""
        if amount <= 0 or amount > invoice["remainingAmount"]:
            raise ValueError(f"cannot apply {amount} to an invoice with {invoice['remainingAmount']} left")
        invoice["remainingAmount"] -= amount
        if invoice["remainingAmount"] == 0:
            invoice["status"] = "Paid"
        self.touch("salesInvoices", invoice, at=at)

    def credit_memo(self, invoice: dict[str, Any], amount: Decimal) -> dict[str, Any]:
        """A posted credit memo applied to ``invoice``. Credit memos have no remainingAmount (learn:
        .../dynamics_salescreditmemo): applied in full, the memo is closed ("Paid")."""
        if amount <= 0 or amount > invoice["remainingAmount"]:
            raise ValueError("a credit memo applies at most what the invoice has left")
        self.counters["memo"] += 1
        when = self._stamp()
        memo = {
            "number": f"S-CR{self.counters['memo']}",
            "externalDocumentNumber": invoice["externalDocumentNumber"],
            "creditMemoDate": when.date(),
            "postingDate": when.date(),
            "dueDate": when.date(),
            "customerId": invoice["customerId"],
            "customerNumber": invoice["customerNumber"],
            "customerName": invoice["customerName"],
            "currencyCode": CURRENCY,
            "pricesIncludeTax": False,
            "discountAmount": Decimal(0),
            "totalAmountExcludingTax": amount,
            "totalTaxAmount": Decimal(0),
            "totalAmountIncludingTax": amount,
            "status": "Paid",
            "invoiceId": invoice["id"],
            "invoiceNumber": invoice["number"],
            "customerReturnReasonId": "00000000-0000-0000-0000-000000000000",
            "_lines": [],
        }
        self.insert("salesCreditMemos", memo, at=when)
        invoice["remainingAmount"] -= amount
        if invoice["remainingAmount"] == 0:
            invoice["status"] = "Paid"
        self.touch("salesInvoices", invoice, at=when)
        return memo

    def customer_credit_memo(self, customer: dict[str, Any], amount: Decimal) -> dict[str, Any]:
        """A posted credit memo for the customer applied to no invoice (an allowance, a return): its
        customer ledger entry stays open, so its status is "Open" until a refund closes it. Its totals are
        positive, as BC keeps a credit memo's (learn: .../dynamics_salescreditmemo)."""
        if amount <= 0:
            raise ValueError("a credit memo credits a positive amount")
        self.counters["memo"] += 1
        when = self._stamp()
        amount = money(amount)
        memo = {
            "number": f"S-CR{self.counters['memo']}",
            "externalDocumentNumber": "",
            "creditMemoDate": when.date(),
            "postingDate": when.date(),
            "dueDate": when.date(),
            "customerId": customer["id"],
            "customerNumber": customer["number"],
            "customerName": customer["displayName"],
            "currencyCode": CURRENCY,
            "pricesIncludeTax": False,
            "discountAmount": Decimal(0),
            "totalAmountExcludingTax": amount,
            "totalTaxAmount": Decimal(0),
            "totalAmountIncludingTax": amount,
            # learn: .../dynamics_salescreditmemo — status Draft, In Review, Open, Canceled, Corrective, Paid.
            "status": "Open",
            "invoiceId": "00000000-0000-0000-0000-000000000000",
            "invoiceNumber": "",
            "customerReturnReasonId": "00000000-0000-0000-0000-000000000000",
            "_refunded": Decimal(0),  # the simulator's own: what refunds have closed of the memo
            "_lines": [],
        }
        return self.insert("salesCreditMemos", memo, at=when)

    def refund(self, memo: dict[str, Any], amount: Decimal) -> None:
        """A refund payment applied to the credit memo's open ledger entry. The API shows no part of it:
        credit memos have no remainingAmount in v2.0 (learn: .../dynamics_salescreditmemo; fact sheet §2,
        checklist item 12), so a partial refund leaves the memo as it was ("Open", not re-stamped); the
        refund that closes it makes it "Paid"."""
        # A memo applied to an invoice (``credit_memo``) is closed already: nothing is left to refund.
        left = memo["totalAmountIncludingTax"] - memo["_refunded"] if memo["status"] == "Open" else 0
        if amount <= 0 or amount > left:
            raise ValueError(f"cannot refund {amount} of a credit memo with {left} open")
        memo["_refunded"] += amount
        if memo["_refunded"] == memo["totalAmountIncludingTax"]:
            memo["status"] = "Paid"
            self.touch("salesCreditMemos", memo)

    def snapshot(self) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, int]]:
        return copy.deepcopy(self.tables), dict(self.counters)

    def restore(self, saved: tuple[dict[str, dict[str, dict[str, Any]]], dict[str, int]]) -> None:
        self.tables, self.counters = saved


def etag(record: dict[str, Any]) -> str:
    """A weak ETag that changes with every write (fact sheet §2: ``W/"JzQ0O…"``)."""
    token = base64.b64encode(f"'{record['id']};{record.get('_version', 0)};'".encode()).decode()
    return f'W/"{token}"'
