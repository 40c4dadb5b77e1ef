"""Order lists offered on other apps' pages (catalog, draft, order), so those apps need not know lists:
``{% load order_lists %}{% order_lists_editable as my_lists %}``."""

from __future__ import annotations

from typing import Any

from django import template

from apps.accounts.permissions import user_membership
from apps.order_lists.models import OrderList
from apps.order_lists.selectors import order_list_editable

register = template.Library()


@register.simple_tag(takes_context=True)
def order_lists_editable(context: dict[str, Any]) -> list[OrderList]:
    """The lists the signed-in member may add lines to (empty for roles that keep no lists)."""
    request = context.get("request")
    membership = user_membership(request.user) if request is not None else None
    return order_list_editable(membership=membership) if membership is not None else []
