from __future__ import annotations

from django.urls import path

from apps.pricing import views

urlpatterns = [
    path("catalog/", views.buyer_catalog, name="buyer-catalog"),
    path("pricing/", views.tier_list, name="pricing-tiers"),
    path("pricing/tiers/<int:tier_id>/", views.tier_prices, name="pricing-tier"),
    path("pricing/tiers/<int:tier_id>/default/", views.tier_default_edit, name="pricing-tier-default"),
    path("pricing/tiers/<int:tier_id>/prices/add/", views.tier_price_add, name="pricing-tier-price-add"),
    path(
        "pricing/tiers/<int:tier_id>/prices/<int:row_id>/",
        views.tier_price_edit,
        name="pricing-tier-price-edit",
    ),
    path("pricing/companies/<int:company_id>/", views.company_pricing, name="pricing-company"),
    path("pricing/companies/<int:company_id>/tier/", views.company_tier_assign, name="pricing-company-tier"),
    path(
        "pricing/companies/<int:company_id>/prices/add/",
        views.contract_price_add,
        name="pricing-contract-price-add",
    ),
    path(
        "pricing/companies/<int:company_id>/prices/<int:row_id>/",
        views.contract_price_edit,
        name="pricing-contract-price-edit",
    ),
    path("pricing/uploads/new/", views.upload_new, name="pricing-upload-new"),
    path("pricing/uploads/<int:upload_id>/", views.upload_detail, name="pricing-upload"),
    path("pricing/uploads/<int:upload_id>/publish/", views.upload_publish, name="pricing-upload-publish"),
    path("pricing/audit/", views.audit_log, name="pricing-audit"),
]
