"""The list pages: access, adding from every source, CSV in and out, sending, bounded queries."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from apps.accounts.models import Company, Membership, Role
from apps.credit.models import InvoiceLine
from apps.order_lists import services
from apps.order_lists.models import OrderList, OrderListLine
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from tests.catalog.factories import ProductFactory
from tests.credit.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer(company: Company, member_factory: Callable[..., Membership]) -> Membership:
    return member_factory(company, Role.BUYER)


def _client(member: Membership) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def _list(member: Membership, name: str = "Weekly", **options: object) -> OrderList:
    return services.order_list_create(membership=member, name=name, **options)  # type: ignore[arg-type]


def _add(order_list: OrderList, member: Membership, *rows: tuple[str, str]) -> None:
    lines = [ParsedLine(n, sku, Decimal(q), "") for n, (sku, q) in enumerate(rows, 1)]
    services.order_list_lines_add(order_list=order_list, membership=member, lines=lines)


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_foreign_and_private_lists_are_404_and_untouched(
    buyer: Membership, other_company: Company, member_factory: Callable[..., Membership], company: Company
) -> None:
    ProductFactory(sku="BOLT")
    foreign = _list(member_factory(other_company, Role.BUYER), visibility="company", colleagues_can_edit=True)
    private = _list(member_factory(company, Role.BUYER), name="Mine")
    client = _client(buyer)

    for order_list in (foreign, private):
        assert client.get(reverse("order-list-detail", args=[order_list.pk])).status_code == 404
        assert client.get(reverse("order-list-export", args=[order_list.pk])).status_code == 404
        response = client.post(reverse("order-list-quick", args=[order_list.pk]), {"lines": "BOLT 1"})
        assert response.status_code == 404
        response = client.post(reverse("order-list-add-product"), {"list": order_list.pk, "sku": "BOLT"})
        assert response.status_code == 404
        response = client.post(reverse("order-list-delete", args=[order_list.pk]))
        assert response.status_code == 404
    assert not OrderListLine.objects.exists()
    assert OrderList.objects.count() == 2
    page = client.get(reverse("order-lists")).content.decode()
    assert "Mine" not in page
    assert foreign.name not in page


def test_a_read_only_list_refuses_edits_with_a_message(
    buyer: Membership, company: Company, member_factory: Callable[..., Membership]
) -> None:
    ProductFactory(sku="BOLT")
    owner = member_factory(company, Role.BUYER)
    shared = _list(owner, visibility="company")
    _add(shared, owner, ("BOLT", "2"))
    line = shared.lines.get()
    client = _client(buyer)

    page = client.get(reverse("order-list-detail", args=[shared.pk])).content.decode()
    assert "This list is read-only for you." in page
    assert "Send the whole list to my draft" in page
    response = client.post(
        reverse("order-list-line", args=[shared.pk, line.pk]), {"quantity": "9"}, follow=True
    )

    assert "is read-only for you" in response.content.decode()
    line.refresh_from_db()
    assert line.default_quantity == 2


def test_a_departed_owners_list_says_so(
    buyer: Membership, company: Company, member_factory: Callable[..., Membership]
) -> None:
    owner = member_factory(company, Role.BUYER, first_name="Dana", last_name="Left")
    shared = _list(owner, visibility="company", colleagues_can_edit=True)
    owner.is_active = False
    owner.save()

    page = _client(buyer).get(reverse("order-list-detail", args=[shared.pk])).content.decode()

    assert "Dana Left is no longer a member" in page
    assert "Paste lines" not in page


def test_add_from_catalog_draft_and_order(buyer: Membership, company: Company) -> None:
    ProductFactory(sku="BOLT")
    ProductFactory(sku="NUT")
    ProductFactory(sku="OLD")
    order_list = _list(buyer)
    client = _client(buyer)

    response = client.post(
        reverse("order-list-add-product"), {"list": order_list.pk, "sku": "bolt", "quantity": "3"}
    )
    assert response.status_code == 302
    response = client.post(
        reverse("order-list-add-product"), {"list": order_list.pk, "sku": "NUT", "quantity": "0"}
    )
    assert not order_list.lines.filter(product__sku="NUT").exists()

    draft = PurchaseOrder.objects.create(company=company, buyer=buyer.user)
    PurchaseOrderLine.objects.create(
        purchase_order=draft, product=ProductFactory(sku="PIN"), quantity=5, note="n"
    )
    response = client.post(reverse("order-list-add-draft"), {"list": order_list.pk, "go": "list"})
    assert response["Location"] == reverse("order-list-detail", args=[order_list.pk])

    past = PurchaseOrder.objects.create(
        company=company, buyer=buyer.user, customer_po_number="PO-1", status=PurchaseOrder.Status.CLOSED
    )
    PurchaseOrderLine.objects.create(
        purchase_order=past, product_id=order_list.lines.get(product__sku="BOLT").product_id, quantity=2
    )
    old = PurchaseOrderLine.objects.create(
        purchase_order=past, product=ProductFactory(sku="GONE"), quantity=1
    )
    old.product.is_active = False
    old.product.save()
    response = client.post(
        reverse("order-list-add-order", args=[past.pk]), {"new_list": "From PO-1"}, follow=True
    )

    assert "GONE: no longer sold" in response.content.decode()
    lines = {line.product.sku: line.default_quantity for line in order_list.lines.select_related("product")}
    assert lines == {"BOLT": 3, "PIN": 5}
    from_order = OrderList.objects.get(name="From PO-1")
    assert {
        line.product.sku: line.default_quantity for line in from_order.lines.select_related("product")
    } == {"BOLT": 2}


def test_a_new_list_whose_lines_are_all_refused_is_not_kept(buyer: Membership, company: Company) -> None:
    past = PurchaseOrder.objects.create(
        company=company, buyer=buyer.user, customer_po_number="PO-2", status=PurchaseOrder.Status.CLOSED
    )
    PurchaseOrderLine.objects.create(
        purchase_order=past, product=ProductFactory(sku="GONE", is_active=False), quantity=1
    )

    response = _client(buyer).post(
        reverse("order-list-add-order", args=[past.pk]), {"new_list": "Nope"}, follow=True
    )

    assert "Nothing added, so no list was created: GONE: no longer sold" in response.content.decode()
    assert not OrderList.objects.exists()


def test_another_companys_order_cannot_be_copied(
    buyer: Membership, other_company: Company, member_factory: Callable[..., Membership]
) -> None:
    stranger = member_factory(other_company, Role.BUYER)
    order = PurchaseOrder.objects.create(company=other_company, buyer=stranger.user, customer_po_number="X")
    PurchaseOrderLine.objects.create(purchase_order=order, product=ProductFactory(), quantity=1)

    response = _client(buyer).post(reverse("order-list-add-order", args=[order.pk]), {"new_list": "Spy"})

    assert response.status_code == 404
    assert not OrderList.objects.exists()


SPREADSHEETS = {
    "excel-semicolon-bom": (
        "\ufeffArtikelnummer;Menge;Bemerkung\r\nBOLT;1.000;Lager 2\r\nNUT;2,5;\r\n".encode()
    ),
    "utf16-tabs": "Item #\tQty\tComment\r\nBOLT\t1000\tLager 2\r\nNUT\t2.5\t\r\n".encode("utf-16"),
    "xlsx": _xlsx(
        [
            ["Part number", "Description", "Quantity", "Note"],
            ["BOLT", "Hex", 1000, "Lager 2"],
            ["NUT", "M8", 2.5, None],
        ]
    ),
}


@pytest.mark.parametrize("shape", list(SPREADSHEETS))
def test_csv_import_reads_real_spreadsheet_shapes(buyer: Membership, shape: str) -> None:
    ProductFactory(sku="BOLT")
    ProductFactory(sku="NUT", order_minimum=Decimal("0.5"), order_increment=Decimal("0.5"))
    order_list = _list(buyer)

    response = _client(buyer).post(
        reverse("order-list-csv", args=[order_list.pk]),
        {"file": SimpleUploadedFile("list.csv", SPREADSHEETS[shape])},
    )

    assert response.status_code == 200
    lines = {
        line.product.sku: (line.default_quantity, line.note)
        for line in order_list.lines.select_related("product")
    }
    assert lines == {"BOLT": (Decimal(1000), "Lager 2"), "NUT": (Decimal("2.5"), "")}


def test_an_unreadable_file_adds_nothing_and_says_why(buyer: Membership) -> None:
    order_list = _list(buyer)

    response = _client(buyer).post(
        reverse("order-list-csv", args=[order_list.pk]),
        {"file": SimpleUploadedFile("list.csv", b"SKU;Price\nBOLT;3\n")},
        follow=True,
    )

    assert "The header row has no quantity column" in response.content.decode()
    assert not order_list.lines.exists()


def test_export_reads_back_as_the_same_list(buyer: Membership) -> None:
    ProductFactory(sku="BOLT", name="Hex bolt, M8", list_price=Decimal("2.0000"))
    nut = ProductFactory(
        sku="NUT", list_price=Decimal("1.0000"), order_minimum=Decimal("0.5"), order_increment=Decimal("0.5")
    )
    source = _list(buyer, name="Source list")
    services.order_list_lines_add(
        order_list=source,
        membership=buyer,
        lines=[
            ParsedLine(1, "BOLT", Decimal("1000"), "dock; door 3"),
            ParsedLine(2, "NUT", Decimal("2.5"), ""),
        ],
    )
    nut.list_price = Decimal("1.2500")
    nut.save()
    client = _client(buyer)

    response = client.get(reverse("order-list-export", args=[source.pk]))

    content = response.content
    assert response["Content-Disposition"] == 'attachment; filename="source-list.csv"'
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows == [
        ["SKU", "Name", "Quantity", "Note", "Price when added", "Today's price", "Currency"],
        ["BOLT", "Hex bolt, M8", "1000", "dock; door 3", "2.0000", "2.0000", "USD"],
        ["NUT", nut.name, "2.5", "", "1.0000", "1.2500", "USD"],
    ]
    copy = _list(buyer, name="Copy")
    client.post(reverse("order-list-csv", args=[copy.pk]), {"file": SimpleUploadedFile("x.csv", content)})
    assert [
        (line.product.sku, line.default_quantity, line.note) for line in copy.lines.select_related("product")
    ] == [
        ("BOLT", Decimal(1000), "dock; door 3"),
        ("NUT", Decimal("2.5"), ""),
    ]


def test_a_2000_line_file_is_added_at_once_in_a_bounded_number_of_queries(
    buyer: Membership, django_assert_max_num_queries: Callable[..., object]
) -> None:
    products = ProductFactory.create_batch(2000)
    order_list = _list(buyer)
    rows = "\r\n".join(f"{product.sku};{n % 7 + 1}" for n, product in enumerate(products))
    content = ("SKU;Qty\r\n" + rows + "\r\nMISSING-1;4\r\n").encode()
    client = _client(buyer)

    with django_assert_max_num_queries(40):  # type: ignore[operator]
        response = client.post(
            reverse("order-list-csv", args=[order_list.pk]), {"file": SimpleUploadedFile("big.csv", content)}
        )

    assert response.status_code == 200
    assert order_list.lines.count() == 2000
    page = response.content.decode()
    assert "2000 line(s) added, 0 merged, 1 refused." in page
    assert "MISSING-1: unknown SKU" in page


def test_lists_page_queries_do_not_grow_with_lists(
    buyer: Membership,
    company: Company,
    member_factory: Callable[..., Membership],
    django_assert_max_num_queries: Callable[..., object],
) -> None:
    for n in range(30):
        owner = member_factory(company, Role.BUYER)
        shared = _list(owner, name=f"Shared {n}", visibility="company")
        OrderListLine.objects.create(order_list=shared, product=ProductFactory(), default_quantity=1)
    client = _client(buyer)

    with django_assert_max_num_queries(10):  # type: ignore[operator]
        response = client.get(reverse("order-lists"))

    assert response.content.decode().count('data-list="Shared') == 30


def test_a_200_line_list_page_in_a_bounded_number_of_queries(
    buyer: Membership, django_assert_max_num_queries: Callable[..., object]
) -> None:
    order_list = _list(buyer)
    OrderListLine.objects.bulk_create(
        OrderListLine(order_list=order_list, product=product, default_quantity=1, added_by=buyer.user)
        for product in ProductFactory.create_batch(200)
    )
    client = _client(buyer)

    with django_assert_max_num_queries(15):  # type: ignore[operator]
        response = client.get(reverse("order-list-detail", args=[order_list.pk]))

    assert response.content.decode().count('<tr data-sku="') == 200


def test_send_page_answers_line_by_line(buyer: Membership) -> None:
    ProductFactory(sku="BOLT")
    gone = ProductFactory(sku="GONE")
    order_list = _list(buyer)
    _add(order_list, buyer, ("BOLT", "2"), ("GONE", "1"))
    gone.is_active = False
    gone.save()
    client = _client(buyer)

    page = client.get(reverse("order-list-detail", args=[order_list.pk])).content.decode()
    assert "Cannot be ordered now: no longer sold" in page
    response = client.post(reverse("order-list-send", args=[order_list.pk]), {"all": "1"})

    page = response.content.decode()
    assert 'data-added="1"' in page
    assert 'data-refused="1"' in page
    assert "GONE: no longer sold." in page
    draft = PurchaseOrder.objects.get(buyer=buyer.user, status=PurchaseOrder.Status.DRAFT)
    assert [line.product.sku for line in draft.lines.select_related("product")] == ["BOLT"]


def test_navigation_shows_order_lists_to_members(
    buyer: Membership, company: Company, member_factory: Callable[..., Membership]
) -> None:
    for member in (buyer, member_factory(company, Role.VIEWER)):
        page = _client(member).get(reverse("buyer-home")).content.decode()
        assert f'href="{reverse("order-lists")}"' in page


def test_add_an_invoices_lines_matched_to_the_catalog(buyer: Membership, company: Company) -> None:
    bolt = ProductFactory(sku="BOLT")
    ProductFactory(sku="NUT")
    gone = ProductFactory(sku="GONE", is_active=False)
    invoice = InvoiceFactory(company=company, number="INV-7")
    for position, (product, sku, description, quantity) in enumerate(
        [
            (bolt, "BOLT", "Hex bolt", "4"),
            (None, "nut", "Nut, matched by SKU", "10"),
            (gone, "GONE", "Withdrawn", "1"),
            (None, "", "Freight", "1"),
        ],
        start=1,
    ):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            product=product,
            sku=sku,
            description=description,
            quantity=Decimal(quantity),
            unit_price=Decimal("1.0000"),
            amount=Decimal(quantity),
        )
    order_list = _list(buyer)
    client = _client(buyer)

    page = client.get(reverse("order-list-detail", args=[order_list.pk])).content.decode()
    assert "Add the lines of invoice INV-7" in page
    response = client.post(
        reverse("order-list-add-invoice", args=[invoice.pk]),
        {"list": order_list.pk, "go": "list"},
        follow=True,
    )

    page = response.content.decode()
    assert "“Freight” names no product" in page
    assert "GONE: no longer sold" in page
    lines = {line.product.sku: line.default_quantity for line in order_list.lines.select_related("product")}
    assert lines == {"BOLT": 4, "NUT": 10}


def test_another_companys_invoice_is_404(
    buyer: Membership, other_company: Company, member_factory: Callable[..., Membership]
) -> None:
    invoice = InvoiceFactory(company=other_company)
    InvoiceLine.objects.create(
        invoice=invoice,
        position=1,
        product=ProductFactory(sku="BOLT"),
        sku="BOLT",
        quantity=1,
        unit_price=1,
        amount=1,
    )
    order_list = _list(buyer)

    response = _client(buyer).post(
        reverse("order-list-add-invoice", args=[invoice.pk]), {"list": order_list.pk}
    )

    assert response.status_code == 404
    assert not order_list.lines.exists()


def test_a_departed_colleagues_list_can_be_copied_into_ones_own(
    buyer: Membership, company: Company, member_factory: Callable[..., Membership]
) -> None:
    ProductFactory(sku="BOLT")
    owner = member_factory(company, Role.BUYER)
    shared = _list(owner, name="Dana's weekly", visibility="company")
    services.order_list_lines_add(
        order_list=shared, membership=owner, lines=[ParsedLine(1, "BOLT", Decimal(6), "top shelf")]
    )
    owner.is_active = False
    owner.save()

    response = _client(buyer).post(reverse("order-list-copy", args=[shared.pk]), {"new_list": "My weekly"})

    copy = OrderList.objects.get(name="My weekly")
    assert response["Location"] == reverse("order-list-detail", args=[copy.pk])
    assert (copy.owner_id, copy.visibility) == (buyer.user_id, OrderList.Visibility.PRIVATE)
    assert [
        (line.product.sku, line.default_quantity, line.note) for line in copy.lines.select_related("product")
    ] == [("BOLT", Decimal(6), "top shelf")]
    assert shared.lines.count() == 1


def test_the_catalog_offers_the_members_editable_lists(
    buyer: Membership, company: Company, member_factory: Callable[..., Membership]
) -> None:
    product = ProductFactory(sku="BOLT")
    mine = _list(buyer, name="Mine")
    read_only = _list(member_factory(company, Role.BUYER), name="Colleague's", visibility="company")
    client = _client(buyer)

    page = client.get(reverse("buyer-catalog")).content.decode()

    assert f'<option value="{mine.pk}">Mine</option>' in page
    assert f'value="{read_only.pk}"' not in page
    response = client.post(
        reverse("order-list-add-product"),
        {"list": mine.pk, "sku": "BOLT", "quantity": "2"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert mine.lines.get().product == product
    viewer_page = _client(member_factory(company, Role.VIEWER)).get(reverse("buyer-catalog")).content.decode()
    assert "Add to list" not in viewer_page


def test_bad_list_forms_are_400_with_the_reason_and_change_nothing(buyer: Membership) -> None:
    weekly = _list(buyer, name="Weekly")
    client = _client(buyer)

    for data, reason in [
        ({"name": "", "visibility": "private"}, "This field is required."),
        ({"name": "Weekly", "visibility": "private"}, "You already have a list called Weekly."),
        ({"name": "Other", "visibility": "everyone"}, "Select a valid choice."),
    ]:
        response = client.post(reverse("order-list-create"), data)
        assert response.status_code == 400
        assert reason in response.content.decode()
    response = client.post(
        reverse("order-list-settings", args=[weekly.pk]), {"name": "x" * 101, "visibility": "company"}
    )

    assert response.status_code == 400
    assert "at most 100 characters" in response.content.decode()
    weekly.refresh_from_db()
    assert (weekly.name, weekly.visibility) == ("Weekly", OrderList.Visibility.PRIVATE)
    assert OrderList.objects.count() == 1


def test_bad_line_input_is_a_message_and_changes_nothing(buyer: Membership) -> None:
    ProductFactory(sku="BOLT")
    weekly = _list(buyer)
    _add(weekly, buyer, ("BOLT", "2"))
    line = weekly.lines.get()
    client = _client(buyer)

    for quantity, reason in [("abc", "is not a number"), ("-1", "more than zero"), ("", "missing")]:
        response = client.post(
            reverse("order-list-line", args=[weekly.pk, line.pk]), {"quantity": quantity}, follow=True
        )
        assert "BOLT: " in response.content.decode()
        assert reason in response.content.decode()
    response = client.post(reverse("order-list-quick", args=[weekly.pk]), {"lines": ""}, follow=True)
    assert "Paste at least one line" in response.content.decode()
    response = client.post(reverse("order-list-line", args=[weekly.pk, 999_999]), {"quantity": "1"})
    assert response.status_code == 404
    line.refresh_from_db()
    assert line.default_quantity == 2


def test_send_ticked_lines_from_the_page(buyer: Membership) -> None:
    ProductFactory(sku="BOLT")
    ProductFactory(sku="NUT")
    order_list = _list(buyer)
    _add(order_list, buyer, ("BOLT", "2"), ("NUT", "3"))
    nut = order_list.lines.get(product__sku="NUT")
    client = _client(buyer)

    response = client.post(reverse("order-list-send", args=[order_list.pk]), {"line": [str(nut.pk)]})

    assert response.status_code == 200
    draft = PurchaseOrder.objects.get(buyer=buyer.user, status=PurchaseOrder.Status.DRAFT)
    assert [(line.product.sku, line.quantity) for line in draft.lines.select_related("product")] == [
        ("NUT", Decimal(3))
    ]
    response = client.post(reverse("order-list-send", args=[order_list.pk]), {}, follow=True)
    assert "Tick the lines to send, or send the whole list." in response.content.decode()
    assert draft.lines.count() == 1
