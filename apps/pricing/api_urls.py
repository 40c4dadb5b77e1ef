from __future__ import annotations

from django.urls import path

from apps.pricing.api import CatalogProductListApi

urlpatterns = [
    path("catalog/products/", CatalogProductListApi.as_view(), name="api-catalog-products"),
]
