"""Operation endpoints (MIDAZ_API.md §4.8): the operations of an account (list and one) and
the update of an operation's description and metadata."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request

from midaz.api.openapi import cursor_list, error_responses
from midaz.api.query import ListQuery, bad_query, cursor_page, filter_common, parse_list_query
from midaz.api.render import json_response
from midaz.api.views import LedgerAPIView, parse_body, path_uuid
from midaz.exceptions import not_found
from onboarding.api.base import ledger_for_write, ledger_or_404
from transactions import balances as services
from transactions import schemas, selectors
from transactions.models import Operation
from transactions.serializers import OPERATION, operation_out

TAGS = ["Operations"]
_ERRORS = error_responses(400, 404)
_LIST_PARAMS = [
    OpenApiParameter("limit", int, description="Page size, 1..100 (default 10)"),
    OpenApiParameter("cursor", str, description="Opaque cursor"),
    OpenApiParameter("sort_order", str, enum=["asc", "desc"]),
    OpenApiParameter("start_date", str, description="yyyy-mm-dd or yyyy-mm-dd hh:mm:ss"),
    OpenApiParameter("end_date", str, description="yyyy-mm-dd or yyyy-mm-dd hh:mm:ss"),
    OpenApiParameter("type", str, description="Operation type, e.g. DEBIT (case-insensitive)"),
    OpenApiParameter("direction", str, enum=["debit", "credit"]),
    OpenApiParameter("route_id", str, description="uuid"),
    OpenApiParameter("route_code", str, description="exact route code"),
]


def _filter(qs: QuerySet[Operation], query: ListQuery) -> QuerySet[Operation]:
    if op_type := query.text("type"):
        qs = qs.filter(type=op_type.upper())
    if direction := query.text("direction"):
        direction = direction.lower()
        if direction not in ("debit", "credit"):
            raise bad_query("The query parameter 'direction' must be debit or credit.")
        qs = qs.filter(direction=direction)
    if (route_id := query.uuid("route_id")) is not None:
        qs = qs.filter(route_id=route_id)
    if route_code := query.text("route_code"):
        qs = qs.filter(route_code=route_code)
    return qs


class AccountOperationCollection(LedgerAPIView):
    @extend_schema(
        operation_id="list_account_operations",
        summary="List the operations of an account",
        tags=TAGS,
        parameters=_LIST_PARAMS,
        responses={200: cursor_list(OPERATION), **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, account_id: str
    ) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        account = selectors.account_get(ledger, path_uuid(account_id, "account_id"))
        query = parse_list_query(request.query_params, default_window=True)
        qs = _filter(filter_common(selectors.operations_of_account(account), query), query)
        page = cursor_page(qs, query)
        if query.metadata and not page["items"]:
            raise not_found("0069", "Operation", "No operations match the metadata filter.")
        page["items"] = [operation_out(op) for op in page["items"]]
        return json_response(page)


class AccountOperationItem(LedgerAPIView):
    @extend_schema(
        operation_id="get_account_operation",
        summary="Get one operation of an account",
        tags=TAGS,
        responses={200: OPERATION, **_ERRORS},
    )
    def get(
        self,
        request: Request,
        organization_id: str,
        ledger_id: str,
        account_id: str,
        operation_id: str,
    ) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        account = selectors.account_get(ledger, path_uuid(account_id, "account_id"))
        op = selectors.operation_of_account(account, path_uuid(operation_id, "operation_id"))
        return json_response(operation_out(op))


class TransactionOperationItem(LedgerAPIView):
    @extend_schema(
        operation_id="update_operation",
        summary="Update an operation's description and metadata",
        tags=TAGS,
        request={"application/json": schemas.OPERATION_UPDATE.openapi()},
        responses={200: OPERATION, **_ERRORS},
    )
    def patch(
        self,
        request: Request,
        organization_id: str,
        ledger_id: str,
        transaction_id: str,
        operation_id: str,
    ) -> HttpResponse:
        ledger = ledger_for_write(organization_id, ledger_id)
        tx_id = path_uuid(transaction_id, "transaction_id")
        op_id = path_uuid(operation_id, "operation_id")
        data = parse_body(request, schemas.OPERATION_UPDATE)
        op = services.operation_update(
            ledger=ledger, transaction_id=tx_id, operation_id=op_id, data=data
        )
        return json_response(operation_out(op))
