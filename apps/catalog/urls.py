from __future__ import annotations

from django.urls import path

from apps.catalog import views

urlpatterns = [
    path("manager/products/", views.product_list, name="manager-products"),
    path("manager/products/<int:product_id>/", views.product_detail, name="manager-product-detail"),
    path("manager/products/<int:product_id>/rules/", views.product_order_rules, name="manager-product-rules"),
]
