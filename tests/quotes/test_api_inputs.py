"""Bad input to the quote API gets a 400 naming the field (and the line), or a 409 saying why the quote
cannot move; either way nothing in the database changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.accounts.models import Company
from apps.catalog.models import Product
from apps.quotes import services as quotes
from apps.quotes.models import Quote
from tests.accounts.factories import CompanyFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory
from tests.quotes.api_support import LIST, client_for, counts, offered, requested, state, url
from tests.quotes.conftest import Team

Status = Quote.Status


def _refused(response: Any, code: int, body: dict) -> None:
    assert response.status_code == code, response.content
    assert response.json() == body


@pytest.fixture
def buyer(team: Team) -> Any:
    Product.objects.filter(sku="NUT").update(is_active=False)
    ProductFactory(sku="WASHER")
    return client_for(team.buyer)


@pytest.mark.parametrize(
    ("lines", "errors"),
    [
        ([{"sku": "NOPE", "quantity": "1"}], {"0": ["NOPE: unknown SKU"]}),
        ([{"product_id": 2**62, "quantity": "1"}], {"0": [f"product {2**62}: no such product"]}),
        ([{"sku": "nut", "quantity": "1"}], {"0": ["NUT: no longer sold"]}),
        ([{"sku": "BOLT", "quantity": "0"}], {"0": ["quantity 0 must be more than zero"]}),
        ([{"sku": "BOLT", "quantity": "-3"}], {"0": ["quantity -3 must be more than zero"]}),
        ([{"sku": "BOLT", "quantity": "lots"}], {"0": ["quantity 'lots' is not a number"]}),
        ([{"sku": "BOLT", "quantity": "NaN"}], {"0": ["quantity 'NaN' is not a number"]}),
        ([{"sku": "BOLT", "quantity": "1e30"}], {"0": ["quantity 1e30 is too large"]}),
        ([{"sku": "BOLT", "quantity": "1.00001"}], {"0": ["quantity 1.00001 has more than 4 decimals"]}),
        ([{"sku": "BOLT"}], {"0": ["quantity: This field is required."]}),
        ([{"quantity": "1"}], {"0": ["Give the product's sku or its product_id (one of them)."]}),
        (
            [
                {"sku": "BOLT", "quantity": "1"},
                {"sku": "WASHER", "quantity": "2"},
                {"sku": "bolt", "quantity": "3"},
            ],
            {"2": ["BOLT is already on line 0; give it once with the whole quantity"]},
        ),
        (
            [{"sku": "NOPE", "quantity": "0"}, {"sku": "WASHER", "quantity": "2"}],
            {"0": ["NOPE: unknown SKU", "quantity 0 must be more than zero"]},
        ),
        (  # a line of the wrong shape is said first, before any product is looked up
            [{"sku": "NOPE", "quantity": "0"}, {"sku": "WASHER", "quantity": "2"}, "x"],
            {"2": ["Invalid data. Expected a dictionary, but got str."]},
        ),
    ],
)
def test_bad_request_lines_are_refused_line_by_line_and_nothing_is_created(
    buyer: Any, lines: list, errors: dict
) -> None:
    before = counts()

    response = buyer.post(
        LIST, {"message": "Price?", "lines": lines}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    _refused(response, 400, {"lines": errors})
    assert counts() == before


def test_the_same_product_by_sku_and_by_id_is_a_duplicate(team: Team, buyer: Any) -> None:
    lines = [{"sku": "BOLT", "quantity": "1"}, {"product_id": team.products[0].pk, "quantity": "2"}]

    response = buyer.post(LIST, {"lines": lines}, format="json")

    _refused(
        response, 400, {"lines": {"1": ["BOLT is already on line 0; give it once with the whole quantity"]}}
    )
    assert not Quote.objects.exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"lines": []}, {"lines": ["This list may not be empty."]}),
        ({}, {"lines": ["This field is required."]}),
        ({"lines": "BOLT"}, {"lines": ['Expected a list of items but got type "str".']}),
        (
            {"lines": [{"sku": "BOLT", "quantity": "1"}] * 1001},
            {"lines": ["Ensure this field has no more than 1000 elements."]},
        ),
        (
            {"lines": [{"sku": "BOLT", "quantity": "1"}], "message": "x" * 5001},
            {"message": ["Ensure this field has no more than 5000 characters."]},
        ),
        (
            {"lines": [{"sku": "BOLT", "quantity": "1"}], "wanted_date": "soon"},
            {"wanted_date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
    ],
)
def test_a_request_missing_its_lines_or_with_bad_fields_is_refused(
    buyer: Any, body: dict, errors: dict
) -> None:
    before = counts()

    _refused(buyer.post(LIST, body, format="json"), 400, errors)
    assert counts() == before


def test_a_wanted_date_in_the_past_is_refused_and_today_is_accepted(team: Team, buyer: Any) -> None:
    zone = "Pacific/Kiritimati"  # UTC+14: the company's today, not the server's (UTC)
    Company.objects.filter(pk=team.company.pk).update(time_zone=zone)
    today = timezone.localdate(timezone=ZoneInfo(zone))
    lines = [{"sku": "BOLT", "quantity": "1"}]

    past = buyer.post(LIST, {"lines": lines, "wanted_date": f"{today - timedelta(days=1)}"}, format="json")
    _refused(past, 400, {"wanted_date": [f"Give today ({today:%Y-%m-%d}) or a later date."]})
    assert not Quote.objects.exists()
    now = buyer.post(LIST, {"lines": lines, "wanted_date": f"{today}"}, format="json")

    assert now.status_code == 201
    assert now.json()["wanted_date"] == f"{today}"


def test_a_company_on_hold_cannot_ask_and_is_told_why(team: Team, buyer: Any) -> None:
    Company.objects.filter(pk=team.company.pk).update(status=Company.Status.ON_HOLD, hold_reason="Past due")

    response = buyer.post(LIST, {"lines": [{"sku": "BOLT", "quantity": "1"}]}, format="json")

    _refused(
        response, 400, {"detail": [f"{team.company.name} is on hold; ask finance before asking for a quote."]}
    )
    assert not Quote.objects.exists()


def test_an_idempotency_key_longer_than_kept_is_a_400_naming_the_header(team: Team, buyer: Any) -> None:
    quote = offered(team)
    before = counts()

    for response in (
        buyer.post(
            LIST, {"lines": [{"sku": "BOLT", "quantity": "1"}]}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 201
        ),
        buyer.post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 5000),
    ):
        assert response.status_code == 400
        assert list(response.json()) == ["Idempotency-Key"]
    assert counts() == before


@pytest.mark.parametrize("body", [{}, {"message": ""}, {"message": "   "}])
def test_a_counter_needs_a_message(team: Team, buyer: Any, body: dict) -> None:
    quote = offered(team)
    before, quote_before = counts(), state(quote)

    response = buyer.post(url(quote, "counter"), body, format="json", HTTP_IDEMPOTENCY_KEY="c")

    assert response.status_code == 400
    assert list(response.json()) == ["message"]
    assert (counts(), state(quote)) == (before, quote_before)


def test_out_of_turn_and_final_quotes_are_409s_and_change_nothing(
    team: Team, buyer: Any, quote_in: Callable[[Status], Quote]
) -> None:
    submitted = requested(team)
    in_review = offered(team)
    quotes.quote_counter(quote=in_review, actor=team.buyer, message="Less?")
    closed = offered(team)
    quotes.quote_close(quote=closed, actor=team.buyer)
    declined = quote_in(Status.DECLINED)
    waiting = "is waiting for the account manager, not for you."
    before = counts()
    states = [state(quote) for quote in (submitted, in_review, closed, declined)]

    answers = {
        ("submitted", "counter"): buyer.post(url(submitted, "counter"), {"message": "Hm?"}, format="json"),
        ("submitted", "accept"): buyer.post(url(submitted, "accept"), {}, format="json"),
        ("in_review", "accept"): buyer.post(
            url(in_review, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="a"
        ),
        ("in_review", "close"): buyer.post(url(in_review, "close"), {}, format="json"),
        ("closed", "accept"): buyer.post(url(closed, "accept"), {}, format="json"),
        ("declined", "counter"): buyer.post(url(declined, "counter"), {"message": "Why?"}, format="json"),
    }

    assert {name: response.status_code for name, response in answers.items()} == dict.fromkeys(answers, 409)
    assert answers["submitted", "counter"].json()["detail"] == f"Quote {submitted.number} {waiting}"
    assert answers["in_review", "accept"].json()["detail"] == f"Quote {in_review.number} {waiting}"
    assert answers["closed", "accept"].json()["detail"] == "This quote is closed; nothing more can be done."
    assert (
        answers["declined", "counter"].json()["detail"] == "This quote is declined; nothing more can be done."
    )
    assert counts() == before
    assert [state(quote) for quote in (submitted, in_review, closed, declined)] == states


def test_an_expired_offer_cannot_be_countered_either(
    team: Team, buyer: Any, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.OFFERED)  # valid until 30 June 2026: past

    response = buyer.post(url(quote, "counter"), {"message": "Still?"}, format="json")

    assert response.status_code == 409
    assert "has expired" in response.json()["detail"]
    assert state(quote)[0] == Status.EXPIRED


def test_accept_refuses_another_companys_address_and_a_used_po_number(team: Team, buyer: Any) -> None:
    quote = offered(team)
    foreign = ShipToAddressFactory(company=CompanyFactory())
    retired = ShipToAddressFactory(company=team.company, is_active=False)
    buyer.post(LIST, {"lines": [{"sku": "BOLT", "quantity": "1"}]}, format="json")  # a quote, not an order
    other = offered(team)
    buyer.post(url(other, "accept"), {"customer_po_number": "PO-1"}, format="json")
    before, quote_before = counts(), state(quote)

    answers = [
        buyer.post(url(quote, "accept"), {"ship_to_id": foreign.pk}, format="json", HTTP_IDEMPOTENCY_KEY="a"),
        buyer.post(url(quote, "accept"), {"ship_to_id": retired.pk}, format="json"),
        buyer.post(url(quote, "accept"), {"ship_to_id": "home"}, format="json"),
        buyer.post(
            url(quote, "accept"), {"customer_po_number": "PO-1"}, format="json", HTTP_IDEMPOTENCY_KEY="b"
        ),
        buyer.post(url(quote, "accept"), {"customer_po_number": "x" * 51}, format="json"),
    ]

    assert [response.status_code for response in answers] == [400] * 5
    assert answers[0].json() == {"ship_to_id": ["No such ship-to address in your company."]}
    assert answers[1].json() == {"ship_to_id": ["No such ship-to address in your company."]}
    assert answers[2].json() == {"ship_to_id": ["A valid integer is required."]}
    assert answers[3].json() == {"customer_po_number": ["Your company already has an order PO-1."]}
    assert list(answers[4].json()) == ["customer_po_number"]
    assert (counts(), state(quote)) == (before, quote_before)


def test_an_accept_the_order_checks_refuse_leaves_the_quote_offered(team: Team, buyer: Any) -> None:
    quote = offered(team)
    Company.objects.filter(pk=team.company.pk).update(status=Company.Status.ON_HOLD, hold_reason="Past due")
    before, quote_before = counts(), state(quote)

    response = buyer.post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="a")

    assert response.status_code == 400
    assert "on hold" in response.json()["detail"][0]
    assert (counts(), state(quote)) == (before, quote_before)


def test_a_body_that_is_no_json_is_a_400(team: Team, buyer: Any) -> None:
    quote = offered(team)
    before = counts()

    response = buyer.post(url(quote, "accept"), b"{nope", content_type="application/json")

    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    assert counts() == before
