"""The quote API: a buyer's whole negotiation over a token, retries that change nothing, what a read
shows (and never shows), and lists in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from apps.accounts.models import Role
from apps.approvals.models import ApprovalRule
from apps.catalog.models import Product
from apps.purchase_orders.models import PurchaseOrder
from apps.quotes import services as quotes
from apps.quotes.models import Quote
from tests.accounts.factories import MembershipFactory
from tests.credit.factories import CreditAccountFactory
from tests.quotes.api_support import LIST, client_for, counts, in_a_month, offered, requested, url
from tests.quotes.conftest import DEEP_BOLT, Team, refreshed

Status = Quote.Status
D = Decimal


def test_request_counter_offer_accept_makes_exactly_one_order(team: Team) -> None:
    buyer = client_for(team.buyer)
    wanted = timezone.localdate() + timedelta(days=10)
    body = {
        "message": "Best price for a year's supply?",
        "wanted_date": f"{wanted}",
        "lines": [
            {"sku": "bolt", "quantity": "100"},
            {"product_id": team.products[1].pk, "quantity": "40", "note": "zinc"},
        ],
    }

    created = buyer.post(LIST, body, format="json", HTTP_IDEMPOTENCY_KEY="rq-1")

    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["status"], data["turn"], data["wanted_date"]) == ("submitted", "seller", f"{wanted}")
    assert [(line["sku"], line["quantity"], line["note"]) for line in data["request_lines"]] == [
        ("BOLT", "100.0000", ""),
        ("NUT", "40.0000", "zinc"),
    ]
    assert data["versions"] == []
    assert data["purchase_order"] is None
    quote = Quote.objects.get()

    offered(team, quote)
    countered = buyer.post(
        url(quote, "counter"), {"message": "8.00 for the bolts?"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1"
    )

    assert countered.status_code == 200, countered.content
    assert (countered.json()["status"], countered.json()["turn"]) == ("in_review", "seller")

    offered(team, quote, bolt="8.0000")
    accepted = buyer.post(
        url(quote, "accept"), {"customer_po_number": "PO-Q-1"}, format="json", HTTP_IDEMPOTENCY_KEY="a-1"
    )

    assert accepted.status_code == 200, accepted.content
    data = accepted.json()
    order = PurchaseOrder.objects.get()
    assert (data["status"], data["turn"]) == ("ordered", None)
    assert data["purchase_order"] == {"id": order.pk, "po_number": "PO-Q-1", "status": "approved"}
    assert [version["number"] for version in data["versions"]] == [1, 2]
    assert [line["unit_price"] for line in data["versions"][1]["lines"]] == ["8.0000", "2.1000"]
    source = f"quote {quote.number} v2"
    assert [(line.product.sku, line.unit_price, line.price_source) for line in order.lines.all()] == [
        ("BOLT", D("8.0000"), source),
        ("NUT", D("2.1000"), source),
    ]
    assert [(event["side"], event["from_status"], event["to_status"]) for event in data["thread"]] == [
        ("buyer", None, "submitted"),
        ("seller", "submitted", "in_review"),
        ("seller", "in_review", "offered"),
        ("buyer", "offered", "in_review"),
        ("seller", "in_review", "offered"),
        ("buyer", "offered", "accepted"),
        ("buyer", "accepted", "ordered"),
    ]
    assert data["thread"][3]["message"] == "8.00 for the bolts?"
    assert data["thread"][3]["version"] == 1


def test_each_action_replayed_with_its_key_returns_the_same_quote_and_does_nothing_more(team: Team) -> None:
    buyer = client_for(team.buyer)
    body = {"lines": [{"sku": "BOLT", "quantity": "5"}]}

    first = buyer.post(LIST, body, format="json", HTTP_IDEMPOTENCY_KEY="rq")
    again = buyer.post(LIST, body, format="json", HTTP_IDEMPOTENCY_KEY="rq")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    quote = Quote.objects.get()

    offered(team, quote)
    counter = {"message": "Cheaper?"}
    first = buyer.post(url(quote, "counter"), counter, format="json", HTTP_IDEMPOTENCY_KEY="c")
    before = counts()
    again = buyer.post(url(quote, "counter"), counter, format="json", HTTP_IDEMPOTENCY_KEY="c")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "in_review"
    assert counts() == before

    offered(team, quote)
    first = buyer.post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    before = counts()
    again = buyer.post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="a")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["purchase_order"] == first.json()["purchase_order"]
    assert first.json()["purchase_order"]["po_number"] == quote.number  # the quote number by default
    assert counts() == before
    assert PurchaseOrder.objects.count() == 1


def test_a_second_accept_without_the_first_key_is_a_409_naming_the_order(team: Team) -> None:
    quote = offered(team)
    buyer = client_for(team.buyer)
    buyer.post(url(quote, "accept"), {"customer_po_number": "PO-9"}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    order = PurchaseOrder.objects.get()
    before = counts()

    other_key = buyer.post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="b")
    no_key = buyer.post(url(quote, "accept"), {"customer_po_number": "PO-9"}, format="json")

    for response in (other_key, no_key):
        assert response.status_code == 409
        assert response.json() == {
            "detail": f"Quote {quote.number} was already accepted: it is order PO-9 (id {order.pk}).",
            "purchase_order_id": order.pk,
            "po_number": "PO-9",
        }
    assert counts() == before


def test_the_same_key_with_another_body_or_on_another_quote_is_a_409(team: Team) -> None:
    buyer = client_for(team.buyer)
    buyer.post(LIST, {"lines": [{"sku": "BOLT", "quantity": "5"}]}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    first, second = offered(team), offered(team)
    buyer.post(url(first, "counter"), {"message": "Less?"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    before = counts()

    other_body = buyer.post(
        LIST, {"lines": [{"sku": "NUT", "quantity": "5"}]}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    other_quote = buyer.post(
        url(second, "counter"), {"message": "Less?"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    other_message = buyer.post(
        url(first, "counter"), {"message": "More?"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    for response in (other_body, other_quote, other_message):
        assert response.status_code == 409, response.content
        assert response.json() == {"detail": "This Idempotency-Key was used with a different request."}
    assert counts() == before
    assert refreshed(second).status == Status.OFFERED


def test_the_accepted_order_goes_through_approvals_like_any_order(team: Team) -> None:
    ApprovalRule.objects.create(
        company=team.company, name="Big orders", condition="total_at_least", amount=D("500"), step=1
    )
    quote = offered(team)

    response = client_for(team.buyer).post(url(quote, "accept"), {}, format="json")

    assert response.status_code == 200
    assert response.json()["purchase_order"]["status"] == "awaiting_approval"
    assert PurchaseOrder.objects.get().approval_requests.count() == 1


def test_the_accepted_order_goes_through_the_credit_check_like_any_order(team: Team) -> None:
    CreditAccountFactory(company=team.company, credit_limit=D("500.00"))
    quote = offered(team)

    response = client_for(team.buyer).post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="a")

    assert response.status_code == 200
    assert response.json()["purchase_order"]["status"] == "credit_hold"  # 934.00 against 500.00
    assert response.json()["status"] == "ordered"


def test_a_company_admin_negotiates_too(team: Team) -> None:
    admin = MembershipFactory(company=team.company, role=Role.ADMIN).user
    quote = offered(team)

    response = client_for(admin).post(url(quote, "close"), {"message": "Not this year"}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["turn"]) == ("closed", None)
    assert response.json()["thread"][-1]["message"] == "Not this year"


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def test_a_read_never_shows_the_sellers_cost_margin_or_reference_prices(team: Team) -> None:
    Product.objects.filter(pk=team.products[0].pk).update(cost_price=D("3.1415"))
    quote = offered(team)

    response = client_for(team.buyer).get(url(quote))

    assert response.status_code == 200
    data = response.json()
    line = data["versions"][0]["lines"][0]
    assert line == {
        "product_id": team.products[0].pk,
        "sku": "BOLT",
        "name": team.products[0].name,
        "quantity": "100.0000",
        "unit_price": "8.5000",
        "currency": "USD",
        "breaks": [{"min_quantity": "500.0000", "unit_price": "8.0000"}],
    }
    assert data["versions"][0]["valid_until"] == f"{in_a_month()}"
    assert not [
        key for key in _keys(data) if any(word in key for word in ("cost", "margin", "list", "reference"))
    ]
    assert "3.1415" not in response.content.decode()
    assert "10.0000" not in response.content.decode()  # the list price the seller compared with


def test_the_list_is_the_companys_own_without_drafts_and_filters_by_status(
    team: Team, quote_in: Callable[[Status], Quote], other_company_buyer: Any
) -> None:
    submitted = requested(team)
    on_the_table = offered(team)
    quote_in(Status.DRAFT)

    listed = client_for(team.buyer).get(LIST).json()
    only_offered = client_for(team.buyer).get(LIST, {"status": "offered"}).json()
    drafts = client_for(team.buyer).get(LIST, {"status": "draft"}).json()
    nonsense = client_for(team.buyer).get(LIST, {"status": "x\x00"}).json()
    stranger = client_for(other_company_buyer).get(LIST).json()

    assert (listed["count"], listed["page"]) == (2, 1)
    assert [row["number"] for row in listed["results"]] == [on_the_table.number, submitted.number]
    assert listed["results"][0]["latest_offer"]["number"] == 1
    assert listed["results"][0]["turn"] == "buyer"
    assert listed["results"][1]["latest_offer"] is None
    assert [row["number"] for row in only_offered["results"]] == [on_the_table.number]
    assert drafts == {"count": 0, "page": 1, "results": []}
    assert nonsense["results"] == []
    assert stranger == {"count": 0, "page": 1, "results": []}
    assert client_for(other_company_buyer).get(url(submitted)).status_code == 404


def test_a_page_of_many_quotes_with_versions_takes_a_fixed_number_of_queries(
    team: Team, django_assert_max_num_queries: Any
) -> None:
    for _ in range(12):
        quote = offered(team)
        quotes.quote_counter(quote=quote, actor=team.buyer, message="Less?")
        offered(team, quote)
    client = client_for(team.buyer)
    client.get(LIST)  # the token's own first-use work out of the way

    # token + user, membership, count, page, request lines with products, versions
    with django_assert_max_num_queries(7):
        response = client.get(LIST)

    assert response.json()["count"] == 12
    assert all(row["latest_offer"]["number"] == 2 for row in response.json()["results"])


def test_a_read_of_a_long_negotiation_takes_a_fixed_number_of_queries(
    team: Team, django_assert_max_num_queries: Any
) -> None:
    quote = offered(team)
    for _ in range(5):
        quotes.quote_counter(quote=quote, actor=team.buyer, message="Less?")
        offered(team, quote)
    client = client_for(team.buyer)

    # token + user, membership (twice: the API's and the selector's), the quote, request lines, their
    # products, versions, their lines, the lines' products, breaks, the thread, its actors
    with django_assert_max_num_queries(12):
        response = client.get(url(quote))

    assert len(response.json()["versions"]) == 6
    assert len(response.json()["thread"]) == 1 + 1 + 1 + 5 * 2


def test_an_expired_offer_is_a_409_and_the_quote_is_expired_afterwards(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.OFFERED)  # offered in June, valid until 30 June: long past
    before = counts()

    response = client_for(team.buyer).post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="a")

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"The offer on quote {quote.number} has expired; ask for a new quote."
    }
    assert refreshed(quote).status == Status.EXPIRED
    after = counts()
    assert after.pop("QuoteEvent") == before.pop("QuoteEvent") + 1  # the expiry, and only it
    assert after == before


def test_an_offer_waiting_for_the_sellers_second_approval_is_in_review_to_the_api(team: Team) -> None:
    buyer = client_for(team.buyer)
    quote = offered(team)
    quotes.quote_counter(quote=quote, actor=team.buyer, message="Half price?")
    offered(team, quote, bolt=DEEP_BOLT)  # past the threshold: waits for an approver
    assert refreshed(quote).status == Status.AWAITING_APPROVAL
    before = counts()

    read = buyer.get(url(quote)).json()
    in_review = buyer.get(LIST, {"status": "in_review"}).json()
    awaiting = buyer.get(LIST, {"status": "awaiting_approval"}).json()
    accept = buyer.post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="a")

    assert (read["status"], read["turn"]) == ("in_review", "seller")
    assert [version["number"] for version in read["versions"]] == [1]  # not the waiting version 2
    assert read["latest_offer"]["number"] == 1
    assert DEEP_BOLT not in str(read)
    assert all(event["to_status"] != "awaiting_approval" for event in read["thread"])
    assert [row["number"] for row in in_review["results"]] == [quote.number]
    assert in_review["results"][0]["status"] == "in_review"
    assert awaiting["results"] == []
    assert accept.status_code == 409
    assert counts() == before

    quotes.quote_offer_approve(quote=quote, actor=team.approver)
    accepted = buyer.post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="a")

    assert accepted.status_code == 200
    assert [version["number"] for version in accepted.json()["versions"]] == [1, 2]
    assert accepted.json()["versions"][1]["lines"][0]["unit_price"] == DEEP_BOLT
    assert PurchaseOrder.objects.get().lines.get(product__sku="BOLT").unit_price == D(DEEP_BOLT)
