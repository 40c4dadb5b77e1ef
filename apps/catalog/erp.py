"""How the catalog meets the ERP: products and stock are the ERP's, pulled by their streams. A pull writes
only the ERP's fields; the portal's ordering rules and notes on a product are never touched."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.utils import timezone

from apps.catalog import services
from apps.catalog.models import Category, Product, StockLevel
from apps.core.money import quantize_price
from apps.erp import registry
from apps.erp.connectors.base import ProductRecord, ReconcileRecord, StockRecord, reconcile_text
from apps.erp.registry import Applied, Change, PortalRow

PRODUCTS = "products"
STOCK = "stock"


def _categories(records: list[ProductRecord]) -> dict[str, Category]:
    wanted = {r.category_id: r.category_name or r.category_id for r in records if r.category_id}
    categories = {c.erp_id: c for c in Category.objects.filter(erp_id__in=wanted)}
    for erp_id, name in wanted.items():
        category = categories.get(erp_id)
        if category is None:
            categories[erp_id] = Category.objects.create(erp_id=erp_id, name=name)
        elif category.name != name:
            category.name = name
            category.save(update_fields=["name", "updated_at"])
    return categories


def products_apply(records: list[ProductRecord]) -> Applied:
    categories = _categories(records)
    existing = {p.erp_id: p for p in Product.objects.filter(erp_id__in=[r.erp_id for r in records])}
    to_create: list[Product] = []
    to_update: list[Product] = []
    changes: list[Change] = []
    for record in records:
        values = {
            "sku": record.sku,
            "name": record.name,
            "category": categories.get(record.category_id) if record.category_id else None,
            "unit": record.unit,
            "list_price": record.list_price,
            "cost_price": None if record.cost_price is None else quantize_price(record.cost_price),
            "is_active": record.is_active,
            "erp_updated_at": record.changed_at,
        }
        product = existing.get(record.erp_id)
        if product is None:
            to_create.append(Product(erp_id=record.erp_id, **values))
            continue
        changed = [name for name, value in values.items() if getattr(product, name) != value]
        if not changed:
            continue  # re-read inside the overlap window: nothing new
        notes = []
        if "list_price" in changed:
            notes.append(f"list price {product.list_price} → {record.list_price}")
        if "is_active" in changed:
            notes.append("activated" if record.is_active else "deactivated")
        for name in changed:
            setattr(product, name, values[name])
        to_update.append(product)
        real = [name for name in changed if name != "erp_updated_at"]
        if real:
            changes.append(Change(Product, product.pk, "; ".join(notes) or ", ".join(real) + " changed"))
    if to_create:
        created = Product.objects.bulk_create(to_create)
        changes.extend(Change(Product, p.pk, "product created from the ERP", created=True) for p in created)
    if to_update:
        now = timezone.now()
        for product in to_update:
            product.updated_at = now
        # Only ERP-owned fields: the portal's ordering rules and notes are never written by a pull.
        Product.objects.bulk_update(to_update, [*Product.ERP_FIELDS, "updated_at"])
    return Applied(changed=len(to_create) + len(to_update), changes=changes)


def stock_apply(records: list[StockRecord]) -> Applied:
    products = dict(
        Product.objects.filter(erp_id__in=[r.product_erp_id for r in records]).values_list("erp_id", "pk")
    )
    levels = {
        level.product_id: level for level in StockLevel.objects.filter(product_id__in=products.values())
    }
    to_create, to_update = [], []
    for record in records:
        product_id = products.get(record.product_erp_id)
        if product_id is None:
            continue  # the product arrives with the next products pull; its stock with the one after
        level = levels.get(product_id)
        if level is None:
            to_create.append(StockLevel(product_id=product_id, quantity=record.quantity, as_of=record.as_of))
        else:
            level.quantity, level.as_of = record.quantity, record.as_of
            to_update.append(level)
    StockLevel.objects.bulk_create(to_create)
    StockLevel.objects.bulk_update(to_update, ["quantity", "as_of"])
    return Applied(changed=len(to_create) + len(to_update))


# --- Reconciliation: products and stock compared in full with the ERP --------------------------------------


def products_lookup(records: list[ReconcileRecord]) -> dict[str, PortalRow]:
    return {
        product.erp_id: PortalRow(
            product.pk,
            product.erp_id,
            product.sku,
            {
                "sku": product.sku,
                "name": product.name,
                "list_price": reconcile_text(product.list_price),
                "unit": product.unit,
                "active": reconcile_text(product.is_active),
            },
        )
        for product in Product.objects.filter(erp_id__in=[record.key for record in records])
    }


def products_linked() -> QuerySet[Product]:
    return Product.objects.exclude(erp_id="").annotate(key=F("erp_id"), label=F("sku"))


def stock_lookup(records: list[ReconcileRecord]) -> dict[str, PortalRow]:
    return {
        level.product.erp_id: PortalRow(
            level.pk, level.product.erp_id, level.product.sku, {"quantity": reconcile_text(level.quantity)}
        )
        for level in StockLevel.objects.select_related("product").filter(
            product__erp_id__in=[record.key for record in records]
        )
    }


def stock_linked() -> QuerySet[StockLevel]:
    return StockLevel.objects.exclude(product__erp_id="").annotate(
        key=F("product__erp_id"), label=F("product__sku")
    )


def register() -> None:
    registry.stream_register(
        registry.StreamSpec(
            name=PRODUCTS,
            label="Products",
            fetch=lambda connector, cursor, limit: connector.pull_products(cursor, limit),
        ),
        apply=products_apply,
    )
    registry.stream_register(
        registry.StreamSpec(
            name=STOCK,
            label="Stock",
            fetch=lambda connector, cursor, limit: connector.pull_stock(cursor, limit),
            after=(PRODUCTS,),  # stock refers to products
            snapshot_first=True,
        ),
        apply=stock_apply,
    )
    registry.reconcile_register(
        registry.ReconcileSpec(
            entity=PRODUCTS,
            label="Products and list prices",
            model=Product,
            read=lambda connector, after, limit: connector.reconcile_products(after, limit),
            lookup=products_lookup,
            linked=products_linked,
            on_deleted=services.products_withdraw_deleted_in_erp,
            stream=PRODUCTS,
        )
    )
    registry.reconcile_register(
        registry.ReconcileSpec(
            entity=STOCK,
            label="Stock",
            model=StockLevel,
            read=lambda connector, after, limit: connector.reconcile_stock(after, limit),
            lookup=stock_lookup,
            linked=stock_linked,
            stream=STOCK,
        )
    )
