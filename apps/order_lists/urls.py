from __future__ import annotations

from django.urls import path

from apps.order_lists import views

urlpatterns = [
    path("lists/", views.list_index, name="order-lists"),
    path("lists/new/", views.list_create, name="order-list-create"),
    path("lists/add/product/", views.add_product, name="order-list-add-product"),
    path("lists/add/draft/", views.add_draft, name="order-list-add-draft"),
    path("lists/add/order/<int:order_id>/", views.add_order, name="order-list-add-order"),
    path("lists/add/invoice/<int:invoice_id>/", views.add_invoice, name="order-list-add-invoice"),
    path("lists/<int:list_id>/", views.list_detail, name="order-list-detail"),
    path("lists/<int:list_id>/settings/", views.list_settings, name="order-list-settings"),
    path("lists/<int:list_id>/delete/", views.list_delete, name="order-list-delete"),
    path("lists/<int:list_id>/quick/", views.list_quick, name="order-list-quick"),
    path("lists/<int:list_id>/csv/", views.list_csv, name="order-list-csv"),
    path("lists/<int:list_id>/lines/<int:line_id>/", views.list_line, name="order-list-line"),
    path("lists/<int:list_id>/send/", views.list_send, name="order-list-send"),
    path("lists/<int:list_id>/copy/", views.list_copy, name="order-list-copy"),
    path("lists/<int:list_id>/export.csv", views.list_export, name="order-list-export"),
]
