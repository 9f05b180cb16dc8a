"""Onboarding endpoints that touch no balances: organizations, ledgers (and their settings),
portfolios, segments and account types. Assets and accounts live in ``transactions.api``
because creating them also opens balances."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request

from access.auth import visible
from midaz.api.openapi import ERROR, component
from midaz.api.query import ListQuery
from midaz.api.render import json_response
from midaz.api.views import LedgerAPIView, read_json
from onboarding import ledger_settings, schemas, serializers, services
from onboarding.api.base import (
    CollectionView,
    CountView,
    ItemView,
    Resource,
    Scope,
    documented,
    ledger_for_write,
    ledger_or_404,
)
from onboarding.models import AccountType, Ledger, Organization, Portfolio, Segment

ACTIVE_INACTIVE = ("ACTIVE", "INACTIVE")

ORGANIZATIONS = Resource(
    entity_type="Organization",
    model=Organization,
    not_found_code="0038",
    empty_code="0059",
    render=serializers.organization_out,
    component=serializers.ORGANIZATION,
    create_schema=schemas.ORGANIZATION_CREATE,
    update_schema=schemas.ORGANIZATION_UPDATE,
    scope="root",
)
LEDGERS = Resource(
    entity_type="Ledger",
    model=Ledger,
    not_found_code="0037",
    empty_code="0060",
    render=serializers.ledger_out,
    component=serializers.LEDGER,
    create_schema=schemas.LEDGER_CREATE,
    update_schema=schemas.LEDGER_UPDATE,
    scope="organization",
)
PORTFOLIOS = Resource(
    entity_type="Portfolio",
    model=Portfolio,
    not_found_code="0035",
    empty_code="0058",
    render=serializers.portfolio_out,
    component=serializers.PORTFOLIO,
    create_schema=schemas.PORTFOLIO_CREATE,
    update_schema=schemas.PORTFOLIO_UPDATE,
)
SEGMENTS = Resource(
    entity_type="Segment",
    model=Segment,
    not_found_code="0036",
    empty_code="0057",
    render=serializers.segment_out,
    component=serializers.SEGMENT,
    create_schema=schemas.SEGMENT_CREATE,
    update_schema=schemas.SEGMENT_UPDATE,
)
ACCOUNT_TYPES = Resource(
    entity_type="AccountType",
    model=AccountType,
    not_found_code="0109",
    empty_code="0110",
    render=serializers.account_type_out,
    component=serializers.ACCOUNT_TYPE,
    create_schema=schemas.ACCOUNT_TYPE_CREATE,
    update_schema=schemas.ACCOUNT_TYPE_UPDATE,
    pagination="cursor+page",
)


def _param(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, description=description)


# --- organizations -----------------------------------------------------------------------------


@documented(
    ORGANIZATIONS,
    "collection",
    [
        _param("legal_name", "prefix, case-insensitive"),
        _param("doing_business_as", "prefix, case-insensitive"),
        _param("legal_document", "exact"),
        _param("status", "ACTIVE or INACTIVE"),
    ],
)
class OrganizationCollection(CollectionView):
    resource = ORGANIZATIONS
    lists_organizations = True  # every key may list; it sees its own organizations
    name_filters = ("legal_name", "doing_business_as")

    def create(self, scope: Scope, data: dict[str, Any]) -> Organization:
        # A parent must be an organization the caller's key may see.
        parents = visible(self.request, Organization.objects.all())
        return services.organization_create(data=data, visible=parents)

    def filter(self, qs: QuerySet[Any], query: ListQuery) -> QuerySet[Any]:
        if legal_name := query.prefix("legal_name"):
            qs = qs.filter(legal_name__istartswith=legal_name)
        if dba := query.prefix("doing_business_as"):
            qs = qs.filter(doing_business_as__istartswith=dba)
        if document := query.text("legal_document"):
            qs = qs.filter(legal_document=document)
        if status := query.choice("status", ACTIVE_INACTIVE):
            qs = qs.filter(status__iexact=status)
        return qs


@documented(ORGANIZATIONS, "item")
class OrganizationItem(ItemView):
    resource = ORGANIZATIONS
    organization_kwarg = "id"  # the organization a key must cover

    def update(self, obj: Organization, data: dict[str, Any]) -> Organization:
        parents = visible(self.request, Organization.objects.all())
        return services.organization_update(organization=obj, data=data, visible=parents)

    def delete_object(self, obj: Organization) -> None:
        services.organization_delete(organization=obj)


@documented(ORGANIZATIONS, "count")
class OrganizationCount(CountView):
    resource = ORGANIZATIONS
    lists_organizations = True


# --- ledgers -----------------------------------------------------------------------------------


@documented(
    LEDGERS,
    "collection",
    [_param("name", "prefix, case-insensitive"), _param("status", "ACTIVE or INACTIVE")],
)
class LedgerCollection(CollectionView):
    resource = LEDGERS
    name_filters = ("name",)

    def create(self, scope: Scope, data: dict[str, Any]) -> Ledger:
        assert scope.organization is not None
        return services.ledger_create(organization=scope.organization, data=data)

    def filter(self, qs: QuerySet[Any], query: ListQuery) -> QuerySet[Any]:
        if name := query.prefix("name"):
            qs = qs.filter(name__istartswith=name)
        if status := query.choice("status", ACTIVE_INACTIVE):
            qs = qs.filter(status__iexact=status)
        return qs


@documented(LEDGERS, "item")
class LedgerItem(ItemView):
    resource = LEDGERS
    id_kwarg = "ledger_id"

    def update(self, obj: Ledger, data: dict[str, Any]) -> Ledger:
        return services.ledger_update(ledger=obj, data=data)

    def delete_object(self, obj: Ledger) -> None:
        services.ledger_delete(ledger=obj)


@documented(LEDGERS, "count")
class LedgerCount(CountView):
    resource = LEDGERS


_SETTINGS = component(
    "LedgerSettings",
    {
        section: {"type": "object", "properties": {k: {} for k in fields}}
        for section, fields in ledger_settings.DEFAULTS.items()
    },
)


class LedgerSettingsView(LedgerAPIView):
    """The effective settings of a ledger; PATCH deep-merges a partial document."""

    @extend_schema(
        summary="Get ledger settings", tags=["Ledgers"], responses={200: _SETTINGS, 404: ERROR}
    )
    def get(self, request: Request, organization_id: str, ledger_id: str) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        return json_response(ledger_settings.effective(ledger.settings))

    @extend_schema(
        summary="Update ledger settings",
        tags=["Ledgers"],
        # A null body changes nothing, as it does in Midaz.
        request={"application/json": {"type": "object", "nullable": True}},
        responses={200: _SETTINGS, 400: ERROR, 404: ERROR},
    )
    def patch(self, request: Request, organization_id: str, ledger_id: str) -> HttpResponse:
        ledger = ledger_for_write(organization_id, ledger_id)
        return json_response(
            services.ledger_settings_update(ledger=ledger, patch=read_json(request))
        )


# --- portfolios, segments, account types -------------------------------------------------------


@documented(
    PORTFOLIOS,
    "collection",
    [_param("entity_id", "exact"), _param("status", "ACTIVE or INACTIVE")],
)
class PortfolioCollection(CollectionView):
    resource = PORTFOLIOS

    def create(self, scope: Scope, data: dict[str, Any]) -> Portfolio:
        assert scope.ledger is not None
        return services.portfolio_create(ledger=scope.ledger, data=data)

    def filter(self, qs: QuerySet[Any], query: ListQuery) -> QuerySet[Any]:
        if entity_id := query.text("entity_id"):
            qs = qs.filter(entity_id=entity_id)
        if status := query.choice("status", ACTIVE_INACTIVE):
            qs = qs.filter(status__iexact=status)
        return qs


@documented(PORTFOLIOS, "item")
class PortfolioItem(ItemView):
    resource = PORTFOLIOS

    def update(self, obj: Portfolio, data: dict[str, Any]) -> Portfolio:
        return services.portfolio_update(portfolio=obj, data=data)

    def delete_object(self, obj: Portfolio) -> None:
        services.entity_delete(entity=obj)


@documented(PORTFOLIOS, "count")
class PortfolioCount(CountView):
    resource = PORTFOLIOS


@documented(SEGMENTS, "collection")
class SegmentCollection(CollectionView):
    resource = SEGMENTS

    def create(self, scope: Scope, data: dict[str, Any]) -> Segment:
        assert scope.ledger is not None
        return services.segment_create(ledger=scope.ledger, data=data)


@documented(SEGMENTS, "item")
class SegmentItem(ItemView):
    resource = SEGMENTS

    def update(self, obj: Segment, data: dict[str, Any]) -> Segment:
        return services.segment_update(segment=obj, data=data)

    def delete_object(self, obj: Segment) -> None:
        services.entity_delete(entity=obj)


@documented(SEGMENTS, "count")
class SegmentCount(CountView):
    resource = SEGMENTS


@documented(ACCOUNT_TYPES, "collection", [_param("key_value", "exact, case-insensitive")])
class AccountTypeCollection(CollectionView):
    resource = ACCOUNT_TYPES

    def create(self, scope: Scope, data: dict[str, Any]) -> AccountType:
        assert scope.ledger is not None
        return services.account_type_create(ledger=scope.ledger, data=data)

    def filter(self, qs: QuerySet[Any], query: ListQuery) -> QuerySet[Any]:
        if key_value := query.text("key_value"):
            qs = qs.filter(key_value__iexact=key_value)
        return qs


@documented(ACCOUNT_TYPES, "item")
class AccountTypeItem(ItemView):
    resource = ACCOUNT_TYPES

    def update(self, obj: AccountType, data: dict[str, Any]) -> AccountType:
        return services.account_type_update(account_type=obj, data=data)

    def delete_object(self, obj: AccountType) -> None:
        services.entity_delete(entity=obj)
