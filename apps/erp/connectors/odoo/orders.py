"""Orders: portal orders pushed as ``sale.order`` exactly once (``client_order_ref`` = the PO number) and
confirmed, cancelled without the interactive wizard, and their states pulled back from the order, its
deliveries and its invoices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from apps.erp.connectors.base import (
    AddressRecord,
    Cursor,
    ErpBusinessError,
    OrderCancel,
    OrderCancelResult,
    OrderPush,
    OrderPushResult,
    OrderStateRecord,
    Page,
    QuotePush,
    QuotePushResult,
    ReconcileRecord,
    order_reconcile_record,
)
from apps.erp.connectors.odoo.client import OdooClient
from apps.erp.connectors.odoo.common import (
    EVERY,
    after_id,
    any_match,
    changed_after,
    changed_since,
    decimal,
    erp_id,
    id_page,
    many2one,
    stamp,
    text,
)
from apps.erp.connectors.odoo.customers import OdooCustomers

OrderKey = tuple[str, str]  # (customer erp id, PO number stripped)

# The orders the streams read: those with a customer reference (the portal's orders).
WITH_REFERENCE: list[Any] = [["client_order_ref", "!=", False]]
# A delivery validated or an invoice posted or paid may leave the order's own write_date alone (a
# payment never writes the order): their write_date reaches the order pull too.
ORDER_PATHS = ("picking_ids", "invoice_ids")
ORDER_FIELDS = [
    "name",
    "client_order_ref",
    "partner_id",
    "state",
    "locked",
    "delivery_status",
    "invoice_status",
    "picking_ids",
    "invoice_ids",
    "write_date",
]
MOVE_FIELDS = ["move_type", "state", "payment_state", "amount_total", "amount_residual", "write_date"]
PAID = frozenset({"paid", "in_payment", "reversed"})
# The portal's wording of a sale's state (base.OrderStateRecord), by Odoo state.
_STATES = {"draft": "quotation", "sent": "quotation", "sale": "confirmed", "cancel": "cancelled"}
_SHIPMENT = {
    "pending": "waiting",
    "started": "partially shipped",
    "partial": "partially shipped",
    "full": "sent",
}


class OdooOrders:
    def __init__(self, client: OdooClient, customers: OdooCustomers) -> None:
        self.client = client
        self.customers = customers

    # -- push ----------------------------------------------------------------------------------------------
    def push_orders(self, orders: Sequence[OrderPush]) -> list[OrderPushResult]:
        """Make each order a ``sale.order`` exactly once and confirm it. Results in the input order.

        Exactly once: Odoo does not keep ``client_order_ref`` unique, so the connector looks first: one
        ``search_read`` (``client_order_ref in [...]``, ``partner_id in [...]``, every state) finds the
        orders of earlier attempts by (customer, PO number), the lowest id winning; those come back with
        ``created=False``, and a quotation among them is confirmed. The rest are created in ONE
        ``create`` (all or none; refused as a batch, they are created one by one so only the refused
        ones fail): customer, delivery address, ``client_order_ref``, ``commitment_date`` (the requested
        date, when not past), ``note``, and per line product, quantity and ``price_unit`` = the frozen
        price (the pricelist is not asked). Unknown customers and products are reported without asking
        Odoo to create.

        Ship-to: ``ship_to.erp_id`` when it is the customer or one of its contacts; otherwise a delivery
        contact of the customer with the same street, postal code and city (whitespace and case ignored),
        else a new delivery contact (one ``create`` for all). A retry finds the one made before.

        Then ONE ``action_confirm`` for every quotation (one by one when refused). Odoo never refuses a
        confirmation for credit: it only shows ``partner_credit_warning`` (``credit_refused`` stays
        False; ``accept_credit_warning`` has nothing to accept). Transient errors propagate: a retry of
        the same push is safe because of the look-up."""
        unique: dict[OrderKey, OrderPush] = {}
        for order in orders:
            unique.setdefault(_order_key(order), order)
        keys, partners, errors = self._checked(list(unique))

        found = self._find(keys)
        errors.update(self._take_over_quotations(unique, found, partners))
        sale_ids = {key: row["id"] for key, row in found.items()}
        missing = [key for key in keys if key not in found and key not in errors]
        created, create_errors = self._create([unique[key] for key in missing], partners)
        errors.update(create_errors)
        sale_ids.update(created)
        states = {key: row["state"] for key, row in found.items()} | dict.fromkeys(created, "draft")

        to_confirm = [sale_ids[key] for key in sale_ids if states[key] in ("draft", "sent")]
        by_sale = {sale_id: key for key, sale_id in sale_ids.items()}
        for sale_id, error in self._each("action_confirm", to_confirm).items():
            errors[by_sale[sale_id]] = error

        final = (
            {
                row["id"]: row
                for row in self.client.call(
                    "sale.order", "read", ids=sorted(by_sale), fields=["name", "state"]
                )
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
                    number=text(sale.get("name")),
                    state=_STATES.get(sale.get("state") or "", "") if sale else "",
                    created=key in created,
                    error=errors.get(key, ""),
                )
            )
        return results

    def push_quotes(self, quotes: Sequence[QuotePush]) -> list[QuotePushResult]:
        """Keep each offered quote as ONE ``sale.order`` quotation (draft) at the offered prices, found by
        (customer, ``client_order_ref`` = the quote number) before creating, like an order. A draft or
        sent one gets its lines replaced (one ``write``: the old lines deleted, the new created); one
        confirmed or cancelled is refused, unchanged. The rest are created in one ``create`` and left in
        draft (no ``action_confirm``). Results in the input order."""
        unique: dict[OrderKey, QuotePush] = {}
        for quote in quotes:
            unique.setdefault(_order_key(quote), quote)
        keys, partners, errors = self._checked(list(unique))
        found = self._find(keys)
        for key, row in found.items():
            if row["state"] not in ("draft", "sent"):
                errors[key] = (
                    f"Odoo's order {row['id']} is {_STATES.get(row['state'], row['state'])} already."
                )
        errors.update(
            self._rewrite({key: row for key, row in found.items() if key not in errors}, unique, partners)
        )
        missing = [key for key in keys if key not in found and key not in errors]
        created, create_errors = self._create([unique[key] for key in missing], partners)
        errors.update(create_errors)
        ids = sorted({row["id"] for row in found.values()} | set(created.values()))
        final = (
            {
                row["id"]: row
                for row in self.client.call("sale.order", "read", ids=ids, fields=["name", "state"])
            }
            if ids
            else {}
        )
        results = []
        for quote in quotes:
            key = _order_key(quote)
            sale = final.get(created.get(key) or found.get(key, {}).get("id", 0), {})
            results.append(
                QuotePushResult(
                    reference=quote.reference,
                    customer_erp_id=quote.customer_erp_id,
                    erp_id=str(sale["id"]) if sale else "",
                    number=text(sale.get("name")),
                    state=_STATES.get(sale.get("state") or "", "") if sale else "",
                    created=key in created,
                    error=errors.get(key, ""),
                )
            )
        return results

    def _checked(
        self, keys: list[OrderKey]
    ) -> tuple[list[OrderKey], dict[int, dict[str, Any]], dict[OrderKey, str]]:
        """The keys that can be pushed, their customers, and the errors of the others."""
        errors: dict[OrderKey, str] = {}
        for key in keys:
            if not key[1]:
                errors[key] = "An order needs a reference (the PO number) to be pushed to Odoo."
            elif erp_id(key[0]) is None:
                errors[key] = f"The customer id {key[0]!r} is not an Odoo partner id."
        keys = [key for key in keys if key not in errors]
        partners = self._partners({int(customer) for customer, _ in keys})
        for key in keys:
            if int(key[0]) not in partners:
                errors[key] = f"Odoo has no customer with id {key[0]}."
        return [key for key in keys if key not in errors], partners, errors

    def _take_over_quotations(
        self,
        orders: dict[OrderKey, OrderPush],
        found: dict[OrderKey, dict[str, Any]],
        partners: dict[int, dict[str, Any]],
    ) -> dict[OrderKey, str]:
        """Orders accepted from a quote (``quotation_reference``): an order with no ``sale.order`` of its
        own takes its quotation (same customer, ``client_order_ref`` = the quote number) when that is a
        draft or sent one; its order, found either way and still a quotation, is rewritten with the
        order's reference, lines, delivery address and note and added to ``found`` (in place), so the
        push confirms it like any. Errors by key."""
        wanted = {
            key: (key[0], order.quotation_reference.strip())
            for key, order in orders.items()
            if order.quotation_reference.strip() and key[1] and key[0].isdigit()
        }
        if not wanted:
            return {}
        quotations = self._find(sorted({wanted[key] for key in wanted if key not in found}))
        sales: dict[OrderKey, dict[str, Any]] = {}
        for key, quotation in wanted.items():
            row = found.get(key) or quotations.get(quotation)
            if row is not None and row["state"] in ("draft", "sent"):
                sales[key] = row
        errors = self._rewrite(sales, orders, partners)
        for key, row in sales.items():
            if key not in errors:
                found[key] = row
        return errors

    def _rewrite(
        self,
        sales: dict[OrderKey, dict[str, Any]],
        pushes: dict[OrderKey, OrderPush] | dict[OrderKey, QuotePush],
        partners: dict[int, dict[str, Any]],
    ) -> dict[OrderKey, str]:
        """Write each push on its quotation (a row with ``id``), one ``write`` per order: reference,
        delivery address, note, commitment date (orders) and the lines replaced. Errors by key."""
        if not sales:
            return {}
        errors = self._unknown_products([pushes[key] for key in sales])
        ready = {key: row for key, row in sales.items() if key not in errors}
        ship_to = self._ship_to([pushes[key] for key in ready], partners)
        for key, row in ready.items():
            push = pushes[key]
            values = {
                **_order_values(push, ship_to[key]),
                "order_line": [*([2, line] for line in row["order_line"]), *_line_commands(push)],
            }
            try:
                self.client.call("sale.order", "write", ids=[row["id"]], vals=values)
            except ErpBusinessError as exc:
                errors[key] = exc.message
        return errors

    def _unknown_products(self, orders: Sequence[OrderPush | QuotePush]) -> dict[OrderKey, str]:
        errors: dict[OrderKey, str] = {}
        wanted = {erp_id(line.product_erp_id) for order in orders for line in order.lines} - {None}
        known = set(
            self.client.call(
                "product.product", "search", domain=[["id", "in", sorted(wanted)]], context=EVERY
            )
            if wanted
            else []
        )
        for order in orders:
            unknown = [
                line.product_erp_id for line in order.lines if erp_id(line.product_erp_id) not in known
            ]
            if unknown:
                errors[_order_key(order)] = f"Odoo has no product with id {', '.join(unknown)}."
            elif not order.lines:
                errors[_order_key(order)] = "An order without lines cannot be pushed to Odoo."
        return errors

    def _partners(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        rows = self.client.call(
            "res.partner",
            "search_read",
            domain=[["id", "in", sorted(ids)], ["parent_id", "=", False]],
            fields=["child_ids"],
            context=EVERY,
        )
        return {row["id"]: row for row in rows}

    def _find(self, keys: list[OrderKey]) -> dict[OrderKey, dict[str, Any]]:
        if not keys:
            return {}
        rows = self.client.call(
            "sale.order",
            "search_read",
            domain=[
                ["client_order_ref", "in", sorted({reference for _, reference in keys})],
                ["partner_id", "in", sorted({int(customer) for customer, _ in keys})],
            ],
            fields=["partner_id", "client_order_ref", "state", "locked", "order_line"],
            order="id asc",
        )
        wanted = set(keys)
        found: dict[OrderKey, dict[str, Any]] = {}
        for row in rows:
            key = (str(many2one(row["partner_id"])), text(row["client_order_ref"]).strip())
            if key in wanted:
                found.setdefault(key, row)
        return found

    def _create(
        self, orders: Sequence[OrderPush | QuotePush], partners: dict[int, dict[str, Any]]
    ) -> tuple[dict[OrderKey, int], dict[OrderKey, str]]:
        if not orders:
            return {}, {}
        errors = self._unknown_products(orders)
        orders = [order for order in orders if _order_key(order) not in errors]
        if not orders:
            return {}, errors
        ship_to = self._ship_to(orders, partners)
        values = [
            {
                "partner_id": int(order.customer_erp_id),
                **_order_values(order, ship_to[_order_key(order)]),
                "order_line": _line_commands(order),
            }
            for order in orders
        ]
        created: dict[OrderKey, int] = {}
        try:
            ids = self.client.call("sale.order", "create", vals_list=values)
            created = {_order_key(order): int(new_id) for order, new_id in zip(orders, ids, strict=True)}
        except ErpBusinessError:
            if len(values) == 1:
                raise
            for order, value in zip(orders, values, strict=True):
                try:
                    (new_id,) = self.client.call("sale.order", "create", vals_list=[value])
                except ErpBusinessError as exc:
                    errors[_order_key(order)] = exc.message
                else:
                    created[_order_key(order)] = int(new_id)
        return created, errors

    def _ship_to(
        self, orders: Sequence[OrderPush | QuotePush], partners: dict[int, dict[str, Any]]
    ) -> dict[OrderKey, int]:
        """The delivery partner of each order, creating the delivery contacts Odoo lacks (one call)."""
        child_ids = sorted(
            {child for order in orders for child in partners[int(order.customer_erp_id)]["child_ids"]}
        )
        children = (
            self.client.call(
                "res.partner", "read", ids=child_ids, fields=["parent_id", "type", "street", "zip", "city"]
            )
            if child_ids
            else []
        )
        by_address: dict[tuple[str, ...], int] = {}
        for child in children:
            if child["type"] == "delivery":
                parent = many2one(child["parent_id"]) or 0
                by_address.setdefault(
                    _address_key(parent, child["street"], child["zip"], child["city"]), child["id"]
                )
        result: dict[OrderKey, int] = {}
        to_make: dict[tuple[str, ...], tuple[int, AddressRecord]] = {}
        for order in orders:
            customer = int(order.customer_erp_id)
            own = {customer, *partners[customer]["child_ids"]}
            given = erp_id(order.ship_to.erp_id)
            if given is not None and given in own:
                result[_order_key(order)] = given
                continue
            address = order.ship_to
            key = _address_key(customer, address.street, address.postal_code, address.city)
            if key in by_address:
                result[_order_key(order)] = by_address[key]
            else:
                to_make.setdefault(key, (customer, address))
        if to_make:
            countries = self.customers.country_ids()
            made = self.client.call(
                "res.partner",
                "create",
                vals_list=[
                    {
                        "parent_id": customer,
                        "type": "delivery",
                        **self.customers.address_values(address, countries),
                    }
                    for customer, address in to_make.values()
                ],
            )
            by_address.update(dict(zip(to_make, made, strict=True)))
            for order in orders:
                if _order_key(order) not in result:
                    address = order.ship_to
                    key = _address_key(
                        int(order.customer_erp_id), address.street, address.postal_code, address.city
                    )
                    result[_order_key(order)] = by_address[key]
        return result

    def _each(self, method: str, ids: list[int], context: dict[str, Any] | None = None) -> dict[int, str]:
        """Run a business method on ``ids`` in one call; refused as a batch, one by one: the errors by id."""
        if not ids:
            return {}
        try:
            self.client.call("sale.order", method, ids=ids, context=context)
            return {}
        except ErpBusinessError as exc:
            if len(ids) == 1:
                return {ids[0]: exc.message}
        errors: dict[int, str] = {}
        for sale_id in ids:
            try:
                self.client.call("sale.order", method, ids=[sale_id], context=context)
            except ErpBusinessError as exc:
                errors[sale_id] = exc.message
        return errors

    # -- cancel --------------------------------------------------------------------------------------------
    def cancel_orders(self, orders: Sequence[OrderCancel]) -> list[OrderCancelResult]:
        """Cancel the quotations of orders the portal refused after Odoo had them (``Capabilities.cancel``
        "cancel": the order stays, cancelled). One ``action_cancel`` with context
        ``disable_cancel_warning`` (a sent quotation would otherwise get the interactive cancel wizard,
        an action to open, and stay as it is); one by one when refused. A cancelled order is left as it
        is; a confirmed one is reported for a person (it may be in the warehouse already); a locked one
        too, naming the unlock it needs. An order Odoo does not have has nothing to cancel."""
        keys = [_order_key(order) for order in orders]
        found = self._find([key for key in keys if erp_id(key[0]) is not None and key[1]])
        states = {key: _STATES.get(row["state"], row["state"]) for key, row in found.items()}
        errors: dict[OrderKey, str] = {}
        cancellable = {
            row["id"]: key
            for key, row in found.items()
            if row["state"] in ("draft", "sent") and not row["locked"]
        }
        refused = self._each("action_cancel", sorted(cancellable), {"disable_cancel_warning": True})
        # action_cancel answers a wizard (and cancels nothing) when it wants a person's confirmation:
        # what it did is read back, not assumed.
        done = (
            {
                row["id"]: row["state"]
                for row in self.client.call("sale.order", "read", ids=sorted(cancellable), fields=["state"])
            }
            if cancellable
            else {}
        )
        for sale_id, key in cancellable.items():
            states[key] = _STATES.get(done.get(sale_id, ""), states[key])
            if sale_id in refused:
                errors[key] = refused[sale_id]
            elif done.get(sale_id) != "cancel":
                errors[key] = "Odoo did not cancel the order (it asks for a confirmation): cancel it in Odoo."
        for key, row in found.items():
            if row["locked"] and row["state"] != "cancel":
                errors[key] = (
                    "The Odoo order is locked; a person must unlock it (Unlock) and cancel it in Odoo if it "
                    "must not go on."
                )
            elif row["state"] == "sale":
                errors[key] = "The Odoo order is confirmed; cancel it in Odoo if it must not go on."
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

    # -- states --------------------------------------------------------------------------------------------
    def orders_changed(self, since: datetime | None) -> bool:
        return any_match(self.client, "sale.order", [*changed_after(since, *ORDER_PATHS), *WITH_REFERENCE])

    def pull_orders(self, cursor: Cursor, limit: int) -> Page[OrderStateRecord]:
        """Orders with a customer reference written since the cursor, or whose deliveries or invoices
        were (a payment writes only the invoice), by id; two more reads per page (their deliveries'
        and invoices' stamps and amounts)."""
        domain = [
            *changed_since(cursor.since, *ORDER_PATHS),
            ["id", ">", after_id(cursor.after)],
            *WITH_REFERENCE,
        ]
        rows = self.client.call(
            "sale.order", "search_read", domain=domain, fields=ORDER_FIELDS, limit=limit, order="id asc"
        )
        return id_page(self._records(rows), rows, cursor.after, limit)

    def reconcile_orders(self, after: str, limit: int, ids: list[int] | None = None) -> Page[ReconcileRecord]:
        """Every order with a customer reference, cancelled ones included, by id. ``reference`` is
        ``"<customer id>:<PO number>"`` (two orders of one portal order show as one reference twice);
        ``lines``: product, quantity, unit price of the lines with a product; ``total``: untaxed."""
        domain: list[Any] = [["id", ">", after_id(after)], *WITH_REFERENCE]
        if ids is not None:
            domain.append(["id", "in", ids])
        rows = self.client.call(
            "sale.order",
            "search_read",
            domain=domain,
            fields=[*ORDER_FIELDS, "amount_untaxed"],
            limit=limit or None,
            order="id asc",
        )
        lines: dict[int, list[dict[str, Any]]] = {}
        if rows:
            for line in self.client.call(
                "sale.order.line",
                "search_read",
                domain=[["order_id", "in", [row["id"] for row in rows]]],
                fields=["order_id", "product_id", "product_uom_qty", "price_unit"],
                order="id asc",
            ):
                lines.setdefault(many2one(line["order_id"]) or 0, []).append(line)
        records = [
            order_reconcile_record(
                record,
                lines=(
                    (
                        str(many2one(line["product_id"])),
                        decimal(line["product_uom_qty"]),
                        decimal(line["price_unit"]),
                    )
                    for line in lines.get(row["id"], [])
                    if line["product_id"]
                ),
                total=decimal(row["amount_untaxed"]),
            )
            for row, record in zip(rows, self._records(rows), strict=True)
        ]
        return id_page(records, rows, after, limit)

    def _records(self, rows: list[dict[str, Any]]) -> list[OrderStateRecord]:
        move_ids = sorted({move for row in rows for move in row["invoice_ids"]})
        picking_ids = sorted({picking for row in rows for picking in row["picking_ids"]})
        moves = (
            {
                row["id"]: row
                for row in self.client.call("account.move", "read", ids=move_ids, fields=MOVE_FIELDS)
            }
            if move_ids
            else {}
        )
        pickings = (
            {
                row["id"]: row
                for row in self.client.call("stock.picking", "read", ids=picking_ids, fields=["write_date"])
            }
            if picking_ids
            else {}
        )
        records = []
        for row in rows:
            invoices = [moves[i] for i in row["invoice_ids"] if i in moves]
            shipment = _SHIPMENT.get(text(row["delivery_status"]), "none")
            invoice = _invoice_state(row, invoices)
            state = _STATES.get(row["state"], row["state"])
            if state == "confirmed" and shipment == "sent" and invoice == "paid":
                state = "done"  # delivered and paid: nothing left to do
            records.append(
                OrderStateRecord(
                    erp_id=str(row["id"]),
                    reference=text(row["client_order_ref"]).strip(),
                    customer_erp_id=str(many2one(row["partner_id"])),
                    number=text(row["name"]),
                    state=state,
                    shipment_state=shipment,
                    invoice_state=invoice,
                    changed_at=stamp(
                        row["write_date"],
                        *(move["write_date"] for move in invoices),
                        *(pickings[i]["write_date"] for i in row["picking_ids"] if i in pickings),
                    ),
                )
            )
        return records


def _invoice_state(order: dict[str, Any], moves: list[dict[str, Any]]) -> str:
    """none | pending | awaiting payment | partially paid | paid, from the order's posted invoices."""
    posted = [move for move in moves if move["state"] == "posted" and move["move_type"] == "out_invoice"]
    if not posted:
        return (
            "pending"
            if order["state"] == "sale" and order["invoice_status"] in ("to invoice", "invoiced")
            else "none"
        )
    if all(move["payment_state"] in PAID for move in posted) and order["invoice_status"] == "invoiced":
        return "paid"
    if any(decimal(move["amount_residual"]) < decimal(move["amount_total"]) for move in posted):
        return "partially paid"
    return "awaiting payment"


def _order_values(order: OrderPush | QuotePush, shipping: int) -> dict[str, Any]:
    """The header a push writes: delivery address, reference, commitment date (an order's requested
    date, when not past) and note."""
    requested = order.requested_date if isinstance(order, OrderPush) else None
    today = datetime.now(tz=UTC).date()
    return {
        "partner_shipping_id": shipping,
        "client_order_ref": order.reference.strip(),
        "commitment_date": f"{requested.isoformat()} 00:00:00" if requested and requested >= today else False,
        "note": order.notes or False,
    }


def _line_commands(order: OrderPush | QuotePush) -> list[list[Any]]:
    """One create command per line: product, quantity and the pushed ``price_unit`` (no pricelist)."""
    return [
        [
            0,
            0,
            {
                "product_id": int(line.product_erp_id),
                "product_uom_qty": line.quantity,
                "price_unit": line.unit_price,
                **({"name": line.note} if line.note else {}),
            },
        ]
        for line in order.lines
    ]


def _order_key(order: OrderPush | OrderCancel | QuotePush) -> OrderKey:
    customer = erp_id(order.customer_erp_id)
    return (str(customer) if customer is not None else order.customer_erp_id, order.reference.strip())


def _address_key(customer: int, street: Any, postal_code: Any, city: Any) -> tuple[str, ...]:
    return (
        str(customer),
        *(" ".join(text(value).split()).casefold() for value in (street, postal_code, city)),
    )
