"""Price lists: the portal's tiers and contracts, replaced whole in the ERP and assigned to their parties."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.erp.connectors.base import (
    PORTAL_KEY_PREFIX,
    ErpBusinessError,
    Page,
    PriceListLine,
    PriceListPush,
    PriceListResult,
    ReconcileRecord,
    price_list_key,
    price_list_marker,
    reconcile_price_list_lines,
)
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.connectors.tryton.common import EVERY_ACTIVE_STATE, after_id

# Pushed formulas: a fixed price, or a fraction of the list price (``_price_list_formula``).
_FIXED = re.compile(r'Decimal\("([^"]+)"\)\Z')
_FRACTION = re.compile(r'unit_price \* Decimal\("([^"]+)"\)\Z')


class TrytonPriceLists:
    """The price list push, and the reconciliation read of the pushed lists."""

    def __init__(self, client: TrytonClient) -> None:
        self.client = client

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
            [_price_list_line(sequence, line) for sequence, line in enumerate(push.lines, 1)]
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

    def reconcile_price_lists(self, after: str, limit: int) -> Page[ReconcileRecord]:
        """The portal's price lists (named with a marker holding a portal key), inactive ones included,
        by id: ONE ``search_read`` with the lines nested, then ONE search of the parties holding the
        page's lists as sale price list (current company). ``reference`` is the key (e.g.
        ``portal-company-12``); ``active`` the list's; ``record`` None (the portal owns price lists).

        ``lines``: ``reconcile_price_list_lines`` of the lines in their order (``sequence``, then id),
        each read back as the ``PriceListLine`` that was pushed: ``Decimal("x")`` a unit price x,
        ``unit_price * Decimal("f")`` a discount 1 - f; any other formula (a person's edit) as neither,
        so it differs from every pushed line. ``customers``: the holders' party ids, sorted numerically,
        joined by ``","``."""
        rows = self.client.search_read(
            "product.price_list",
            [
                ["id", ">", after_id(after)],
                ["name", "like", f"%[{_like_escape(PORTAL_KEY_PREFIX)}%]"],
                EVERY_ACTIVE_STATE,
            ],
            [
                "name",
                "active",
                "lines.sequence",
                "lines.product",
                "lines.quantity",
                "lines.formula",
                "lines.start_date",
                "lines.end_date",
            ],
            limit=limit,
            order=[["id", "ASC"]],
        )
        keyed = [(row, key) for row in rows if (key := price_list_key(row["name"] or "")) is not None]
        holders = self._holders([row["id"] for row, _ in keyed])
        records = [
            ReconcileRecord(
                key=str(row["id"]),
                fields={
                    "lines": reconcile_price_list_lines(
                        [
                            _pushed_line(line)
                            for line in sorted(
                                row.get("lines.") or [],
                                key=lambda line: (
                                    line["sequence"] is None,
                                    line["sequence"] or 0,
                                    line["id"],
                                ),
                            )
                        ]
                    ),
                    "customers": ",".join(str(party) for party in sorted(holders.get(row["id"], []))),
                },
                active=bool(row["active"]),
                reference=key,
            )
            for row, key in keyed
        ]
        return Page(records, str(rows[-1]["id"]) if rows else after, len(rows) == limit)

    def _holders(self, price_list_ids: list[int]) -> dict[int, list[int]]:
        """The parties (archived ones too) whose sale price list, in the current company, is one of
        ``price_list_ids``: one search for them all."""
        if not price_list_ids:
            return {}
        company = self.client.context["company"]
        where = [["sale_price_list", "in", price_list_ids], ["company", "=", company]]
        rows = self.client.search_read(
            "party.party",
            [["sale_price_lists", "where", where], EVERY_ACTIVE_STATE],
            ["sale_price_list"],
            order=[["id", "ASC"]],
        )
        holders: dict[int, list[int]] = {}
        for row in rows:
            if row["sale_price_list"] in price_list_ids:
                holders.setdefault(row["sale_price_list"], []).append(row["id"])
        return holders

    def _find_price_list(self, marker: str) -> dict[str, Any] | None:
        rows = self.client.search_read(
            "product.price_list",
            [["name", "ilike", f"%{_like_escape(marker)}"]],
            ["name", "lines", "active"],
            order=[["id", "ASC"]],
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
            rows = self.client.search_read(
                "party.party", [["sale_price_lists", "where", where]], ["sale_price_list"], context=every
            )
            holders = [row["id"] for row in rows if row["sale_price_list"] == price_list_id]
        current = (
            self.client.read("party.party", wanted, ["sale_price_list"], context=every) if wanted else []
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


def _price_list_line(sequence: int, line: PriceListLine) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "product": int(line.product_erp_id) if line.product_erp_id else None,
        "quantity": float(line.min_quantity),
        "formula": _price_list_formula(line),
        "start_date": line.start,
        "end_date": line.end,
    }


def _pushed_line(line: dict[str, Any]) -> PriceListLine:
    """A price list line read from the ERP as the ``PriceListLine`` pushed to make it."""
    formula = (line["formula"] or "").strip()
    unit_price = discount = None
    if fixed := _FIXED.match(formula):
        unit_price = _decimal(fixed.group(1))
    elif fraction := _FRACTION.match(formula):
        remaining = _decimal(fraction.group(1))
        discount = Decimal(1) - remaining if remaining is not None else None
    return PriceListLine(
        product_erp_id=str(line["product"]) if line["product"] else None,
        min_quantity=Decimal(str(line["quantity"] or 0)),
        unit_price=unit_price,
        discount=discount,
        start=line["start_date"],
        end=line["end_date"],
    )


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


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
