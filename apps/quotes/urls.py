from __future__ import annotations

from django.urls import path

from apps.quotes import views

urlpatterns = [
    path("quotes/", views.quote_list, name="quote-list"),
    path("quotes/new/", views.quote_request_new, name="quote-request"),
    path("quotes/from-draft/", views.quote_from_draft, name="quote-from-draft"),
    path("quotes/changes/", views.quote_changes, name="quote-changes"),
    path("quotes/<int:quote_id>/", views.quote_detail, name="quote-detail"),
    path("quotes/<int:quote_id>/edit/", views.quote_edit, name="quote-edit"),
    path("quotes/<int:quote_id>/accept/", views.quote_accept, name="quote-accept"),
    path("quotes/<int:quote_id>/counter/", views.quote_counter, name="quote-counter"),
    path("quotes/<int:quote_id>/close/", views.quote_close, name="quote-close"),
    path("quotes/<int:quote_id>/review/", views.quote_review, name="quote-review"),
    path("quotes/<int:quote_id>/decline/", views.quote_decline, name="quote-decline"),
    path("quotes/<int:quote_id>/offer/", views.quote_offer, name="quote-offer"),
    path("manager/quotes/", views.quote_queue, name="quote-queue"),
    path("manager/quotes/new/", views.quote_start, name="quote-start"),
    path("staff/quotes/approvals/", views.approval_queue, name="quote-approvals"),
    path(
        "staff/quotes/approvals/<int:quote_id>/",
        views.approval_decision,
        name="quote-approval-decision",
    ),
]
