"""``{% erp_live "products,stock" %}``: a hidden poller that tells an open page when an ERP pull changed
what it shows (see ``apps.erp.views.stream_changes``); the page's fragments listen for
``erp-changed-<stream>`` (or ``erp-changed``, any of them) ``from:body`` and refresh themselves."""

from __future__ import annotations

from typing import Any

from django import template

from apps.erp import selectors

register = template.Library()


@register.inclusion_tag("erp/_live.html")
def erp_live(streams: str) -> dict[str, Any]:
    return selectors.live_poller(streams)
