from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import user_membership
from apps.catalog import selectors as catalog_selectors
from apps.core.rest import detail_response
from apps.pricing.selectors import price_resolve_many


class CatalogProductListApi(APIView):
    """The signed-in buyer's catalog with their own unit prices; never another company's. Pricing's, not
    the catalog's: the catalog knows products, pricing knows what a company pays for them."""

    class OutputSerializer(serializers.Serializer):
        sku = serializers.CharField()
        name = serializers.CharField()
        category = serializers.CharField(allow_null=True)
        unit = serializers.CharField()
        currency = serializers.CharField()
        unit_price = serializers.DecimalField(max_digits=16, decimal_places=4)
        price_source = serializers.CharField()
        breaks = serializers.ListField(child=serializers.DictField())
        stock = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True)
        stock_as_of = serializers.DateTimeField(allow_null=True)

    @extend_schema(
        parameters=[OpenApiParameter("q", str), OpenApiParameter("page", int)],
        responses={
            200: inline_serializer(
                "CatalogProductPage",
                {
                    "count": serializers.IntegerField(),
                    "page": serializers.IntegerField(),
                    "results": OutputSerializer(many=True),
                },
            ),
            401: detail_response("No valid token."),
            403: detail_response("Not a company's user."),
        },
    )
    def get(self, request: Request) -> Response:
        membership = user_membership(request.user)
        if membership is None:
            raise PermissionDenied("Only a company's users have a catalog.")
        # A NUL byte can be in no product's name, and PostgreSQL refuses it in a query: searched without it.
        search = request.query_params.get("q", "").replace("\x00", "").strip()
        products = catalog_selectors.product_list(search=search)
        page, items = catalog_selectors.product_page(products, request.query_params.get("page"), 50)
        quotes = price_resolve_many(account=membership.company, products=items)
        data = [
            {
                "sku": product.sku,
                "name": product.name,
                "category": product.category.name if product.category else None,
                "unit": product.unit,
                "currency": quotes[product.pk].currency,
                "unit_price": quotes[product.pk].unit_price,
                "price_source": quotes[product.pk].source,
                "breaks": [
                    {"min_quantity": str(step.min_quantity), "unit_price": str(step.unit_price)}
                    for step in quotes[product.pk].breaks
                ],
                "stock": product.stock.quantity if hasattr(product, "stock") else None,
                "stock_as_of": product.stock.as_of if hasattr(product, "stock") else None,
            }
            for product in items
        ]
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "results": self.OutputSerializer(data, many=True).data,
            }
        )
