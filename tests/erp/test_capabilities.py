"""The engine and the pages follow what the configured ERP can do (``Connector.capabilities``): an ERP
without price lists gets no price-list pushes nor comparisons, an order in an ERP that cannot confirm
through its API says who must release it, and ``erp_check`` says what each ERP can and cannot do."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from apps.accounts.models import Role, StaffRole
from apps.erp import selectors, services
from apps.erp.connectors import capabilities_for
from apps.erp.models import ErpConnection, SyncJob
from apps.pricing import services as pricing
from apps.pricing.erp import PRICE_LIST_PUSH
from apps.pricing.models import PriceTier
from apps.purchase_orders import services as orders
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import CompanyFactory, MembershipFactory, UserFactory
from tests.credit.factories import InvoiceFactory
from tools.erp_sim.business_central import CLIENT_ID, CLIENT_SECRET, COMPANY_NAME, BusinessCentralSimulator
from tools.erp_sim.odoo import API_KEY, DATABASE, OdooSim

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("kind", "jobs"), [("tryton", 1), ("odoo", 1), ("business_central", 0)])
def test_price_lists_are_pushed_only_to_an_erp_that_has_them(settings, kind: str, jobs: int) -> None:
    settings.ERP_KIND = kind
    company = CompanyFactory(erp_party_id="42")
    gold = PriceTier.objects.create(name="Gold", default_discount_percent=Decimal("10"))

    pricing.company_tier_assign(actor=UserFactory(), company=company, tier=gold)

    assert SyncJob.objects.filter(kind=PRICE_LIST_PUSH).count() == jobs
    assert capabilities_for(kind).price_lists is bool(jobs)


def test_the_drift_page_leaves_out_what_the_erp_does_not_keep(settings, staff_factory) -> None:
    settings.ERP_KIND = ErpConnection.Kind.BUSINESS_CENTRAL
    client = Client()
    client.force_login(staff_factory(StaffRole.ADMIN))

    html = client.get(reverse("sync-drift")).content.decode()

    overview = selectors.drift_overview()
    assert "price_lists" not in [row.entity for row in overview.entities]
    assert "orders" in [row.entity for row in overview.entities]
    assert overview.not_kept == ["Price lists"]
    assert "Not compared, the ERP does not keep them: Price lists." in html
    settings.ERP_KIND = ErpConnection.Kind.TRYTON
    assert selectors.drift_overview().not_kept == []


@pytest.mark.parametrize(("kind", "shown"), [("business_central", True), ("tryton", False), ("odoo", False)])
def test_an_order_sent_to_an_erp_that_cannot_confirm_says_who_releases_it(
    settings, kind: str, shown: bool
) -> None:
    settings.ERP_KIND = kind
    company = CompanyFactory()
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    order = orders.purchase_order_draft_get(company=company, buyer=buyer)
    PurchaseOrder.objects.filter(pk=order.pk).update(
        status=PurchaseOrder.Status.SENT_TO_ERP, erp_reference="S-1042", customer_po_number="PO-REL"
    )
    client = Client()
    client.force_login(buyer)

    html = client.get(reverse("po-detail", args=[order.pk])).content.decode()

    assert ('data-field="erp-release"' in html) is shown
    if shown:
        assert "In the ERP as S-1042, waiting for the wholesaler's team to release it there" in html


@pytest.fixture
def business_central(settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[BusinessCentralSimulator]:  # type: ignore[no-untyped-def]
    sim = BusinessCentralSimulator().start()
    settings.ERP_KIND = ErpConnection.Kind.BUSINESS_CENTRAL
    settings.ERP_URL = sim.api_url
    settings.ERP_DATABASE = COMPANY_NAME
    settings.ERP_USERNAME = CLIENT_ID
    settings.ERP_BC_TENANT_ID = sim.tenant_id
    settings.ERP_BC_TOKEN_URL = sim.token_url
    monkeypatch.setenv("ERP_PASSWORD", CLIENT_SECRET)
    yield sim
    sim.stop()


@pytest.fixture
def odoo(settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[OdooSim]:  # type: ignore[no-untyped-def]
    sim = OdooSim(products=20).start()
    settings.ERP_KIND = ErpConnection.Kind.ODOO
    settings.ERP_URL = sim.url
    settings.ERP_DATABASE = DATABASE
    settings.ERP_USERNAME = "portal-bot"
    monkeypatch.setenv("ERP_PASSWORD", API_KEY)
    yield sim
    sim.stop()


def _check() -> str:
    out = StringIO()
    call_command("erp_check", "--page-size", "2", stdout=out)
    return out.getvalue()


def test_erp_check_against_business_central(business_central: BusinessCentralSimulator) -> None:
    output = _check()

    assert "ERP: Microsoft Dynamics 365 Business Central (API v2.0) at " in output
    assert "Signed in: " in output
    assert "  pull customers: 2 record(s)" in output
    assert "reconcile price_lists" not in output  # BC keeps none
    assert "calls the portal when records change" in output
    assert "no price lists: each order line carries the portal's unit price" in output
    assert "orders cannot be confirmed through the API" in output
    assert "no quotations: the ERP sees a quote only once its order is pushed" in output
    assert "gives each invoice's own document" in output
    assert "no invoice payments: statements show what is paid of an invoice as one line" in output
    assert services.connection_get_default().options == {
        "environment": "production",
        "tenant_id": business_central.tenant_id,
        "token_url": business_central.token_url,
    }


def test_erp_check_against_odoo(odoo: OdooSim) -> None:
    output = _check()

    assert "ERP: Odoo (JSON-2) at " in output
    assert "  pull products: 2 record(s)" in output
    assert "  reconcile price_lists: " in output
    assert "It can: pushes price lists; keeps ship-to addresses as records; confirms orders" in output
    assert "the ERP does not enforce credit limits: the portal's credit check is the only one" in output
    assert "keeps offered quotes as quotations" in output
    assert "no invoice documents: customers download statements, not the ERP's invoices" in output
    assert "no invoice payments: statements show what is paid of an invoice as one line" in output


def _bc_invoice(sim: BusinessCentralSimulator) -> str:
    """A posted sales invoice in the simulator (an order shipped and invoiced)."""
    with sim.lock:
        order = sim.company.create_order(
            {
                "customerNumber": "CUST-001",
                "externalDocumentNumber": "PO-DOC",
                "salesOrderLines": [{"lineObjectNumber": "SKU-00001", "quantity": 2, "unitPrice": "1.50"}],
            }
        )
    return sim.ship_and_invoice(str(order["id"]))


def test_a_business_central_invoice_downloads_as_its_pdf(
    business_central: BusinessCentralSimulator, client: Client
) -> None:
    company = CompanyFactory()
    invoice_id = _bc_invoice(business_central)
    number = business_central.record("salesInvoices", invoice_id)["number"]
    invoice = InvoiceFactory(company=company, erp_id=invoice_id, number=number)
    client.force_login(MembershipFactory(company=company, role=Role.VIEWER).user)

    page = client.get(reverse("buyer-invoices")).content.decode()
    response = client.get(reverse("buyer-invoice-document", args=[invoice.pk]))

    assert reverse("buyer-invoice-document", args=[invoice.pk]) in page
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{number}.pdf"'
    assert f"Sales Invoice {number}" in PdfReader(BytesIO(response.content)).pages[0].extract_text()


def test_odoo_gives_no_invoice_documents_and_the_page_offers_none(odoo: OdooSim, client: Client) -> None:
    company = CompanyFactory()
    invoice = InvoiceFactory(company=company, erp_id="7", number="INV/2026/0007")
    client.force_login(MembershipFactory(company=company, role=Role.BUYER).user)

    page = client.get(reverse("buyer-invoices")).content.decode()
    response = client.get(reverse("buyer-invoice-document", args=[invoice.pk]), follow=True)

    assert "data-invoice-document" not in page
    assert "INV/2026/0007" in page
    assert "The ERP gives no invoice documents: ask the wholesaler for a copy." in response.content.decode()
