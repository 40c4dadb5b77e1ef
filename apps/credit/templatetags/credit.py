"""Credit shown on other apps' pages, so that those apps need not know credit: ``{% load credit %}``."""

from __future__ import annotations

from decimal import Decimal

from django import template

from apps.accounts.models import Company
from apps.credit.selectors import CreditMeter, credit_meter, credit_position_get

register = template.Library()


@register.inclusion_tag("credit/_credit_meter.html")
def credit_meter_for(*, company: Company, amount: Decimal) -> dict[str, CreditMeter]:
    """The company's credit with an order of ``amount`` on top (the order builder's meter):
    ``{% credit_meter_for company=order.company amount=estimate %}``."""
    return {"credit": credit_meter(position=credit_position_get(company=company), order_amount=amount)}
