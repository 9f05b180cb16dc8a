"""Asset-rate endpoints (MIDAZ_API.md §4.11): upsert by pair, get by external id, list by
source asset."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request

from midaz.api.openapi import cursor_list, error_responses
from midaz.api.query import cursor_page, filter_common, parse_list_query
from midaz.api.render import json_response
from midaz.api.views import LedgerAPIView, parse_body, path_uuid
from midaz.exceptions import not_found
from onboarding.api.base import ledger_for_write, ledger_or_404
from onboarding.schemas import check_asset_code
from transactions import rates

TAGS = ["Asset rates"]
_ERRORS = error_responses(400, 404)


class AssetRatePut(LedgerAPIView):
    @extend_schema(
        operation_id="put_asset_rate",
        summary="Create or replace the rate of a pair of assets",
        tags=TAGS,
        request={"application/json": rates.rate_put_openapi()},
        responses={201: rates.ASSET_RATE, **_ERRORS},
    )
    def put(self, request: Request, organization_id: str, ledger_id: str) -> HttpResponse:
        ledger = ledger_for_write(organization_id, ledger_id)
        data = parse_body(request, rates.RATE_PUT)
        return json_response(rates.rate_out(rates.rate_put(ledger=ledger, data=data)), status=201)


class AssetRateItem(LedgerAPIView):
    @extend_schema(
        operation_id="get_asset_rate",
        summary="Get an asset rate by its external id",
        tags=TAGS,
        responses={200: rates.ASSET_RATE, **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, external_id: str
    ) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        wanted = path_uuid(external_id, "external_id")
        rate = rates.rates_of_ledger(ledger).filter(external_id=wanted).first()
        if rate is None:
            raise not_found("0007", rates.ENTITY, "The asset rate was not found.")
        return json_response(rates.rate_out(rate))


class AssetRatesFrom(LedgerAPIView):
    @extend_schema(
        operation_id="list_asset_rates_from",
        summary="List the rates from an asset",
        tags=TAGS,
        parameters=[
            OpenApiParameter("to", str, description="Comma-separated target asset codes"),
            OpenApiParameter("limit", int),
            OpenApiParameter("cursor", str),
            OpenApiParameter("sort_order", str, enum=["asc", "desc"]),
            OpenApiParameter("start_date", str),
            OpenApiParameter("end_date", str),
        ],
        responses={200: cursor_list(rates.ASSET_RATE), **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, asset_code: str
    ) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        check_asset_code(asset_code, rates.ENTITY)
        query = parse_list_query(request.query_params)
        qs = rates.rates_of_ledger(ledger).filter(from_asset=asset_code)
        targets = [c.strip() for c in (query.text("to") or "").split(",") if c.strip()]
        for code in targets:
            check_asset_code(code, rates.ENTITY)
        if targets:
            qs = qs.filter(to_asset__in=targets)
        page = cursor_page(filter_common(qs, query), query)
        page["items"] = [rates.rate_out(r) for r in page["items"]]
        return json_response(page)
