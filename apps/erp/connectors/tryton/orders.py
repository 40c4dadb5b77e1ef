"""Orders: portal orders pushed as ERP sales exactly once and confirmed (credit refusals told apart, and
finance's released holds confirmed by the finance user), cancelled, and their states pulled back."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
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
from apps.erp.connectors.tryton.client import TrytonClient, TrytonWarning
from apps.erp.connectors.tryton.common import (
    after_id,
    any_match,
    changed_after,
    changed_since,
    id_page,
    stamp,
)
from apps.erp.connectors.tryton.customers import TrytonCustomers

# The ERP names its credit-limit warnings "<md5 of the sale>.credit_limit_amount" (res.user.warning).
CREDIT_LIMIT_WARNING = ".credit_limit_amount"

OrderKey = tuple[str, str]  # (customer_erp_id, reference stripped): how a pushed order is found again

# The sales the order streams read: those with a reference (the portal's orders).
WITH_REFERENCE: list[Any] = [["reference", "!=", None], ["reference", "!=", ""]]
# What the order state records are built from (``_order_records``).
ORDER_FIELDS = [
    "number",
    "reference",
    "party",
    "state",
    "shipment_state",
    "invoice_state",
    "write_date",
    "create_date",
]

# The sale states a button leads to (or past): a sale already there needs the button no more.
_STATES_REACHED_BY: dict[str, frozenset[str]] = {
    "quote": frozenset({"quotation", "confirmed", "processing", "done"}),
    "confirm": frozenset({"confirmed", "processing", "done"}),
    "cancel": frozenset({"cancelled"}),
    "draft": frozenset({"draft"}),
}
# The states a sale can still be rewritten from (through ``draft``): a quotation, or one a person cancelled.
_REWRITABLE = frozenset({"draft", "quotation", "cancelled"})


class TrytonOrders:
    """The order push, cancel and state streams. ``client`` is the service user (``portal``: credit
    overruns are hard errors); ``finance_client``, optional, is a user in the ERP's credit-limit group
    (``portal-finance``) that confirms the orders whose credit hold finance released. Ship-to addresses
    the ERP lacks are created through ``customers``."""

    def __init__(
        self, client: TrytonClient, finance_client: TrytonClient | None, customers: TrytonCustomers
    ) -> None:
        self.client = client
        self.finance_client = finance_client
        self.customers = customers

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
        credit_refused: set[OrderKey] = set()  # confirms the ERP refused for the customer's credit
        keys, parties, errors = self._checked(unique)

        found = self._find_sales(keys)
        errors.update(self._take_over_quotations(unique, found, parties))
        sale_ids = {key: row["id"] for key, row in found.items()}
        states = {key: row["state"] for key, row in found.items()}
        missing = [key for key in keys if key not in found and key not in errors]
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
            {row["id"]: row for row in self.client.read("sale.sale", list(by_sale), ["number", "state"])}
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

    def push_quotes(self, quotes: Sequence[QuotePush]) -> list[QuotePushResult]:
        """Keep each offered quote as ONE ERP sale in quotation state at the offered prices. Results come
        in the input order.

        Found by (party, reference = quote number) like an order, whatever its state: a quotation (or a
        draft an interrupted attempt left, or a sale a person cancelled) is put back to draft, its lines
        replaced by the pushed ones (one ``write``: the old lines deleted, the new created) with its
        description, comment and shipment address, then quoted again; a sale confirmed already (its
        order took it over) is refused, unchanged. The rest are created in one ``sale.sale.create`` like
        orders (``description`` set) and quoted in one call. A retry after a lost answer finds the sale
        of the earlier attempt, so there is never a second one."""
        unique: dict[OrderKey, QuotePush] = {}
        for quote in quotes:
            unique.setdefault(_order_key(quote), quote)
        keys, parties, errors = self._checked(unique)
        found = self._find_sales(keys, ["lines", "number"])
        for key, row in found.items():
            if row["state"] not in _REWRITABLE:
                errors[key] = (
                    f"The ERP sale {row['number'] or row['id']} is {row['state']} already; "
                    "the quotation can no longer change there."
                )
        errors.update(
            self._rewrite({key: row for key, row in found.items() if key not in errors}, unique, parties)
        )
        missing = [key for key in keys if key not in found and key not in errors]
        created, create_errors = self._create_sales([unique[key] for key in missing], parties)
        errors.update(create_errors)
        sale_ids = {key: row["id"] for key, row in found.items() if key not in errors} | created
        by_sale = {sale_id: key for key, sale_id in sale_ids.items()}
        for sale_id, error in self._transition(self.client, "quote", sorted(by_sale)).items():
            errors[by_sale[sale_id]] = error
        ids = sorted({row["id"] for row in found.values()} | set(created.values()))
        final = (
            {row["id"]: row for row in self.client.read("sale.sale", ids, ["number", "state"])} if ids else {}
        )
        results = []
        for quote in quotes:
            key = _order_key(quote)
            sale_id = created.get(key) or found.get(key, {}).get("id", 0)
            sale = final.get(sale_id, {})
            results.append(
                QuotePushResult(
                    reference=quote.reference,
                    customer_erp_id=quote.customer_erp_id,
                    erp_id=str(sale["id"]) if sale else "",
                    number=sale.get("number") or "",
                    state=sale.get("state") or "",
                    created=key in created,
                    error=errors.get(key, ""),
                )
            )
        return results

    def _checked(
        self, pushes: dict[OrderKey, OrderPush] | dict[OrderKey, QuotePush]
    ) -> tuple[list[OrderKey], dict[int, dict[str, Any]], dict[OrderKey, str]]:
        """The keys that can be pushed, their parties, and the errors of the others."""
        errors: dict[OrderKey, str] = {}
        for key, push in pushes.items():
            if not key[1]:
                errors[key] = "An order needs a reference to be pushed to the ERP."
            elif _erp_id(push.customer_erp_id) is None:
                errors[key] = f"The customer id {push.customer_erp_id!r} is not an ERP party id."
        keys = [key for key in pushes if key not in errors]
        parties = self._order_parties({int(customer) for customer, _ in keys})
        for key in keys:
            if int(key[0]) not in parties:
                errors[key] = f"The ERP has no customer with id {key[0]}."
        return [key for key in keys if key not in errors], parties, errors

    def _take_over_quotations(
        self,
        orders: dict[OrderKey, OrderPush],
        found: dict[OrderKey, dict[str, Any]],
        parties: dict[int, dict[str, Any]],
    ) -> dict[OrderKey, str]:
        """Orders accepted from a quote (``quotation_reference``): the quotation becomes the order's sale.

        An order with no sale of its own yet takes its quotation (same party, reference = the quote
        number) when that is a draft or quotation; its sale, found either way and not confirmed yet, is
        rewritten (``_rewrite``: the order's reference, lines, shipment address and notes) and added to
        ``found`` as a draft, so the push quotes and confirms it like any. A retry after a lost answer
        finds it by the order's reference. Errors by key; ``found`` is updated in place."""
        wanted = {
            key: (key[0], order.quotation_reference.strip())
            for key, order in orders.items()
            if order.quotation_reference.strip() and key[1] and key[0].isdigit()
        }
        if not wanted:
            return {}
        mine = self._find_sales([key for key in wanted if key in found], ["lines"])
        quotations = self._find_sales(sorted({wanted[key] for key in wanted if key not in found}), ["lines"])
        sales: dict[OrderKey, dict[str, Any]] = {}
        for key, quotation in wanted.items():
            row = mine.get(key) or quotations.get(quotation)
            if row is not None and row["state"] in ("draft", "quotation"):
                sales[key] = row
        errors = self._rewrite(sales, orders, parties)
        for key, row in sales.items():
            if key not in errors:
                found[key] = {**row, "state": "draft"}
        return errors

    def _rewrite(
        self,
        sales: dict[OrderKey, dict[str, Any]],
        pushes: dict[OrderKey, OrderPush] | dict[OrderKey, QuotePush],
        parties: dict[int, dict[str, Any]],
    ) -> dict[OrderKey, str]:
        """Put each sale (a row with ``id``, ``state``, ``lines``) back to draft and write the push on it in
        one ``write`` per sale: reference, shipment address, comment, description or shipping date, and
        its lines replaced. Errors by key; the others are drafts afterwards."""
        if not sales:
            return {}
        errors: dict[OrderKey, str] = {}
        by_sale = {row["id"]: key for key, row in sales.items()}
        to_draft = sorted(row["id"] for row in sales.values() if row["state"] != "draft")
        for sale_id, error in self._transition(self.client, "draft", to_draft).items():
            errors[by_sale[sale_id]] = error
        units = self._sale_units({line.product_erp_id for key in sales for line in pushes[key].lines})
        for key in sales:
            unknown = [
                line.product_erp_id for line in pushes[key].lines if _erp_id(line.product_erp_id) not in units
            ]
            if unknown:
                errors[key] = f"The ERP has no product with id {', '.join(unknown)}."
        ready = {key: row for key, row in sales.items() if key not in errors}
        ship_to, _ = self._ship_to_addresses([pushes[key] for key in ready], parties)
        today = datetime.now(tz=UTC).date()
        for key, row in ready.items():
            push = pushes[key]
            values: dict[str, Any] = {
                "reference": push.reference.strip(),
                "shipment_address": ship_to[key],
                "comment": push.notes or None,
                "lines": [["delete", list(row["lines"])], ["create", _line_values(push, units)]],
            }
            if isinstance(push, QuotePush):
                values["description"] = push.description or None
            else:
                values["shipping_date"] = (
                    push.requested_date if _not_before(push.requested_date, today) else None
                )
            try:
                self.client.model("sale.sale", "write", [row["id"]], values)
            except ErpBusinessError as exc:
                errors[key] = exc.message
        return errors

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
            for row in self.client.read("party.party", sorted(candidates), ["credit_amount"])
        }
        totals: dict[int, Decimal] = defaultdict(Decimal)
        sale_party = {sale_id: party for sale_id, party in sales if party in candidates}
        for row in self.client.read("sale.sale", sorted(sale_party), ["total_amount"]):
            totals[sale_party[row["id"]]] += row["total_amount"] or Decimal(0)
        return {
            party
            for party in candidates
            if (credit.get(party) or Decimal(0)) + totals[party] > parties[party]["credit_limit_amount"]
        }

    def _order_parties(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        rows = self.client.search_read(
            "party.party",
            [["id", "in", sorted(ids)]],
            ["addresses", "customer_payment_term", "sale_price_list", "credit_limit_amount"],
            context={"active_test": False},
        )
        return {row["id"]: row for row in rows}

    def _find_sales(self, keys: list[OrderKey], fields: Sequence[str] = ()) -> dict[OrderKey, dict[str, Any]]:
        if not keys:
            return {}
        rows = self.client.search_read(
            "sale.sale",
            [
                ["reference", "in", sorted({reference for _, reference in keys})],
                ["party", "in", sorted({int(customer) for customer, _ in keys})],
            ],
            ["party", "reference", "state", *fields],
            order=[["id", "ASC"]],
        )
        wanted = set(keys)
        found: dict[OrderKey, dict[str, Any]] = {}
        for row in rows:
            key = (str(row["party"]), (row["reference"] or "").strip())
            if key in wanted:
                found.setdefault(key, row)
        return found

    def _create_sales(
        self, orders: Sequence[OrderPush | QuotePush], parties: dict[int, dict[str, Any]]
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
            requested = order.requested_date if isinstance(order, OrderPush) else None
            values.append(
                {
                    "party": party["id"],
                    "invoice_address": invoice.get(party["id"], shipment_address),
                    "shipment_address": shipment_address,
                    "payment_term": party["customer_payment_term"],
                    "price_list": party["sale_price_list"],
                    "reference": order.reference.strip(),
                    "sale_date": today,
                    "shipping_date": requested if _not_before(requested, today) else None,
                    "comment": order.notes or None,
                    "description": (order.description or None) if isinstance(order, QuotePush) else None,
                    "lines": [["create", _line_values(order, products)]],
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
        rows = self.client.search_read(
            "product.product", [["id", "in", ids]], ["sale_uom"], context={"active_test": False}
        )
        return {row["id"]: row["sale_uom"] for row in rows}

    def _ship_to_addresses(
        self, orders: Sequence[OrderPush | QuotePush], parties: dict[int, dict[str, Any]]
    ) -> tuple[dict[OrderKey, int], dict[int, int]]:
        """The shipment address of each order (creating those the ERP lacks) and the invoice address of
        each party that has an address."""
        address_ids = sorted(
            {address for order in orders for address in parties[int(order.customer_erp_id)]["addresses"]}
        )
        rows = (
            self.client.read(
                "party.address", address_ids, ["party", "street", "postal_code", "city", "invoice"]
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
                "party.address", "create", self.customers.address_values(list(to_create.values()))
            )
            known.update(zip(to_create, new_ids, strict=True))
            for order in orders:
                key = _order_key(order)
                if key not in result:
                    address = order.ship_to
                    content = _address_key(int(key[0]), address.street, address.postal_code, address.city)
                    result[key] = known[content]
        return result, invoice

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
            for row in client.read("sale.sale", list(errors), ["state"]):
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

    def orders_changed(self, since: datetime | None) -> bool:
        """A sale with a reference created or written after ``since`` (a shipment done or an invoice
        posted writes its sale: see ``pull_orders``)."""
        return any_match(self.client, "sale.sale", [*changed_after(since), *WITH_REFERENCE])

    def pull_orders(self, cursor: Cursor, limit: int) -> Page[OrderStateRecord]:
        """Sales with a reference (the portal's orders) created or written since the cursor, by id.

        The sale's own ``write_date`` is enough: the ERP re-processes a sale when its shipment is done or
        its invoice is posted or paid, and writes the new ``shipment_state``/``invoice_state`` on it.
        """
        domain = [*changed_since(cursor.since), ["id", ">", after_id(cursor.after)], *WITH_REFERENCE]
        rows = self.client.search_read("sale.sale", domain, ORDER_FIELDS, limit=limit, order=[["id", "ASC"]])
        return id_page(_order_records(rows), rows, cursor.after, limit)

    def reconcile_orders(self, after: str, limit: int) -> Page[ReconcileRecord]:
        """Every sale with a reference (the sales the order pull reads: the portal's orders), cancelled
        ones included, by id: ONE ``search_read`` with the lines nested. ``reference`` is
        ``"<party id>:<sale reference>"`` (the portal's customer and PO number), so two sales of one
        order show as one reference twice. ``lines``: ``reconcile_order_lines`` of the lines that have a
        product (comment, title and subtotal lines left out); ``total``: the untaxed amount."""
        rows = self.client.search_read(
            "sale.sale",
            [["id", ">", after_id(after)], *WITH_REFERENCE],
            [
                *ORDER_FIELDS,
                "untaxed_amount",
                "lines.product",
                "lines.quantity",
                "lines.unit_price",
            ],
            limit=limit,
            order=[["id", "ASC"]],
        )
        records = [
            order_reconcile_record(
                record,
                lines=(
                    (
                        str(line["product"]),
                        Decimal(str(line["quantity"])),
                        line["unit_price"] if line["unit_price"] is not None else Decimal(0),
                    )
                    for line in row.get("lines.") or []
                    if line["product"]
                ),
                total=row["untaxed_amount"],
            )
            for row, record in zip(rows, _order_records(rows), strict=True)
        ]
        return id_page(records, rows, after, limit)


def _order_records(rows: list[dict[str, Any]]) -> list[OrderStateRecord]:
    """The order state records of ``rows`` (``ORDER_FIELDS``), in their order."""
    return [
        OrderStateRecord(
            erp_id=str(row["id"]),
            reference=row["reference"],
            customer_erp_id=str(row["party"]),
            number=row["number"] or "",
            state=row["state"],
            shipment_state=row["shipment_state"],
            invoice_state=row["invoice_state"],
            changed_at=stamp(row["write_date"], row["create_date"]),
        )
        for row in rows
    ]


def _is_credit_refusal(message: str) -> bool:
    """sale_credit_limit's refusal: 'The party "X" will exceed their $10000.00 credit limit by …'."""
    return "credit limit" in message.lower()


def _erp_id(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _line_values(push: OrderPush | QuotePush, units: dict[int, int]) -> list[dict[str, Any]]:
    """The sale lines of a push: product, quantity, its sale unit, the pushed unit price and note."""
    return [
        {
            "type": "line",
            "product": int(line.product_erp_id),
            "quantity": float(line.quantity),
            "unit": units[int(line.product_erp_id)],
            "unit_price": line.unit_price,
            "note": line.note or None,
        }
        for line in push.lines
    ]


def _order_key(order: OrderPush | OrderCancel | QuotePush) -> OrderKey:
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
