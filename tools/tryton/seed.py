"""Seed a Tryton 8.2 database with the master data the B2B portal works against.

Runs *inside the ERP virtualenv*, in-process (trytond Pool + Transaction, no server)::

    .erp/venv/bin/python tools/tryton/seed.py -c trytond.conf -d erp [--products 1200]

Idempotent: every record is looked up by a natural key (code, name, login) and only
created when missing, so running it twice changes nothing. All "random" values come
from generators seeded with constants, so every build produces the same catalogue.

What it creates (see ``main``): USD, the company "Northwind Wholesale Inc.", a US chart
of accounts, fiscal years (the previous one, this one and the next) with periods and
invoice sequences, payment terms "Net 30" / "Net 60" / "Prepaid", the payment method
"Bank transfer", the party category "Credit hold" (on no party), customers CUST-001..,
product categories and SKU-00001.. products with stock in the warehouse, the service
users ``portal`` and ``portal-finance``; with ``--demo-invoices`` also posted invoices of
CUST-009 and CUST-010 for credit aging (``DEMO_INVOICES``: ``erp.py up`` adds them to the
dev server, the tests' template has none). A JSON summary (ids the tests need) is printed
on stdout.

This file must stay importable without trytond (erp.py hashes it, ruff lints it), so
all trytond imports happen inside ``main``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

COMPANY_NAME = "Northwind Wholesale Inc."
PORTAL_LOGIN = "portal"
PORTAL_FINANCE_LOGIN = "portal-finance"
PORTAL_PASSWORD = "portal-Secret-2026"  # noqa: S105 - fixed test credential, documented in erp.py

# SQLite emulates the product-code EXCLUDE constraint with one nested OR per record:
# more than ~85 templates in one create() overflows SQLite's parser stack.
TEMPLATE_BATCH = 50
MOVE_BATCH = 400

# Groups of the service users (ir.model.data xml ids).
PORTAL_GROUPS = (
    "sale.group_sale",
    "account.group_account",
    "party.group_party_admin",
    "product.group_product_admin",
    "stock.group_stock",
)
# Only this user may accept credit-limit warnings; for ``portal`` they are hard errors.
FINANCE_EXTRA_GROUPS = ("account_credit_limit.group_credit_limit",)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Customer:
    code: str
    name: str
    payment_term: str
    credit_limit: int
    email: str
    phone: str
    addresses: tuple[tuple[str, str, str], ...]  # (street, postal code, city)


CUSTOMERS: tuple[Customer, ...] = (
    Customer(
        "CUST-001",
        "Acme Hardware Co.",
        "Net 30",
        25_000,
        "purchasing@acme-hardware.example",
        "+1 312-555-0141",
        (("1200 W Fulton Market", "60607", "Chicago"), ("4550 S Kolin Ave", "60632", "Chicago")),
    ),
    Customer(
        "CUST-002",
        "Globex Building Supply",
        "Net 60",
        50_000,
        "ap@globex-supply.example",
        "+1 614-555-0178",
        (("88 Commerce Park Dr", "43219", "Columbus"),),
    ),
    Customer(
        "CUST-003",
        "Harbor Point Builders Inc.",
        "Net 30",
        10_000,
        "orders@harborpoint.example",
        "+1 410-555-0102",
        (("301 Key Hwy", "21230", "Baltimore"), ("7 Dock St", "21231", "Baltimore")),
    ),
    Customer(
        "CUST-004",
        "Midwest Facility Services LLC",
        "Net 60",
        25_000,
        "procurement@midwestfs.example",
        "+1 816-555-0133",
        (("2400 Grand Blvd", "64108", "Kansas City"),),
    ),
    Customer(
        "CUST-005",
        "Cedar Ridge Plumbing & Heating",
        "Prepaid",
        10_000,
        "office@cedarridgeph.example",
        "+1 303-555-0190",
        (("1550 Platte St", "80202", "Denver"),),
    ),
    Customer(
        "CUST-006",
        "Blue Ridge Electrical Contractors",
        "Net 30",
        50_000,
        "buying@blueridge-electric.example",
        "+1 828-555-0117",
        (("45 Biltmore Ave", "28801", "Asheville"), ("980 Sweeten Creek Rd", "28803", "Asheville")),
    ),
    Customer(
        "CUST-007",
        "Summit Janitorial Supply Co.",
        "Prepaid",
        25_000,
        "orders@summitjanitorial.example",
        "+1 801-555-0164",
        (("230 S 500 W", "84101", "Salt Lake City"),),
    ),
    Customer(
        "CUST-008",
        "Lakeside Property Management",
        "Net 60",
        10_000,
        "maintenance@lakesidepm.example",
        "+1 414-555-0125",
        (("777 N Van Buren St", "53202", "Milwaukee"), ("3100 S Lake Dr", "53207", "St. Francis")),
    ),
    Customer(
        "CUST-009",
        "Ironclad Construction Group",
        "Net 30",
        50_000,
        "purchasing@ironcladcg.example",
        "+1 713-555-0188",
        (("1001 Texas Ave", "77002", "Houston"),),
    ),
    Customer(
        "CUST-010",
        "Riverbend School District",
        "Net 60",
        25_000,
        "facilities@riverbend-sd.example",
        "+1 503-555-0150",
        (("120 NE Alberta St", "97211", "Portland"), ("6600 SE Division St", "97206", "Portland")),
    ),
)

# name -> days until due (one "remainder" line: the whole amount after N days)
PAYMENT_TERMS: dict[str, int] = {"Net 30": 30, "Net 60": 60, "Prepaid": 0}

# A party carrying this category is on credit hold in the ERP (the portal's ERP_HOLD_CATEGORY).
HOLD_CATEGORY = "Credit hold"
# Cash payments of customer invoices: the "Cash" journal, into the cash account (chart 1.1.1).
PAYMENT_METHOD = "Bank transfer"


@dataclass(frozen=True)
class DemoInvoice:
    """A posted customer invoice (payment term Net 30) dated ``days_ago`` days before the seed
    runs, with one product line; ``paid`` of it paid ``paid_days_ago`` days ago through the
    invoice's pay action. ``reference`` (the invoice's own reference) is its idempotency key."""

    reference: str
    customer: str
    days_ago: int
    sku: str
    quantity: int
    unit_price: Decimal
    paid: Decimal = Decimal(0)
    paid_days_ago: int = 0


# Credit aging for the demo (``--demo-invoices``), on customers no test relies on for its credit:
# CUST-009 has one invoice 45 days past due and a current one; CUST-010 a current one partly paid
# and a new one. Not in the tests' template: Tryton numbers a year's customer invoices in date
# order, so an invoice dated three days ago would forbid tests to post any invoice dated earlier.
DEMO_INVOICES: tuple[DemoInvoice, ...] = (
    DemoInvoice("DEMO-AGING-1", "CUST-009", 75, "SKU-00004", 50, Decimal("85.00")),  # 4,250.00
    DemoInvoice("DEMO-AGING-2", "CUST-009", 12, "SKU-00011", 40, Decimal("46.00")),  # 1,840.00
    # 6,400.00, of which 2,500.00 paid 3 days ago:
    DemoInvoice("DEMO-AGING-3", "CUST-010", 24, "SKU-00012", 80, Decimal("80.00"), Decimal("2500.00"), 3),
    DemoInvoice("DEMO-AGING-4", "CUST-010", 3, "SKU-00020", 15, Decimal("65.00")),  # 975.00
)


@dataclass(frozen=True)
class Family:
    """A product line: a name pattern expanded over the cartesian product of options."""

    pattern: str
    options: tuple[tuple[str, ...], ...]
    uom: str  # product.uom symbol: u, kg, m, l
    price: tuple[float, float]  # list price range (per uom)


# Category name -> product families. Every category expands to more than 150 names, so
# the default 1,200 products (round-robin over 8 categories) never repeat a name.
_FRACTION_SIZES = ('1/4"', '5/16"', '3/8"', '1/2"', '5/8"', '3/4"')
_METRIC_SIZES = ("M5", "M6", "M8", "M10", "M12", "M16")
_PIPE_SIZES = ('1/2"', '3/4"', '1"', '1-1/4"', '1-1/2"', '2"')
CATALOGUE: dict[str, tuple[Family, ...]] = {
    "Fasteners": (
        Family(
            "Hex Cap Screw {} x {}, {}",
            (_FRACTION_SIZES, ('1"', '1-1/2"', '2"', '3"'), ("Zinc Plated", "Grade 8", "18-8 Stainless")),
            "u",
            (0.06, 1.90),
        ),
        Family(
            "Socket Head Cap Screw {} x {} mm, {}",
            (_METRIC_SIZES, ("16", "25", "40", "60"), ("Black Oxide", "A2 Stainless")),
            "u",
            (0.09, 1.40),
        ),
        Family(
            "Hex Nut {}, {}",
            (_FRACTION_SIZES + _METRIC_SIZES, ("Zinc Plated", "Nylon Insert", "Stainless")),
            "u",
            (0.02, 0.45),
        ),
        Family(
            "Wedge Anchor {} x {}, {}",
            (
                ('1/4"', '3/8"', '1/2"', '5/8"'),
                ('2-1/4"', '3"', '4-1/4"'),
                ("Zinc Plated", "Hot-Dip Galvanized"),
            ),
            "u",
            (0.35, 3.80),
        ),
        Family(
            "{} Nails {}, Bulk",
            (("Common", "Box", "Framing", "Roofing"), ("6d", "8d", "10d", "16d")),
            "kg",
            (3.20, 9.50),
        ),
    ),
    "Plumbing": (
        Family(
            "{} Pipe {}",
            (("PVC Sch 40", "PVC Sch 80", "CPVC", "Copper Type L", "PEX-A"), _PIPE_SIZES),
            "m",
            (0.90, 18.00),
        ),
        Family(
            "{} {} {}",
            (
                ("PVC", "Copper", "Brass", "Black Iron"),
                ("90° Elbow", "45° Elbow", "Tee", "Coupling", "Cap"),
                _PIPE_SIZES,
            ),
            "u",
            (0.45, 24.00),
        ),
        Family(
            "{} Ball Valve {}, {}",
            (("Brass", "Stainless", "PVC"), _PIPE_SIZES, ("Threaded", "Sweat", "Full Port")),
            "u",
            (6.50, 68.00),
        ),
    ),
    "Electrical": (
        Family(
            "THHN Wire {} AWG, {}",
            (
                ("14", "12", "10", "8", "6"),
                ("Black", "White", "Red", "Green", "Blue", "Yellow", "Orange", "Brown"),
            ),
            "m",
            (0.18, 2.40),
        ),
        Family(
            "{} Receptacle {}, {}",
            (
                ("Duplex", "GFCI", "Tamper-Resistant", "USB Combo"),
                ("15 A", "20 A"),
                ("White", "Ivory", "Gray"),
            ),
            "u",
            (1.20, 29.00),
        ),
        Family(
            "{} Circuit Breaker {} {}",
            (
                ("Single-Pole", "Double-Pole", "AFCI", "GFCI"),
                ("15 A", "20 A", "30 A", "50 A"),
                ("Plug-On", "Bolt-On"),
            ),
            "u",
            (7.50, 64.00),
        ),
        Family(
            "EMT Conduit {}, {}",
            (('1/2"', '3/4"', '1"', '1-1/4"', '2"'), ("Galvanized", "Blue", "Red")),
            "m",
            (1.10, 6.80),
        ),
        Family(
            "Cable Tie {} in, {}, Pack of 100",
            (("4", "8", "11", "14", "18", "24"), ("Natural", "Black UV", "Stainless")),
            "u",
            (2.10, 38.00),
        ),
        Family(
            "LED {} {} W, {}",
            (
                ("A19 Bulb", "BR30 Flood", "T8 Tube", "High Bay"),
                ("9", "15", "40", "100"),
                ("2700K", "4000K", "5000K"),
            ),
            "u",
            (2.80, 145.00),
        ),
        Family(
            "Twist-On Wire Connector, {}, {}",
            (
                ("Yellow", "Red", "Orange", "Gray", "Blue", "Tan"),
                ("Pack of 25", "Pack of 100", "Pack of 500"),
            ),
            "u",
            (2.50, 48.00),
        ),
    ),
    "Tools": (
        Family(
            "{} Screwdriver {}, {}",
            (("Phillips", "Slotted", "Torx", "Square"), ("#1", "#2", "#3"), ("4 in", "6 in", "8 in")),
            "u",
            (3.90, 18.00),
        ),
        Family(
            "{} Hammer {} oz, {}",
            (
                ("Claw", "Framing", "Ball Peen", "Dead Blow", "Sledge"),
                ("16", "20", "24", "32"),
                ("Fiberglass Handle", "Steel Handle", "Hickory Handle"),
            ),
            "u",
            (12.00, 64.00),
        ),
        Family(
            "{} Wrench {}, {}",
            (
                ("Combination", "Adjustable", "Ratcheting", "Pipe"),
                ('8"', '10"', '12"', '14"'),
                ("Chrome", "Black"),
            ),
            "u",
            (8.00, 42.00),
        ),
        Family(
            "{} Drill Bit {}, {}",
            (
                ("HSS Jobber", "Cobalt", "Masonry", "Spade"),
                ('1/8"', '3/16"', '1/4"', '3/8"', '1/2"'),
                ("Each", "5-Pack"),
            ),
            "u",
            (1.80, 26.00),
        ),
    ),
    "Safety": (
        Family(
            "{} Gloves, {}, Size {}",
            (
                ("Nitrile Disposable", "Cut-Resistant A4", "Leather Driver", "Cold-Weather"),
                ("Black", "Blue", "Gray"),
                ("S", "M", "L", "XL"),
            ),
            "u",
            (0.12, 14.00),
        ),
        Family(
            "{} Safety Glasses, {} Lens",
            (
                ("Wraparound", "Over-the-Glass", "Bifocal +1.5", "Sealed"),
                ("Clear", "Gray", "Amber", "Indoor/Outdoor"),
            ),
            "u",
            (2.40, 16.00),
        ),
        Family(
            "Hi-Vis {} Class {}, {}, Size {}",
            (("Vest", "T-Shirt", "Jacket"), ("2", "3"), ("Lime", "Orange"), ("M", "L", "XL", "2XL")),
            "u",
            (6.00, 58.00),
        ),
        Family(
            "Ear Plugs, {}, {}",
            (("Foam", "Corded Foam", "Reusable Silicone", "Banded"), ("Pair", "Box of 100", "Box of 200")),
            "u",
            (0.30, 64.00),
        ),
        Family(
            "{} Hard Hat, {}, {}",
            (
                ("Cap-Style", "Full-Brim", "Vented Cap-Style"),
                ("White", "Yellow", "Orange", "Blue", "Red"),
                ("4-Point Ratchet", "6-Point Ratchet"),
            ),
            "u",
            (9.50, 36.00),
        ),
        Family(
            "N95 Respirator {}, Size {}, {}",
            (("Standard", "With Valve"), ("S/M", "M/L"), ("Each", "Box of 20")),
            "u",
            (0.95, 32.00),
        ),
    ),
    "Janitorial": (
        Family(
            "{} Trash Liner {} gal, {}",
            (
                ("Low-Density", "High-Density", "Compostable"),
                ("7", "13", "33", "45", "55", "60"),
                ("Black", "Clear", "Green", "Blue"),
            ),
            "u",
            (0.08, 0.95),
        ),
        Family(
            "{} Cleaner, {}",
            (
                (
                    "All-Purpose",
                    "Glass",
                    "Degreaser",
                    "Disinfectant",
                    "Neutral Floor",
                    "Bathroom",
                    "Carpet Extraction",
                    "Stainless Steel",
                ),
                ("Concentrate", "Ready-to-Use", "Lemon", "Unscented"),
            ),
            "l",
            (2.20, 14.00),
        ),
        Family(
            "Absorbent {}, {}",
            (("Granules", "Pellets", "Sweeping Compound"), ("Clay", "Corn Cob", "Cellulose")),
            "kg",
            (0.85, 4.50),
        ),
        Family(
            "{} Paper Towel, {}",
            (("Roll", "Multifold", "C-Fold", "Center-Pull"), ("White", "Natural", "Recycled")),
            "u",
            (0.90, 6.50),
        ),
        Family(
            "Toilet Tissue {}-Ply, {} Sheets, {}",
            (("1", "2"), ("500", "1000", "2000"), ("Standard Roll", "Jumbo Roll")),
            "u",
            (0.60, 5.20),
        ),
        Family(
            "{} Mop Head {}, {}",
            (
                ("Cotton Loop", "Microfiber", "Rayon Cut-End"),
                ("16 oz", "24 oz", "32 oz"),
                ("White", "Blue", "Green"),
            ),
            "u",
            (3.40, 16.00),
        ),
        Family(
            "{} Hand Soap, {}",
            (("Foam", "Gel", "Antibacterial", "Lotion"), ("Unscented", "Citrus", "Green Certified")),
            "l",
            (3.10, 12.00),
        ),
    ),
    "Adhesives & Sealants": (
        Family(
            "{} Sealant {} oz, {}",
            (
                ("Silicone", "Polyurethane", "Acrylic Latex", "Fire-Barrier", "Butyl", "Hybrid Polymer"),
                ("10.1", "20", "28"),
                ("Clear", "White", "Gray", "Black"),
            ),
            "u",
            (4.20, 22.00),
        ),
        Family(
            "{} Tape {} x {} yd",
            (
                ("Duct", "Electrical", "Masking", "Teflon", "Foil", "Double-Sided Foam"),
                ('1"', '2"', '3"'),
                ("10", "30", "60"),
            ),
            "u",
            (0.80, 12.50),
        ),
        Family(
            "{} Construction Adhesive {} oz",
            (("Heavy-Duty", "Subfloor", "Panel & Foam", "Landscape"), ("10", "28")),
            "u",
            (3.60, 14.00),
        ),
        Family(
            "{} Epoxy, {}",
            (("5-Minute", "Marine", "Steel-Filled"), ("1 oz Syringe", "4.5 oz Kit", "1 qt Kit")),
            "u",
            (5.20, 58.00),
        ),
        Family(
            "Threadlocker {}, {} ml",
            (
                ("Blue Medium", "Red High-Strength", "Purple Low-Strength", "Green Wicking"),
                ("10", "50", "250"),
            ),
            "u",
            (6.80, 96.00),
        ),
    ),
    "Packaging": (
        Family(
            "Corrugated Box {} x {} x {} in",
            (("8", "10", "12", "16", "18", "24"), ("6", "8", "10", "12", "18"), ("4", "6", "12")),
            "u",
            (0.45, 4.80),
        ),
        Family(
            "{} Stretch Film {}, {}",
            (("Cast", "Blown", "Pre-Stretched"), ("12 in", "18 in", "20 in"), ("60 ga", "80 ga", "90 ga")),
            "u",
            (18.00, 46.00),
        ),
        Family(
            "{} Strapping {}",
            (("Polypropylene", "Polyester", "Steel"), ('1/2"', '5/8"', '3/4"')),
            "m",
            (0.03, 0.35),
        ),
        Family(
            "Poly Mailer {} in, {}",
            (("6 x 9", "10 x 13", "12 x 15.5", "14.5 x 19"), ("White", "Clear", "Bubble-Lined")),
            "u",
            (0.09, 0.85),
        ),
        Family(
            "Bubble Wrap {} x {} ft, {}",
            (
                ('3/16"', '5/16"', '1/2"'),
                ('12" x 175', '24" x 175', '48" x 125'),
                ("Perforated", "Non-Perforated"),
            ),
            "u",
            (14.00, 92.00),
        ),
    ),
}


@dataclass(frozen=True)
class ProductSpec:
    code: str
    name: str
    category: str
    uom: str
    list_price: Decimal
    cost_price: Decimal
    active: bool
    on_hand: int  # 0 = out of stock


def _expand(family: Family) -> Iterator[str]:
    for combo in itertools.product(*family.options):
        yield family.pattern.format(*combo)


def _tagged(family: Family) -> Iterator[tuple[str, Family]]:
    return ((name, family) for name in _expand(family))


def _category_names(families: Sequence[Family]) -> Iterator[tuple[str, Family]]:
    """Interleave the families of a category; once exhausted, repeat with a 'Lot' suffix."""
    for lot in itertools.count():
        for batch in itertools.zip_longest(*(_tagged(f) for f in families)):
            for item in batch:
                if item is not None:
                    name, family = item
                    yield (f"{name} (Lot {lot})" if lot else name), family


def _price(rng: random.Random, low: float, high: float) -> Decimal:
    """A list price: cheap per-piece items get 4 decimals, others 2 or 3."""
    value = Decimal(str(rng.uniform(low, high)))
    if value < 1:
        return value.quantize(Decimal("0.0001"))
    return value.quantize(Decimal("0.001") if rng.random() < 0.25 else Decimal("0.01"))


def product_specs(count: int) -> list[ProductSpec]:
    """The deterministic catalogue: SKU-00001.. round-robin over the categories."""
    rng = random.Random(20260101)  # noqa: S311 - reproducible test data, not crypto
    generators = {cat: _category_names(fams) for cat, fams in CATALOGUE.items()}
    categories = itertools.cycle(CATALOGUE)
    specs = []
    for i in range(1, count + 1):
        category = next(categories)
        name, family = next(generators[category])
        list_price = _price(rng, *family.price)
        cost = (list_price * Decimal(str(rng.uniform(0.55, 0.75)))).quantize(Decimal("0.0001"))
        active = i % 33 != 0  # about 3 % archived products
        in_stock = active and i % 10 != 7  # about 10 % of active products out of stock
        on_hand = {"u": rng.randint(5, 800), "kg": rng.randint(20, 400), "m": rng.randint(50, 1500)}.get(
            family.uom, rng.randint(10, 200)
        )
        specs.append(
            ProductSpec(
                code=f"SKU-{i:05d}",
                name=name,
                category=category,
                uom=family.uom,
                list_price=list_price,
                cost_price=cost,
                active=active,
                on_hand=on_hand if in_stock else 0,
            )
        )
    return specs


# --------------------------------------------------------------------------- seeding


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Seeder:
    """Builds the data set step by step inside one trytond transaction."""

    def __init__(self, pool: Any, transaction: Any) -> None:
        self.pool = pool
        self.transaction = transaction
        self.today = pool.get("ir.date").today()  # company timezone aware

    def run(self, specs: list[ProductSpec], demo_invoices: bool = False) -> dict[str, Any]:
        """Seed everything (runs as root until the company exists, then as admin); the demo invoices
        only when asked."""
        usd = self.currency()
        us = self.country()
        company = self.company(usd, us)
        admin, context = self.attach_admin(company)
        with self.transaction.set_user(admin.id), self.transaction.set_context(context):
            accounts = self.chart(company)
            years = self.fiscal_years(company)
            terms = self.payment_terms()
            payment_method = self.payment_method(company)
            hold = self.party_category(HOLD_CATEGORY)
            customers = self.customers(us, terms)
            categories = self.categories(accounts)
            self.products(categories, specs)
            storage = self.stock(company, usd, specs)
            users = self.users(company)
            invoices = self.demo_invoices(customers, terms["Net 30"], payment_method, create=demo_invoices)
            Product = self.get("product.product")
            sku = ("code", "like", "SKU-%")
            with self.transaction.set_context(locations=[storage]):
                in_stock = Product.search_count([sku, ("quantity", ">", 0)])
            return {
                "company": company.id,
                "currency": usd.id,
                "fiscal_years": [y.name for y in years],
                "payment_terms": {name: t.id for name, t in terms.items()},
                "payment_method": {"id": payment_method.id, "name": payment_method.name},
                "party_categories": {hold.name: hold.id},
                "customers": [
                    {
                        "id": p.id,
                        "code": p.code,
                        "name": p.name,
                        "payment_term": p.customer_payment_term.name if p.customer_payment_term else None,
                        "credit_limit": str(p.credit_limit_amount),
                        "addresses": len(p.addresses),
                    }
                    for p in customers
                ],
                "categories": {name: c.id for name, c in categories.items()},
                "products": Product.search_count([sku]),
                "products_inactive": Product.search_count([sku, ("active", "=", False)]),
                "products_in_stock": in_stock,
                "storage_location": storage,
                "users": {login: u.id for login, u in users.items()},
                "demo_invoices": [
                    {
                        "id": i.id,
                        "reference": i.reference,
                        "number": i.number,
                        "customer": i.party.code,
                        "invoice_date": i.invoice_date.isoformat(),
                        "due_date": min(
                            line.maturity_date for line in i.lines_to_pay if line.maturity_date
                        ).isoformat(),
                        "total_amount": str(i.total_amount),
                        "amount_to_pay": str(i.amount_to_pay),
                        "state": i.state,
                    }
                    for i in invoices
                ],
            }

    def get(self, name: str, **kwargs: Any) -> Any:
        return self.pool.get(name, **kwargs)

    def xml_id(self, module: str, fs_id: str) -> int:
        return self.get("ir.model.data").get_id(module, fs_id)

    # -- company ------------------------------------------------------------------

    def currency(self) -> Any:
        Currency = self.get("currency.currency")
        usd = Currency.search([("code", "=", "USD")], limit=1)
        if usd:
            return usd[0]
        (usd,) = Currency.create(
            [
                {
                    "name": "U.S. Dollar",
                    "code": "USD",
                    "numeric_code": "840",
                    "symbol": "$",
                    "rounding": Decimal("0.01"),
                    "digits": 2,
                    "rates": [("create", [{"date": dt.date(1970, 1, 1), "rate": Decimal(1)}])],
                }
            ]
        )
        return usd

    def country(self) -> Any:
        Country = self.get("country.country")
        us = Country.search([("code", "=", "US")], limit=1)
        if us:
            return us[0]
        (us,) = Country.create(
            [{"name": "United States", "code": "US", "code3": "USA", "code_numeric": "840"}]
        )
        return us

    def company(self, usd: Any, us: Any) -> Any:
        Company = self.get("company.company")
        Party = self.get("party.party")
        found = Company.search([("party.name", "=", COMPANY_NAME)], limit=1)
        if found:
            return found[0]
        (party,) = Party.create(
            [
                {
                    "name": COMPANY_NAME,
                    "addresses": [
                        (
                            "create",
                            [
                                {
                                    "street": "500 Harbor Blvd",
                                    "postal_code": "94107",
                                    "city": "San Francisco",
                                    "country": us.id,
                                }
                            ],
                        )
                    ],
                }
            ]
        )
        (company,) = Company.create([{"party": party.id, "currency": usd.id}])
        return company

    def attach_admin(self, company: Any) -> Any:
        """Give admin the company and return the user context the rest of the seed runs with."""
        User = self.get("res.user")
        (admin,) = User.search([("login", "=", "admin")], limit=1)
        User.write([admin], {"companies": [("add", [company.id])], "company": company.id})
        with self.transaction.set_user(admin.id):
            return admin, User.get_preferences(context_only=True)

    # -- accounting ---------------------------------------------------------------

    def chart(self, company: Any) -> dict[str, Any]:
        Account = self.get("account.account")
        if not Account.search([("company", "=", company.id)], limit=1):
            AccountTemplate = self.get("account.account.template")
            CreateChart = self.get("account.create_chart", type="wizard")
            template = AccountTemplate(self.xml_id("account", "account_template_root_en"))
            session_id, _, _ = CreateChart.create()
            wizard = CreateChart(session_id)
            wizard.account.account_template = template
            wizard.account.company = company
            wizard.transition_create_account()
            accounts = self._accounts(company)
            wizard.properties.company = company
            wizard.properties.account_receivable = accounts["receivable"]
            wizard.properties.account_payable = accounts["payable"]
            wizard.properties.category_account_revenue = accounts["revenue"]
            wizard.properties.category_account_expense = accounts["expense"]
            wizard.transition_create_properties()
            CreateChart.delete(session_id)
        return self._accounts(company)

    def _accounts(self, company: Any) -> dict[str, Any]:
        Account = self.get("account.account")
        accounts = {}
        for kind in ("receivable", "payable", "revenue", "expense"):
            domain = [(f"type.{kind}", "=", True), ("company", "=", company.id), ("closed", "!=", True)]
            if kind in ("receivable", "payable"):
                domain.append(("party_required", "=", True))
            (accounts[kind],) = Account.search(domain, limit=1, order=[("code", "ASC"), ("id", "ASC")])
        return accounts

    def fiscal_years(self, company: Any) -> list[Any]:
        FiscalYear = self.get("account.fiscalyear")
        Sequence = self.get("ir.sequence.strict")
        move_type = self.xml_id("account", "sequence_type_account_move")
        invoice_type = self.xml_id("account_invoice", "sequence_type_account_invoice")
        years = []
        # The previous year too: demo invoices (and tests) date invoices back across New Year.
        for year in (self.today.year - 1, self.today.year, self.today.year + 1):
            found = FiscalYear.search([("company", "=", company.id), ("name", "=", str(year))], limit=1)
            if found:
                years.append(found[0])
                continue

            def sequence(name: str, type_id: int, prefix: str | None = None, year: int = year) -> int:
                values = {"name": f"{name} {year}", "sequence_type": type_id, "company": company.id}
                if prefix:
                    values.update(prefix=f"{prefix}/{year}/", padding=5)
                (seq,) = Sequence.create([values])
                return seq.id

            customer_invoices = sequence("Customer Invoices", invoice_type, "INV")
            customer_credits = sequence("Customer Credit Notes", invoice_type, "CN")
            supplier_invoices = sequence("Supplier Invoices", invoice_type, "SINV")
            (fiscal_year,) = FiscalYear.create(
                [
                    {
                        "name": str(year),
                        "company": company.id,
                        "start_date": dt.date(year, 1, 1),
                        "end_date": dt.date(year, 12, 31),
                        "move_sequence": sequence("Account Moves", move_type),
                        "invoice_sequences": [
                            (
                                "create",
                                [
                                    {
                                        "company": company.id,
                                        "out_invoice_sequence": customer_invoices,
                                        "out_credit_note_sequence": customer_credits,
                                        "in_invoice_sequence": supplier_invoices,
                                        "in_credit_note_sequence": supplier_invoices,
                                    }
                                ],
                            )
                        ],
                    }
                ]
            )
            FiscalYear.create_period([fiscal_year])  # monthly periods
            years.append(fiscal_year)
        return years

    def payment_terms(self) -> dict[str, Any]:
        PaymentTerm = self.get("account.invoice.payment_term")
        terms = {}
        for name, days in PAYMENT_TERMS.items():
            found = PaymentTerm.search([("name", "=", name)], limit=1)
            if found:
                terms[name] = found[0]
                continue
            (terms[name],) = PaymentTerm.create(
                [
                    {
                        "name": name,
                        "description": "Payment in advance"
                        if days == 0
                        else f"Due {days} days after invoice",
                        "lines": [
                            (
                                "create",
                                [{"type": "remainder", "relativedeltas": [("create", [{"days": days}])]}],
                            )
                        ],
                    }
                ]
            )
        return terms

    def payment_method(self, company: Any) -> Any:
        """How customers pay invoices (the pay action): the Cash journal, the cash account."""
        Method = self.get("account.invoice.payment.method")
        Account = self.get("account.account")
        found = Method.search([("name", "=", PAYMENT_METHOD), ("company", "=", company.id)], limit=1)
        if found:
            return found[0]
        (cash,) = Account.search(
            [
                ("template", "=", self.xml_id("account", "account_template_1_1_1_en")),
                ("company", "=", company.id),
            ],
            limit=1,
        )
        (method,) = Method.create(
            [
                {
                    "name": PAYMENT_METHOD,
                    "company": company.id,
                    "journal": self.xml_id("account", "journal_cash"),
                    "debit_account": cash.id,
                    "credit_account": cash.id,
                }
            ]
        )
        return method

    def demo_invoices(self, customers: list[Any], term: Any, payment_method: Any, create: bool) -> list[Any]:
        """The DEMO_INVOICES there are (found by reference); with ``create``, post the missing ones (one
        post call: Tryton numbers them in date order) and pay their part."""
        Invoice = self.get("account.invoice")
        Journal = self.get("account.journal")
        Product = self.get("product.product")
        references = [demo.reference for demo in DEMO_INVOICES]
        existing = {
            i.reference for i in Invoice.search([("type", "=", "out"), ("reference", "in", references)])
        }
        missing = [demo for demo in DEMO_INVOICES if create and demo.reference not in existing]
        if missing:
            parties = {p.code: p for p in customers}
            products = {p.code: p for p in Product.search([("code", "in", [demo.sku for demo in missing])])}
            (journal,) = Journal.search([("type", "=", "revenue")], limit=1)
            invoices = Invoice.create(
                [
                    {
                        "type": "out",
                        "party": parties[demo.customer].id,
                        "invoice_address": parties[demo.customer].address_get("invoice").id,
                        "account": parties[demo.customer].account_receivable_used.id,
                        "journal": journal.id,
                        "payment_term": term.id,
                        "invoice_date": self.today - dt.timedelta(days=demo.days_ago),
                        "reference": demo.reference,
                        "lines": [
                            (
                                "create",
                                [
                                    {
                                        "type": "line",
                                        "product": products[demo.sku].id,
                                        "description": products[demo.sku].name,
                                        "quantity": float(demo.quantity),
                                        "unit": products[demo.sku].default_uom.id,
                                        "unit_price": demo.unit_price,
                                        "account": products[demo.sku].account_revenue_used.id,
                                    }
                                ],
                            )
                        ],
                    }
                    for demo in missing
                ]
            )
            # Maturities in the past are the point here: skip Tryton's "payment date in the past".
            with self.transaction.set_context(_skip_warnings=True):
                Invoice.post(invoices)
            for demo, invoice in zip(missing, invoices, strict=True):
                if demo.paid:
                    invoice.pay_invoice(
                        demo.paid,
                        payment_method,
                        self.today - dt.timedelta(days=demo.paid_days_ago),
                        f"Payment {demo.reference}",
                    )
        order = {reference: n for n, reference in enumerate(references)}
        found = Invoice.search([("type", "=", "out"), ("reference", "in", references)])
        return sorted(found, key=lambda i: order[i.reference])

    # -- parties ------------------------------------------------------------------

    def party_category(self, name: str) -> Any:
        Category = self.get("party.category")
        found = Category.search([("name", "=", name), ("parent", "=", None)], limit=1)
        if found:
            return found[0]
        (category,) = Category.create([{"name": name}])
        return category

    def customers(self, us: Any, terms: dict[str, Any]) -> list[Any]:
        Party = self.get("party.party")
        existing = {p.code for p in Party.search([("code", "like", "CUST-%")])}
        values = []
        for c in CUSTOMERS:
            if c.code in existing:
                continue
            # The first address is the billing and default shipping address (Tryton picks
            # the first address flagged for a type); a second one is an extra ship-to.
            addresses = [
                {
                    "street": street,
                    "postal_code": zip_code,
                    "city": city,
                    "country": us.id,
                    "invoice": n == 0,
                    "delivery": True,
                }
                for n, (street, zip_code, city) in enumerate(c.addresses)
            ]
            values.append(
                {
                    "name": c.name,
                    "code": c.code,
                    "addresses": [("create", addresses)],
                    "contact_mechanisms": [
                        ("create", [{"type": "email", "value": c.email}, {"type": "phone", "value": c.phone}])
                    ],
                    "customer_payment_term": terms[c.payment_term].id,
                    # per-company MultiValue (stored for the context company); only admin and
                    # group_credit_limit may write it, which is why the seed runs as admin.
                    "credit_limit_amount": Decimal(c.credit_limit),
                }
            )
        if values:
            Party.create(values)
        return Party.search([("code", "like", "CUST-%")], order=[("code", "ASC")])

    # -- products -----------------------------------------------------------------

    def categories(self, accounts: dict[str, Any]) -> dict[str, Any]:
        Category = self.get("product.category")
        categories = {}
        for name in CATALOGUE:
            found = Category.search([("name", "=", name), ("parent", "=", None)], limit=1)
            if found:
                categories[name] = found[0]
                continue
            (categories[name],) = Category.create(
                [
                    {
                        "name": name,
                        "accounting": True,
                        "account_revenue": accounts["revenue"].id,
                        "account_expense": accounts["expense"].id,
                    }
                ]
            )
        return categories

    def products(self, categories: dict[str, Any], specs: list[ProductSpec]) -> None:
        Template = self.get("product.template")
        Product = self.get("product.product")
        Uom = self.get("product.uom")
        uoms = {u.symbol: u.id for u in Uom.search([("symbol", "in", ["u", "kg", "m", "l"])])}
        with self.transaction.set_context(active_test=False):
            existing = {p.code for p in Product.search([("code", "like", "SKU-%")])}
        missing = [s for s in specs if s.code not in existing]
        for batch in _chunks(missing, TEMPLATE_BATCH):
            Template.create(
                [
                    {
                        "name": s.name,
                        "type": "goods",
                        "default_uom": uoms[s.uom],
                        "sale_uom": uoms[s.uom],
                        "salable": True,
                        "list_price": s.list_price,
                        "account_category": categories[s.category].id,
                        "categories": [("add", [categories[s.category].id])],
                        "active": s.active,
                        "products": [
                            (
                                "create",
                                [{"suffix_code": s.code, "cost_price": s.cost_price, "active": s.active}],
                            )
                        ],
                    }
                    for s in batch
                ]
            )

    def stock(self, company: Any, usd: Any, specs: list[ProductSpec]) -> int:
        """Receive the on-hand quantities from the supplier location into storage (done moves)."""
        Move = self.get("stock.move")
        Product = self.get("product.product")
        supplier = self.xml_id("stock", "location_supplier")
        storage = self.xml_id("stock", "location_storage")
        wanted = {s.code: s for s in specs if s.on_hand}
        products = Product.search([("code", "in", list(wanted))])
        received = {
            m.product.id
            for m in Move.search([("from_location", "=", supplier), ("to_location", "=", storage)])
        }
        values = [
            {
                "product": p.id,
                "unit": p.default_uom.id,
                "quantity": float(wanted[p.code].on_hand),
                "from_location": supplier,
                "to_location": storage,
                "company": company.id,
                "unit_price": wanted[p.code].cost_price,
                "currency": usd.id,
                "planned_date": self.today,
                "effective_date": self.today,
            }
            for p in products
            if p.id not in received
        ]
        for batch in _chunks(values, MOVE_BATCH):
            Move.do(Move.create(batch))
        return storage

    # -- users --------------------------------------------------------------------

    def users(self, company: Any) -> dict[str, Any]:
        User = self.get("res.user")
        users = {}
        for login, name, groups in (
            (PORTAL_LOGIN, "B2B Portal (service)", PORTAL_GROUPS),
            (PORTAL_FINANCE_LOGIN, "B2B Portal Finance (service)", PORTAL_GROUPS + FINANCE_EXTRA_GROUPS),
        ):
            with self.transaction.set_context(active_test=False):
                found = User.search([("login", "=", login)], limit=1)
            if found:
                users[login] = found[0]
                continue
            group_ids = [self.xml_id(*xml_id.split(".")) for xml_id in groups]
            (users[login],) = User.create(
                [
                    {
                        "login": login,
                        "name": name,
                        "password": PORTAL_PASSWORD,
                        "groups": [("add", group_ids)],
                        "companies": [("add", [company.id])],
                        "company": company.id,
                    }
                ]
            )
        return users


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-c", "--config", required=True, help="trytond configuration file")
    parser.add_argument("-d", "--database", default="erp")
    parser.add_argument("--products", type=int, default=1200, help="number of SKU-nnnnn products")
    parser.add_argument(
        "--demo-invoices",
        action="store_true",
        help="also post the demo invoices (credit aging, dated from today) of CUST-009 and CUST-010",
    )
    args = parser.parse_args(argv)

    import trytond.config

    trytond.config.update_etc(args.config)
    from trytond.cache import Cache
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError

    Pool.start()
    pool = Pool(args.database)
    pool.init()

    specs = product_specs(args.products)
    # trytond >= 7 asks for table locks lazily: the first lock_table() inside a running
    # transaction raises a TransactionError whose fix() records the table, and the whole
    # transaction must be restarted with it locked up front (what the RPC dispatcher and
    # trytond's own test decorator do). The seed is idempotent, so a restart is harmless.
    extras: dict[str, Any] = {}
    while True:
        with Transaction().start(args.database, 0, **extras) as transaction:
            try:
                summary = Seeder(pool, transaction).run(specs, demo_invoices=args.demo_invoices)
            except TransactionError as error:
                transaction.rollback()
                Cache.drop(args.database)
                error.fix(extras)
                continue
        break
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
