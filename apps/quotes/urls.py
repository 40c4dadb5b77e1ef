from __future__ import annotations

from django.urls import path

from apps.quotes import approval_views

urlpatterns = [
    path("staff/quotes/approvals/", approval_views.approval_queue, name="quote-approvals"),
    path(
        "staff/quotes/approvals/<int:quote_id>/",
        approval_views.approval_decision,
        name="quote-approval-decision",
    ),
]
