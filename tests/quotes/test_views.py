"""The quote pages through Django's test client: what each side sees and may do, every refusal a clear
message with nothing changed, and the live poll."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Role, ShipToAddress, StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from apps.quotes import services as quotes
from apps.quotes.models import Quote, QuoteEvent, QuoteVersion
from apps.quotes.views import waiting_for
from tests.accounts.factories import CompanyFactory, MembershipFactory, UserFactory
from tests.quotes.conftest import Team, offer_lines, refreshed, request_lines
from tests.quotes.test_transitions import snapshot

D = Decimal
Status = Quote.Status


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def _messages(response: object) -> list[str]:
    return [str(message) for message in response.context["messages"]]  # type: ignore[attr-defined]


def _in_days(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def _submitted(team: Team) -> Quote:
    return quotes.quote_request(
        company=team.company, buyer=team.buyer, message="Best price?", lines=request_lines(team)
    )


def _in_review(team: Team) -> Quote:
    quote = _submitted(team)
    return quotes.quote_review(quote=quote, actor=team.manager)


def _offered(team: Team) -> Quote:
    quote = _in_review(team)
    quotes.quote_offer(
        quote=quote,
        actor=team.manager,
        lines=offer_lines(team),
        valid_until=timezone.localdate() + timedelta(days=10),
        note="Our best",
    )
    return refreshed(quote)


def _offer_data(
    team: Team,
    bolt: str = "8.50",
    nut: str = "2.10",
    valid_until: str | None = None,
    bolt_quantity: str = "100",
    break_price: str = "8.00",
) -> dict:
    bolt_pk, nut_pk = team.products[0].pk, team.products[1].pk
    return {
        f"quantity_{bolt_pk}": bolt_quantity,
        f"price_{bolt_pk}": bolt,
        f"break_quantity_{bolt_pk}_1": "500",
        f"break_price_{bolt_pk}_1": break_price,
        f"quantity_{nut_pk}": "40",
        f"price_{nut_pk}": nut,
        "valid_until": valid_until or _in_days(10),
        "note": "Best we can do",
    }


def _accept_data(team: Team, po_number: str = "PO-Q-1") -> dict:
    address = ShipToAddress.objects.get(company=team.company, is_default=True)
    return {"customer_po_number": po_number, "ship_to": address.pk}


# --- Asking ---------------------------------------------------------------------------------------------


def test_a_buyer_asks_for_a_quote_from_catalog_lines(team: Team) -> None:
    response = _client(team.buyer).post(
        reverse("quote-request"),
        {"lines": "BOLT 100\nnut 40 rush", "message": "For the spring run", "wanted_date": _in_days(20)},
    )

    quote = Quote.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("quote-detail", kwargs={"quote_id": quote.pk})
    assert quote.status == Status.SUBMITTED
    assert quote.message == "For the spring run"
    assert [(line.product.sku, line.quantity, line.note) for line in quote.request_lines.all()] == [
        ("BOLT", D("100"), ""),
        ("NUT", D("40"), "rush"),
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"lines": "BOLT 100\nNOPE 3"}, "NOPE: unknown SKU"),
        ({"lines": "BOLT 100", "wanted_date": "2020-01-01"}, "Choose today or a later date."),
        ({"lines": ""}, "This field is required."),
        ({"lines": "BOLT 100\nBOLT 5"}, "listed twice"),
        ({"lines": "BOLT -5"}, "Line 1"),
        ({"lines": "BOLT 99999999999999999999"}, "Line 1"),
        ({"lines": "BOLT many"}, "Line 1"),
        ({"lines": "BOLT 5", "wanted_date": "soon"}, "Enter a valid date."),
    ],
)
def test_a_bad_request_is_a_form_error_and_makes_no_quote(team: Team, data: dict, error: str) -> None:
    response = _client(team.buyer).post(reverse("quote-request"), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Quote.objects.exists()


def test_the_draft_order_becomes_a_quote(team: Team) -> None:
    draft = PurchaseOrder.objects.create(company=team.company, buyer=team.buyer)
    PurchaseOrderLine.objects.create(purchase_order=draft, product=team.products[0], quantity=D("250"))
    client = _client(team.buyer)
    assert "Ask for a quote instead" in client.get(reverse("po-builder")).content.decode()

    response = client.post(reverse("quote-from-draft"), {"message": "Can you do better?"})

    quote = Quote.objects.get()
    assert response["Location"] == reverse("quote-detail", kwargs={"quote_id": quote.pk})
    assert [(line.product_id, line.quantity) for line in quote.request_lines.all()] == [
        (team.products[0].pk, D("250"))
    ]
    draft.refresh_from_db()
    assert draft.status == PurchaseOrder.Status.CANCELLED


def test_an_empty_draft_is_refused_with_a_message(team: Team) -> None:
    response = _client(team.buyer).post(reverse("quote-from-draft"), {"message": "x"}, follow=True)

    assert "Add at least one product" in " ".join(_messages(response))
    assert not Quote.objects.exists()


def test_the_buyer_edits_a_submitted_request_but_not_once_taken_up(team: Team) -> None:
    quote = _submitted(team)
    client = _client(team.buyer)
    url = reverse("quote-edit", kwargs={"quote_id": quote.pk})

    response = client.post(url, {"lines": "NUT 75", "message": "Only nuts now", "wanted_date": ""})

    assert response.status_code == 302
    quote = refreshed(quote)
    assert quote.message == "Only nuts now"
    assert [(line.product.sku, line.quantity) for line in quote.request_lines.all()] == [("NUT", D("75"))]
    assert "Request changed: NUT: 75." in quote.events.last().message

    quotes.quote_review(quote=quote, actor=team.manager)
    before = snapshot(quote)
    response = client.post(url, {"lines": "BOLT 1", "message": "late"}, follow=True)
    assert "can only be changed before the account manager takes it up" in " ".join(_messages(response))
    assert snapshot(quote) == before
    assert refreshed(quote).message == "Only nuts now"


# --- Reading --------------------------------------------------------------------------------------------


def test_the_buyer_list_says_whose_turn_and_the_latest_total(
    team: Team, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(30):
        _submitted(team)
    offered = _offered(team)  # the latest move: first on the list
    client = _client(team.buyer)
    client.get(reverse("quote-list"))  # warm the session

    with django_assert_max_num_queries(12):
        response = client.get(reverse("quote-list"))

    page = response.content.decode()
    assert response.status_code == 200
    assert len(response.context["rows"]) == 25
    assert response.context["page"].paginator.num_pages == 2
    assert f'data-quote="{offered.number}"' in page
    # 100 at 8.50 + 40 at 2.10
    assert "934.00" in page
    assert "your turn" in page
    assert "waiting for your account manager" in page
    offered_row = next(row for row in response.context["rows"] if row.quote.pk == offered.pk)
    assert offered_row.last_move == "Offered by the seller"
    assert offered_row.valid_until == timezone.localdate() + timedelta(days=10)
    submitted_row = response.context["rows"][1]
    assert (submitted_row.last_move, submitted_row.valid_until, submitted_row.total) == (
        "Submitted by the buyer",
        None,
        None,
    )


def test_the_buyer_never_sees_cost_or_margin(team: Team) -> None:
    team.products[0].cost_price = D("6.0000")
    team.products[0].save()
    quote = _offered(team)

    buyer_page = _client(team.buyer).get(reverse("quote-detail", kwargs={"quote_id": quote.pk}))
    seller_page = _client(team.manager).get(reverse("quote-detail", kwargs={"quote_id": quote.pk}))

    buyer_html = buyer_page.content.decode()
    assert "Your turn" in buyer_html
    for secret in (
        "Cost",
        "cost from the ERP",
        'data-field="cost"',
        "Margin",
        "margin",
        "6.0000",
        "29.4",
        "Discount",
    ):
        assert secret not in buyer_html
    seller_html = seller_page.content.decode()
    assert "Waiting for the buyer." in seller_html
    assert "6.0000" in seller_html
    assert "29.4%" in seller_html  # (8.50 - 6) / 8.50
    assert "20%" in seller_html  # its lowest price (the break at 8.00) below the list price of 10
    assert "no cost from the ERP" in seller_html  # NUT has none


def test_approvers_and_viewers_read_but_get_no_actions(team: Team) -> None:
    quote = _offered(team)
    for role in (Role.APPROVER, Role.VIEWER):
        member = MembershipFactory(company=team.company, role=role).user
        html = _client(member).get(reverse("quote-detail", kwargs={"quote_id": quote.pk})).content.decode()
        assert "Version 1" in html
        assert "Accept and order" not in html
        assert "Waiting for your company's buyers." in html


def test_the_seller_offer_form_shows_list_their_price_and_cost(team: Team) -> None:
    team.products[1].cost_price = D("1.5000")
    team.products[1].save()
    quote = _in_review(team)

    html = _client(team.manager).get(reverse("quote-detail", kwargs={"quote_id": quote.pk})).content.decode()

    assert "Offer these prices" in html
    assert 'data-cost="1.5000"' in html
    assert "no cost from the ERP" in html
    assert "list" in html


def test_the_next_offer_form_brings_back_a_requested_product_the_last_offer_left_out(team: Team) -> None:
    quote = _in_review(team)
    bolt = team.products[0]
    quotes.quote_offer(
        quote=quote,
        actor=team.manager,
        lines=[quotes.OfferedLine(bolt, D("100"), D("9.5000"))],
        valid_until=timezone.localdate() + timedelta(days=10),
    )
    quotes.quote_counter(quote=quote, actor=team.buyer, message="And the nuts?")

    response = _client(team.manager).get(reverse("quote-detail", kwargs={"quote_id": quote.pk}))

    rows = {row.product.sku: row for row in response.context["offer_rows"]}
    assert list(rows) == ["BOLT", "NUT"]
    assert rows["BOLT"].price.value() == D("9.5000")  # as last offered
    assert rows["NUT"].quantity.value() == D("40")  # as asked
    assert rows["NUT"].price.value() is None
    assert "more than 50% below their price needs a second approval" in response.content.decode()


def test_a_foreign_quote_is_404(team: Team, other_company_buyer) -> None:  # type: ignore[no-untyped-def]
    quote = _offered(team)
    client = _client(other_company_buyer)
    before = snapshot(quote)

    assert client.get(reverse("quote-detail", kwargs={"quote_id": quote.pk})).status_code == 404
    for name, data in [
        ("quote-accept", {}),
        ("quote-counter", {"message": "x"}),
        ("quote-close", {}),
        ("quote-edit", {"lines": "BOLT 1"}),
    ]:
        assert client.post(reverse(name, kwargs={"quote_id": quote.pk}), data).status_code == 404
    assert snapshot(quote) == before


# --- Negotiating ----------------------------------------------------------------------------------------


def test_the_whole_loop_through_the_pages(team: Team) -> None:
    buyer, manager = _client(team.buyer), _client(team.manager)
    quote = _submitted(team)
    url = lambda name: reverse(name, kwargs={"quote_id": quote.pk})  # noqa: E731

    assert manager.post(url("quote-review")).status_code == 302
    assert manager.post(url("quote-offer"), _offer_data(team)).status_code == 302
    assert refreshed(quote).status == Status.OFFERED
    assert buyer.post(url("quote-counter"), {"message": "8 for bolts?"}).status_code == 302
    assert refreshed(quote).status == Status.IN_REVIEW
    manager.post(url("quote-offer"), _offer_data(team, bolt="8.00"))
    quote = refreshed(quote)
    assert quote.status == Status.OFFERED
    assert quote.versions.count() == 2

    response = buyer.post(url("quote-accept"), _accept_data(team))

    quote = refreshed(quote)
    assert quote.status == Status.ORDERED
    assert response["Location"] == url("quote-detail")
    order = quote.purchase_order
    assert order.customer_po_number == "PO-Q-1"
    assert [line.unit_price for line in order.lines.order_by("product__sku")] == [D("8.0000"), D("2.1000")]
    page = buyer.get(url("quote-detail")).content.decode()
    assert reverse("po-detail", kwargs={"order_id": order.pk}) in page
    assert "Version 1" in page
    assert "Version 2" in page
    assert "8 for bolts?" in page
    seller_page = manager.get(url("quote-detail")).content.decode()
    assert "PO-Q-1" in seller_page
    assert reverse("po-detail", kwargs={"order_id": order.pk}) not in seller_page  # a buyer's page


def test_accepting_twice_lands_on_the_same_order(team: Team) -> None:
    quote = _offered(team)
    client = _client(team.buyer)
    url = reverse("quote-accept", kwargs={"quote_id": quote.pk})
    client.post(url, _accept_data(team))
    order = refreshed(quote).purchase_order

    response = client.post(url, _accept_data(team, "PO-OTHER"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("po-detail", kwargs={"order_id": order.pk})
    assert "already accepted" in " ".join(_messages(response))
    assert PurchaseOrder.objects.exclude(status=PurchaseOrder.Status.DRAFT).count() == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"bolt": "0"}, "BOLT: the price must be more than zero."),
        ({"bolt": "-3"}, "BOLT: the price must be more than zero."),
        ({"valid_until": "2020-01-01"}, "That day is past"),
        ({"bolt": "", "nut": ""}, "Give a unit price for at least one line."),
        ({"bolt": "abc"}, "Enter a number."),
        ({"bolt": "1e400"}, "Ensure that there are no more than"),
        ({"bolt_quantity": "-5"}, "BOLT: the quantity must be more than zero."),
        ({"bolt_quantity": "lots"}, "Enter a number."),
        ({"break_price": "0"}, "BOLT: the price must be more than zero."),
        ({"break_price": ""}, "BOLT: a break needs a quantity and a price."),
        ({"valid_until": "someday"}, "Enter a valid date."),
    ],
)
def test_a_bad_offer_is_a_form_error_and_offers_nothing(team: Team, data: dict, error: str) -> None:
    quote = _in_review(team)
    before = snapshot(quote)

    response = _client(team.manager).post(
        reverse("quote-offer", kwargs={"quote_id": quote.pk}), _offer_data(team, **data)
    )

    assert response.status_code == 400
    assert error in response.content.decode()
    assert snapshot(quote) == before
    assert not QuoteVersion.objects.exists()


def test_a_counter_needs_a_message(team: Team) -> None:
    quote = _offered(team)
    before = snapshot(quote)

    response = _client(team.buyer).post(reverse("quote-counter", kwargs={"quote_id": quote.pk}), {})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert snapshot(quote) == before


def test_a_decline_needs_a_reason(team: Team) -> None:
    quote = _submitted(team)
    before = snapshot(quote)

    response = _client(team.manager).post(reverse("quote-decline", kwargs={"quote_id": quote.pk}), {})

    assert response.status_code == 400
    assert snapshot(quote) == before


@pytest.mark.parametrize(
    ("actor", "name", "data", "error"),
    [
        ("buyer", "quote-accept", "accept", "waiting for the account manager, not for you"),
        ("buyer", "quote-close", {}, "waiting for the account manager, not for you"),
        ("manager", "quote-review", {}, "cannot become in review"),
    ],
)
def test_acting_out_of_turn_is_a_message_and_changes_nothing(
    team: Team, actor: str, name: str, data: object, error: str
) -> None:
    quote = _in_review(team)
    before = snapshot(quote)
    client = _client(getattr(team, actor))
    payload = _accept_data(team) if data == "accept" else data

    response = client.post(reverse(name, kwargs={"quote_id": quote.pk}), payload, follow=True)

    assert response.status_code == 200
    assert error in " ".join(_messages(response))
    assert snapshot(quote) == before


def test_accepting_an_expired_offer_says_so_and_makes_no_order(team: Team) -> None:
    quote = _offered(team)
    Quote.objects.filter(pk=quote.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    response = _client(team.buyer).post(
        reverse("quote-accept", kwargs={"quote_id": quote.pk}), _accept_data(team), follow=True
    )

    assert response.status_code == 200
    assert "has expired" in " ".join(_messages(response))
    assert refreshed(quote).status == Status.EXPIRED
    assert refreshed(quote).purchase_order is None
    assert not PurchaseOrder.objects.exclude(status=PurchaseOrder.Status.DRAFT).exists()


@pytest.mark.parametrize("ship_to", ["", "abc", "999999999"])
def test_an_accept_without_an_address_of_yours_is_a_form_error(team: Team, ship_to: str) -> None:
    quote = _offered(team)
    before = snapshot(quote)

    response = _client(team.buyer).post(
        reverse("quote-accept", kwargs={"quote_id": quote.pk}), {"ship_to": ship_to}
    )

    assert response.status_code == 400
    assert "Ship to" in response.content.decode()
    assert snapshot(quote) == before


def test_another_companys_address_is_refused(team: Team) -> None:
    quote = _offered(team)
    foreign = ShipToAddress.objects.create(
        company=CompanyFactory(), label="Theirs", street="1 A", city="B", postal_code="1", country="US"
    )
    before = snapshot(quote)

    response = _client(team.buyer).post(
        reverse("quote-accept", kwargs={"quote_id": quote.pk}), {"ship_to": foreign.pk}
    )

    assert response.status_code == 400
    assert snapshot(quote) == before


# --- The manager's side ---------------------------------------------------------------------------------


def test_the_queue_is_oldest_first_with_the_age(team: Team) -> None:
    older, newer = _submitted(team), _submitted(team)
    offered = _offered(team)
    Quote.objects.filter(pk=older.pk).update(updated_at=timezone.now() - timedelta(days=2, hours=1))
    Quote.objects.filter(pk=newer.pk).update(updated_at=timezone.now() - timedelta(hours=3, minutes=5))

    response = _client(team.manager).get(reverse("quote-queue"))

    numbers = [row.quote.number for row in response.context["rows"]]
    assert numbers == [older.number, newer.number]
    assert offered.number not in numbers
    html = response.content.decode()
    assert "waiting 2 days" in html
    assert "waiting 3 h" in html
    assert team.company.name in html


def test_the_queue_has_bounded_queries(team: Team, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    for _ in range(30):
        _offered(team)
        _submitted(team)
    client = _client(team.manager)
    client.get(reverse("quote-queue"))

    with django_assert_max_num_queries(12):
        response = client.get(reverse("quote-queue"))

    assert len(response.context["rows"]) == 25


def test_waiting_reads_like_a_person_would_say_it() -> None:
    assert waiting_for(timedelta(seconds=20)) == "under a minute"
    assert waiting_for(timedelta(minutes=12)) == "12 min"
    assert waiting_for(timedelta(hours=3, minutes=59)) == "3 h"
    assert waiting_for(timedelta(hours=47)) == "47 h"
    assert waiting_for(timedelta(days=2, hours=5)) == "2 days"


def test_a_manager_starts_a_quote_for_a_company_they_manage_only(team: Team) -> None:
    client = _client(team.manager)
    foreign = CompanyFactory(account_manager=UserFactory())

    refused = client.post(reverse("quote-start"), {"company": foreign.pk, "lines": "BOLT 5"})
    assert refused.status_code == 400
    assert not Quote.objects.exists()

    response = client.post(reverse("quote-start"), {"company": team.company.pk, "lines": "BOLT 5"})
    quote = Quote.objects.get()
    assert response["Location"] == reverse("quote-detail", kwargs={"quote_id": quote.pk})
    assert quote.status == Status.DRAFT
    assert quote.created_by == team.manager


def test_the_start_forms_today_is_the_chosen_companys(team: Team) -> None:
    """Kiritimati (UTC+14) is a day ahead of the portal (UTC) from 10:00 UTC: its yesterday may be the
    portal's today, and is refused all the same."""
    team.company.time_zone = "Pacific/Kiritimati"
    team.company.save()
    kiritimati_today = timezone.localdate(timezone=ZoneInfo("Pacific/Kiritimati"))
    client = _client(team.manager)
    data = {"company": team.company.pk, "lines": "BOLT 5"}

    refused = client.post(
        reverse("quote-start"), {**data, "wanted_date": f"{kiritimati_today - timedelta(days=1)}"}
    )

    assert refused.status_code == 400
    assert "Choose today or a later date." in refused.content.decode()
    assert not Quote.objects.exists()
    client.post(reverse("quote-start"), {**data, "wanted_date": f"{kiritimati_today}"})
    assert Quote.objects.get().wanted_date == kiritimati_today


# --- Live -----------------------------------------------------------------------------------------------


def test_the_poll_is_204_until_the_quote_moves(team: Team) -> None:
    quote = _submitted(team)
    buyer = _client(team.buyer)
    page = buyer.get(reverse("quote-detail", kwargs={"quote_id": quote.pk}))
    token = page.context["live"]["token"]
    poll = f"{reverse('quote-changes')}?quote={quote.pk}&v={token}"
    list_token = buyer.get(reverse("quote-list")).context["live"]["token"]
    list_poll = f"{reverse('quote-changes')}?quote=&v={list_token}"

    assert buyer.get(poll).status_code == 204
    assert buyer.get(list_poll).status_code == 204
    quotes.quote_review(quote=quote, actor=team.manager)

    moved = buyer.get(poll)
    assert moved.status_code == 200
    assert moved["HX-Trigger"] == "quote-changed"
    assert buyer.get(list_poll).status_code == 200
    fragment = buyer.get(reverse("quote-detail", kwargs={"quote_id": quote.pk}), HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith('<div id="live"')
    assert "In review" in fragment.content.decode()


def test_the_poll_of_a_foreign_quote_never_changes(team: Team, other_company_buyer) -> None:  # type: ignore[no-untyped-def]
    quote = _submitted(team)
    stranger = _client(other_company_buyer)
    poll = f"{reverse('quote-changes')}?quote={quote.pk}&v=-"

    assert stranger.get(poll).status_code == 204
    quotes.quote_review(quote=quote, actor=team.manager)
    assert stranger.get(poll).status_code == 204
    assert stranger.get(f"{reverse('quote-changes')}?quote={'9' * 40}&v=x").status_code == 200
    assert QuoteEvent.objects.filter(quote=quote).count() == 2


def test_the_erp_section_shows_the_quotes_push_on_both_sides(team: Team) -> None:
    quote = _offered(team)  # its offer wrote the push job
    url = reverse("quote-detail", kwargs={"quote_id": quote.pk})

    for user in (team.buyer, team.manager):
        html = _client(user).get(url).content.decode()
        section = html.split('id="quote-erp"')[1].split("</section>")[0]
        assert "quote.push queued" in section
        assert 'data-field="erp-no-quotes"' not in section


def test_the_erp_section_says_when_the_erp_keeps_no_quotations(team: Team, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ERP_KIND = "business_central"
    quote = _offered(team)

    html = _client(team.buyer).get(reverse("quote-detail", kwargs={"quote_id": quote.pk})).content.decode()

    assert "This ERP keeps no quotations" in html.split('id="quote-erp"')[1]


# --- The second approval --------------------------------------------------------------------------------


def test_an_offer_waiting_for_approval_stays_the_sellers_affair(  # type: ignore[no-untyped-def]
    team: Team, settings, django_capture_on_commit_callbacks
) -> None:
    settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = D("10")
    quote = _in_review(team)
    manager, buyer = _client(team.manager), _client(team.buyer)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        manager.post(reverse("quote-offer", kwargs={"quote_id": quote.pk}), _offer_data(team))

    assert refreshed(quote).status == Status.AWAITING_APPROVAL
    # Only the approvers hear of it; the buyer does not.
    assert [(message.subject, message.to) for message in mail.outbox] == [
        (f"Quote {quote.number} v1 waits for your approval", [team.approver.email])
    ]
    mail.outbox.clear()
    url = reverse("quote-detail", kwargs={"quote_id": quote.pk})
    seller_html = manager.get(url).content.decode()
    assert "Version 1 waits for a second approval" in seller_html
    assert "waiting for a second approval" in seller_html
    assert "Offer these prices" not in seller_html
    assert "(not shown to the buyer)" in seller_html
    buyer_page = buyer.get(url)
    buyer_html = buyer_page.content.decode()
    assert '<span class="badge status-in_review" data-field="status">In review</span>' in buyer_html
    assert "Waiting for your account manager." in buyer_html
    assert "Version 1" not in buyer_html
    assert "second approval" not in buyer_html
    assert "Awaiting approval" not in buyer_html
    (row,) = buyer.get(reverse("quote-list")).context["rows"]
    assert (row.status, row.total, row.last_move) == (Status.IN_REVIEW, None, "In review by the seller")
    assert quote.pk not in [row.quote.pk for row in manager.get(reverse("quote-queue")).context["rows"]]

    approver = UserFactory(email="approver@wholesaler.example")
    staff_user_set_roles(user=approver, roles=[StaffRole.ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        quotes.quote_offer_approve(quote=quote, actor=approver)

    assert [message.subject for message in mail.outbox] == [
        f"Quote {quote.number} v1 approved",  # to its maker
        f"Quote {quote.number} has an offer for you",
    ]
    buyer_html = buyer.get(url).content.decode()
    assert "Version 1" in buyer_html
    assert "Your turn" in buyer_html
    assert "approved by" in manager.get(url).content.decode()
    assert "approved by" not in buyer_html


def test_an_order_number_already_used_is_a_message_and_no_order(team: Team) -> None:
    quote = _offered(team)
    PurchaseOrder.objects.create(
        company=team.company,
        buyer=team.buyer,
        customer_po_number="PO-TAKEN",
        status=PurchaseOrder.Status.SUBMITTED,
    )
    before = snapshot(quote)

    response = _client(team.buyer).post(
        reverse("quote-accept", kwargs={"quote_id": quote.pk}), _accept_data(team, "PO-TAKEN"), follow=True
    )

    assert response.status_code == 200
    assert "PO-TAKEN" in " ".join(_messages(response))
    assert snapshot(quote) == before
