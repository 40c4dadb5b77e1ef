from __future__ import annotations

from collections.abc import Callable

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


class HtmxMessagesMiddleware:
    """Deliver flash messages on htmx responses as an out-of-band swap into ``#messages``.

    A full page renders messages in base.html; a fragment has no header, so without this a message
    would wait for the next full page load and appear out of context.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not getattr(request, "htmx", False)
            or "HX-Redirect" in response
            or 300 <= response.status_code < 400
            or not response.get("Content-Type", "").startswith("text/html")
            or getattr(response, "streaming", False)
        ):
            return response
        storage = get_messages(request)
        if not list(storage):
            return response
        html = render_to_string("includes/messages_oob.html", {"messages": storage}, request=request)
        response.content = response.content + html.encode(response.charset)
        return response
