"""What the quote API tests share: token clients, offers made now (the API acts at the real time), and a
count of every row an action could write."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from apps.quotes import services as quotes
from apps.quotes.models import (
    Quote,
    QuoteEvent,
    QuoteIdempotencyRecord,
    QuoteLine,
    QuoteRequestLine,
    QuoteVersion,
)
from tests.quotes.conftest import Team, offer_lines, refreshed, request_lines

LIST = "/api/v1/quotes/"


def url(quote: Quote, action: str = "") -> str:
    return f"{LIST}{quote.pk}/{action + '/' if action else ''}"


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def in_a_month() -> date:
    return timezone.localdate() + timedelta(days=30)


def requested(team: Team) -> Quote:
    return quotes.quote_request(
        company=team.company, buyer=team.buyer, message="Best price?", lines=request_lines(team)
    )


def offered(team: Team, quote: Quote | None = None, **prices: str) -> Quote:
    """A quote with an offer on the table until a month from now (a new one when none is given)."""
    quote = quote or requested(team)
    if refreshed(quote).status == Quote.Status.SUBMITTED:
        quotes.quote_review(quote=quote, actor=team.manager)
    quotes.quote_offer(
        quote=quote, actor=team.manager, lines=offer_lines(team, **prices), valid_until=in_a_month()
    )
    return refreshed(quote)


def counts() -> dict[str, int]:
    """Every row the quote API could write; a refused call leaves them all as they were."""
    models = [
        Quote,
        QuoteRequestLine,
        QuoteVersion,
        QuoteLine,
        QuoteEvent,
        QuoteIdempotencyRecord,
        PurchaseOrder,
        PurchaseOrderLine,
    ]
    return {model.__name__: model.objects.count() for model in models}


def state(quote: Quote) -> tuple[str, int | None, int]:
    fresh = refreshed(quote)
    return fresh.status, fresh.purchase_order_id, fresh.events.count()
