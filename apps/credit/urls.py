from __future__ import annotations

from django.urls import path

from apps.credit import views

urlpatterns = [
    path("invoices/", views.invoices, name="buyer-invoices"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="buyer-invoice"),
    path("invoices/<int:invoice_id>/reorder/", views.invoice_reorder, name="invoice-reorder"),
    path("finance/", views.finance_home, name="finance-home"),
    path("finance/companies/<int:company_id>/hold/", views.finance_company_hold, name="finance-company-hold"),
    path(
        "finance/companies/<int:company_id>/release/",
        views.finance_company_release,
        name="finance-company-release",
    ),
    path("finance/holds/", views.hold_queue, name="finance-holds"),
    path("finance/holds/bulk/", views.hold_bulk, name="finance-holds-bulk"),
    path("finance/holds/<int:hold_id>/", views.hold_detail, name="finance-hold-detail"),
    path("finance/holds/<int:hold_id>/decide/", views.hold_decide, name="finance-hold-decide"),
    path("finance/companies/<int:company_id>/credit/", views.company_credit, name="finance-company-credit"),
    path(
        "finance/companies/<int:company_id>/tolerance/",
        views.company_tolerance,
        name="finance-company-tolerance",
    ),
]
