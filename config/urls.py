from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from apps.core.rest import not_found

urlpatterns = [
    path("", include("apps.accounts.urls")),
    path("", include("apps.core.urls")),
    path("", include("apps.catalog.urls")),
    path("", include("apps.erp.urls")),
    path("", include("apps.pricing.urls")),
    path("", include("apps.purchase_orders.urls")),
    path("", include("apps.approvals.urls")),
    path("", include("apps.credit.urls")),
    path("", include("apps.quotes.urls")),
    path("", include("apps.order_lists.urls")),
    path("api/v1/", include("apps.pricing.api_urls")),
    path("api/v1/", include("apps.purchase_orders.api_urls")),
    path("api/v1/", include("apps.quotes.api_urls")),
    path("django-admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    re_path(r"^api/", not_found),  # last: every other /api/ address is a JSON 404
]
