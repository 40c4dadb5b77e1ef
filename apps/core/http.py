from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """A request that went through django-htmx's middleware (every request of the portal does)."""

    htmx: HtmxDetails


class AuthenticatedRequest(HtmxRequest):
    user: User
