from __future__ import annotations

from django.urls import path

from apps.approvals import views

urlpatterns = [
    path("company/approval-rules/", views.rules, name="approval-rules"),
    path("company/approval-rules/<int:rule_id>/", views.rule_toggle, name="approval-rule-toggle"),
    path("approvals/", views.approval_queue, name="po-approvals"),
    path("approvals/<int:request_id>/", views.approval_decision, name="po-approval-decision"),
]
