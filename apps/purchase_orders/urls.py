from __future__ import annotations

from django.urls import path

from apps.purchase_orders import views

urlpatterns = [
    path("orders/", views.order_list, name="po-list"),
    path("orders/export.csv", views.order_list_export, name="po-list-export"),
    path("orders/draft/", views.builder, name="po-builder"),
    path("orders/draft/header/", views.builder_header, name="po-builder-header"),
    path("orders/draft/quick/", views.builder_quick, name="po-builder-quick"),
    path("orders/draft/csv/", views.builder_csv, name="po-builder-csv"),
    path("orders/draft/add/", views.builder_add, name="po-builder-add"),
    path("orders/draft/lines/", views.builder_lines, name="po-builder-lines"),
    path("orders/draft/imports/<int:job_id>/", views.builder_import, name="po-builder-import"),
    path("orders/draft/lines/<int:line_id>/", views.builder_line, name="po-builder-line"),
    path("orders/draft/submit/", views.builder_submit, name="po-builder-submit"),
    path("orders/<int:order_id>/", views.order_detail, name="po-detail"),
    path("orders/<int:order_id>/cancel/", views.order_cancel, name="po-cancel"),
    path("orders/<int:order_id>/reorder/", views.order_reorder, name="po-reorder"),
    path("orders/<int:order_id>/export.csv", views.order_export, name="po-export"),
]
