from __future__ import annotations

from django.urls import path

from apps.quotes.api import (
    QuoteAcceptApi,
    QuoteCloseApi,
    QuoteCounterApi,
    QuoteDetailApi,
    QuoteListRequestApi,
)

urlpatterns = [
    path("quotes/", QuoteListRequestApi.as_view(), name="api-quote-list"),
    path("quotes/<int:quote_id>/", QuoteDetailApi.as_view(), name="api-quote-detail"),
    path("quotes/<int:quote_id>/counter/", QuoteCounterApi.as_view(), name="api-quote-counter"),
    path("quotes/<int:quote_id>/accept/", QuoteAcceptApi.as_view(), name="api-quote-accept"),
    path("quotes/<int:quote_id>/close/", QuoteCloseApi.as_view(), name="api-quote-close"),
]
