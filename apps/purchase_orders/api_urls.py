from __future__ import annotations

from django.urls import path

from apps.purchase_orders.api import PurchaseOrderDetailApi, PurchaseOrderListCreateApi

urlpatterns = [
    path("purchase-orders/", PurchaseOrderListCreateApi.as_view(), name="api-po-list"),
    path("purchase-orders/<int:order_id>/", PurchaseOrderDetailApi.as_view(), name="api-po-detail"),
]
