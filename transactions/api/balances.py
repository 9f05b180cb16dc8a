"""Balance endpoints (MIDAZ_API.md §3): ledger and account lists, one balance, its update and
soft delete, additional balances, alias/external lookups and point-in-time history.

The views translate HTTP to the reads of ``transactions.selectors`` and the writes of
``transactions.balances``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request

from midaz.api.openapi import COMPONENTS, component, cursor_list, error_responses
from midaz.api.query import bad_query, cursor_page, filter_common, parse_list_query
from midaz.api.render import json_response, no_content
from midaz.api.validation import F, Schema
from midaz.api.views import LedgerAPIView, parse_body, path_uuid
from midaz.exceptions import ValidationFailed, not_found
from onboarding.api.base import ledger_for_write, ledger_or_404
from transactions import balances as services
from transactions import selectors
from transactions.models import Balance
from transactions.serializers import BALANCE, balance_out

ENTITY = "Balance"
TAGS = ["Balances"]

# --- request bodies ---------------------------------------------------------------------------


def _no_whitespace(value: Any, path: str) -> None:
    if isinstance(value, str) and any(ch.isspace() for ch in value):
        raise ValidationFailed(
            f"{path} must not contain whitespace",
            code="0047",
            entity_type=ENTITY,
            fields={path: f"{path} must not contain whitespace"},
        )


def _direction(value: Any, path: str) -> None:
    if value and value.lower() not in services.DIRECTIONS:
        raise ValidationFailed(
            "direction must be 'credit' or 'debit'.", code="0171", entity_type=ENTITY
        )


def _settings(value: Any, path: str) -> None:
    # The rules run with the rest of the body checks, so a bad combination is a 400 before
    # any lookup, as every other body error.
    if value is not None:
        services.settings_normalize(value)


SETTINGS = F(
    "object",
    schema=Schema(
        "BalanceSettings",
        {
            "balanceScope": F("string", max_length=100, description='"" or "transactional"'),
            "allowOverdraft": F(
                "bool",
                description="credit-direction balances only; opens the account's internal "
                "overdraft balance",
            ),
            "overdraftLimitEnabled": F("bool"),
            "overdraftLimit": F(
                "string",
                max_length=100,
                description="ASCII digits with an optional fraction, > 0, at most "
                "MAX_AMOUNT_DIGITS digits; stored without leading zeros",
            ),
        },
        entity_type=ENTITY,
    ),
    checks=(_settings,),
)
BALANCE_CREATE = Schema(
    "CreateAdditionalBalance",
    {
        "key": F("string", required=True, max_length=100, checks=(_no_whitespace,)),
        "allowSending": F("bool"),
        "allowReceiving": F("bool"),
        "direction": F("string", max_length=10, checks=(_direction,)),
        "settings": SETTINGS,
    },
    entity_type=ENTITY,
)
BALANCE_UPDATE = Schema(
    "UpdateBalance",
    {"allowSending": F("bool"), "allowReceiving": F("bool"), "settings": SETTINGS},
    entity_type=ENTITY,
)

# --- responses --------------------------------------------------------------------------------

# A balance as it was at an instant: the Balance shape without the flags and soft delete.
_HISTORY_OMITS = {"allowSending", "allowReceiving", "deletedAt", "metadata"}
BALANCE_HISTORY = component(
    "BalanceHistory",
    {
        name: spec
        for name, spec in COMPONENTS["Balance"]["properties"].items()
        if name not in _HISTORY_OMITS
    },
    ["id", "alias", "key", "assetCode", "available", "onHold", "version"],
)
ALIAS_LIST = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": BALANCE}, "limit": {"type": "integer"}},
    "required": ["items", "limit"],
}
_ERRORS = error_responses()
_LIST_PARAMS = [
    OpenApiParameter("limit", int, description="Page size, 1..100 (default 10)"),
    OpenApiParameter("cursor", str, description="Opaque cursor"),
    OpenApiParameter("sort_order", str, enum=["asc", "desc"]),
    OpenApiParameter("start_date", str, description="yyyy-mm-dd or yyyy-mm-dd hh:mm:ss"),
    OpenApiParameter("end_date", str, description="yyyy-mm-dd or yyyy-mm-dd hh:mm:ss"),
]
_DATE_PARAM = [
    OpenApiParameter(
        "date", str, required=True, description="The instant, yyyy-mm-dd hh:mm:ss (UTC)"
    )
]


def history_out(state: selectors.BalanceState) -> dict[str, Any]:
    """A Balance as it stood at a past instant: without allowSending, allowReceiving,
    deletedAt and metadata, which history does not track."""
    balance = state.balance
    body: dict[str, Any] = {
        "id": balance.id,
        "organizationId": balance.organization_id,
        "ledgerId": balance.ledger_id,
        "accountId": balance.account_id,
        "alias": balance.alias,
        "key": balance.key,
        "assetCode": balance.asset_code,
        "available": state.available,
        "onHold": state.on_hold,
        "version": state.version,
        "accountType": balance.account_type,
        "direction": balance.direction,
        "overdraftUsed": state.overdraft_used,
        "createdAt": balance.created_at,
        "updatedAt": state.updated_at,
    }
    if balance.settings:
        body["settings"] = balance.settings
    return body


def history_date(request: Request) -> datetime:
    """The ``date`` query parameter: required (0142), ``yyyy-mm-dd hh:mm:ss`` in UTC (0131),
    not in the future (0140)."""
    raw = (request.query_params.get("date") or "").strip()
    if not raw:
        raise bad_query("The query parameter 'date' is required.", code="0142")
    moment = None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            moment = datetime.strptime(raw, fmt).replace(tzinfo=UTC)
            break
        except ValueError:
            continue
    if moment is None:
        raise bad_query("The query parameter 'date' must be 'yyyy-mm-dd hh:mm:ss'.", code="0131")
    if moment > datetime.now(UTC):
        raise bad_query("The query parameter 'date' cannot be in the future.", code="0140")
    return moment


def _no_data() -> Exception:
    return not_found("0141", ENTITY, "There is no balance data at the given date.")


def _cursor_list(request: Request, qs: Any) -> HttpResponse:
    query = parse_list_query(request.query_params)
    page = cursor_page(filter_common(qs, query), query)
    page["items"] = [balance_out(b) for b in page["items"]]
    return json_response(page)


# --- ledger balances --------------------------------------------------------------------------


class BalanceCollection(LedgerAPIView):
    @extend_schema(
        operation_id="list_balances",
        summary="List the balances of a ledger",
        tags=TAGS,
        parameters=_LIST_PARAMS,
        responses={200: cursor_list(BALANCE), **_ERRORS},
    )
    def get(self, request: Request, organization_id: str, ledger_id: str) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        return _cursor_list(request, selectors.balances_of_ledger(ledger))


class BalanceItem(LedgerAPIView):
    @extend_schema(
        operation_id="get_balance",
        summary="Get a balance",
        tags=TAGS,
        responses={200: BALANCE, **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, balance_id: str
    ) -> HttpResponse:
        pk = path_uuid(balance_id, "balance_id")
        balance = selectors.balance_in_live_ledger(
            path_uuid(organization_id, "organization_id"), path_uuid(ledger_id, "ledger_id"), pk
        )
        if balance is None:  # the exact 404 comes from the step-by-step lookups
            balance = selectors.balance_get(ledger_or_404(organization_id, ledger_id), pk)
        return json_response(balance_out(balance))

    @extend_schema(
        operation_id="update_balance",
        summary="Update a balance's flags and settings",
        tags=TAGS,
        request={"application/json": BALANCE_UPDATE.openapi()},
        responses={200: BALANCE, **_ERRORS},
    )
    def patch(
        self, request: Request, organization_id: str, ledger_id: str, balance_id: str
    ) -> HttpResponse:
        ledger = ledger_for_write(organization_id, ledger_id)
        pk = path_uuid(balance_id, "balance_id")
        data = parse_body(request, BALANCE_UPDATE)
        return json_response(
            balance_out(services.balance_update(ledger=ledger, balance_id=pk, data=data))
        )

    @extend_schema(
        operation_id="delete_balance",
        summary="Delete an empty balance",
        tags=TAGS,
        responses={204: None, **_ERRORS},
    )
    def delete(
        self, request: Request, organization_id: str, ledger_id: str, balance_id: str
    ) -> HttpResponse:
        ledger = ledger_for_write(organization_id, ledger_id)
        services.balance_delete(ledger=ledger, balance_id=path_uuid(balance_id, "balance_id"))
        return no_content()


class BalanceHistory(LedgerAPIView):
    @extend_schema(
        operation_id="get_balance_history",
        summary="A balance at a point in time",
        tags=TAGS,
        parameters=_DATE_PARAM,
        responses={200: BALANCE_HISTORY, **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, balance_id: str
    ) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        balance = selectors.balance_get(ledger, path_uuid(balance_id, "balance_id"))
        states = selectors.balances_at([balance], history_date(request))
        if not states:
            raise _no_data()
        return json_response(history_out(states[0]))


# --- account balances -------------------------------------------------------------------------


class AccountBalanceCollection(LedgerAPIView):
    @extend_schema(
        operation_id="list_account_balances",
        summary="List the balances of an account",
        tags=TAGS,
        parameters=_LIST_PARAMS,
        responses={200: cursor_list(BALANCE), **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, account_id: str
    ) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        account = selectors.account_get(ledger, path_uuid(account_id, "account_id"))
        return _cursor_list(request, selectors.balances_of_account(account))

    @extend_schema(
        operation_id="create_account_balance",
        summary="Create an additional balance on an account",
        tags=TAGS,
        request={"application/json": BALANCE_CREATE.openapi()},
        responses={201: BALANCE, **_ERRORS},
    )
    def post(
        self, request: Request, organization_id: str, ledger_id: str, account_id: str
    ) -> HttpResponse:
        ledger = ledger_for_write(organization_id, ledger_id)
        pk = path_uuid(account_id, "account_id")
        data = parse_body(request, BALANCE_CREATE)
        account = selectors.account_get(ledger, pk)
        return json_response(
            balance_out(services.balance_create(account=account, data=data)), status=201
        )


class AccountBalanceHistory(LedgerAPIView):
    @extend_schema(
        operation_id="get_account_balances_history",
        summary="All balances of an account at a point in time",
        tags=TAGS,
        parameters=_DATE_PARAM,
        responses={200: {"type": "array", "items": BALANCE_HISTORY}, **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, account_id: str
    ) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        account = selectors.account_get(ledger, path_uuid(account_id, "account_id"))
        moment = history_date(request)
        states = selectors.balances_at(
            selectors.balances_of_account(account).order_by("id"), moment
        )
        if not states:
            raise _no_data()
        return json_response([history_out(s) for s in states])


def _by_alias(ledger_id_args: tuple[str, str], alias: str) -> HttpResponse:
    organization_id, ledger_id = ledger_id_args
    # One query when the account has balances; the exact 404 (0038, 0037, 0085) or the empty
    # list otherwise come from the step-by-step lookups.
    balances: Iterable[Balance] = selectors.balances_by_alias(
        path_uuid(organization_id, "organization_id"), path_uuid(ledger_id, "ledger_id"), alias
    )
    if not balances:
        ledger = ledger_or_404(*ledger_id_args)
        account = selectors.account_by_alias(ledger, alias)
        balances = selectors.balances_of_account(account).order_by("id")
    # Midaz answers these lookups unpaginated, with the default limit in the envelope.
    return json_response({"items": [balance_out(b) for b in balances], "limit": 10})


class AliasBalances(LedgerAPIView):
    @extend_schema(
        operation_id="list_balances_by_alias",
        summary="All balances of the account with an alias",
        tags=TAGS,
        responses={200: ALIAS_LIST, **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, alias: str
    ) -> HttpResponse:
        return _by_alias((organization_id, ledger_id), alias)


class ExternalBalances(LedgerAPIView):
    @extend_schema(
        operation_id="list_external_balances",
        summary="All balances of the external account of an asset",
        tags=TAGS,
        responses={200: ALIAS_LIST, **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, code: str
    ) -> HttpResponse:
        return _by_alias((organization_id, ledger_id), f"@external/{code}")
