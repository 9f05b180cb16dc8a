"""Asset and account endpoints. They live here, not in onboarding, because creating an asset
or an account also opens balances (DESIGN.md §2: dependencies point one way)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request

from midaz.api.openapi import ERROR
from midaz.api.query import ListQuery
from midaz.api.render import json_response
from midaz.lookup import get_or_404
from onboarding import schemas, serializers, services
from onboarding.api.base import (
    CollectionView,
    CountView,
    ItemView,
    Resource,
    ResourceView,
    Scope,
    documented,
)
from onboarding.models import Account, Asset
from transactions import services as transaction_services

ASSETS = Resource(
    entity_type="Asset",
    model=Asset,
    not_found_code="0055",
    empty_code="0056",
    render=serializers.asset_out,
    component=serializers.ASSET,
    create_schema=schemas.ASSET_CREATE,
    update_schema=schemas.ASSET_UPDATE,
)
ACCOUNTS = Resource(
    entity_type="Account",
    model=Account,
    not_found_code="0052",
    empty_code="0064",
    render=serializers.account_out,
    component=serializers.ACCOUNT,
    create_schema=schemas.ACCOUNT_CREATE,
    update_schema=schemas.ACCOUNT_UPDATE,
)


@documented(ASSETS, "collection")
class AssetCollection(CollectionView):
    resource = ASSETS

    def create(self, scope: Scope, data: dict[str, Any]) -> Asset:
        assert scope.ledger is not None
        return transaction_services.asset_create(ledger=scope.ledger, data=data)


@documented(ASSETS, "item")
class AssetItem(ItemView):
    resource = ASSETS

    def update(self, obj: Asset, data: dict[str, Any]) -> Asset:
        return services.asset_update(asset=obj, data=data)

    def delete_object(self, obj: Asset) -> None:
        transaction_services.asset_delete(asset=obj)


@documented(ASSETS, "count")
class AssetCount(CountView):
    resource = ASSETS


def _p(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, description=description)


@documented(
    ACCOUNTS,
    "collection",
    [
        _p("portfolio_id", "uuid"),
        _p("segment_id", "uuid"),
        _p("parent_account_id", "uuid"),
        _p("status", "ACTIVE, INACTIVE or BLOCKED"),
        _p("type", "account type"),
        _p("asset_code", "asset code"),
        _p("entity_id", "exact"),
        _p("blocked", "true or false"),
        _p("name", "prefix, case-insensitive"),
        _p("alias", "prefix, case-insensitive"),
    ],
)
class AccountCollection(CollectionView):
    resource = ACCOUNTS
    name_filters = ("name",)

    def create(self, scope: Scope, data: dict[str, Any]) -> Account:
        assert scope.ledger is not None
        return transaction_services.account_create(ledger=scope.ledger, data=data)

    def filter(self, qs: QuerySet[Any], query: ListQuery) -> QuerySet[Any]:
        for param, field in (
            ("portfolio_id", "portfolio_id"),
            ("segment_id", "segment_id"),
            ("parent_account_id", "parent_account_id"),
        ):
            if (value := query.uuid(param)) is not None:
                qs = qs.filter(**{field: value})
        if status := query.choice("status", ("ACTIVE", "INACTIVE", "BLOCKED")):
            qs = qs.filter(status__iexact=status)
        if account_type := query.text("type"):
            qs = qs.filter(type=account_type.lower())
        if asset_code := query.text("asset_code"):
            qs = qs.filter(asset_code=asset_code.upper())
        if entity_id := query.text("entity_id"):
            qs = qs.filter(entity_id=entity_id)
        if (blocked := query.boolean("blocked")) is not None:
            qs = qs.filter(blocked=blocked)
        if name := query.prefix("name"):
            qs = qs.filter(name__istartswith=name)
        if alias := query.prefix("alias"):
            qs = qs.filter(alias__istartswith=alias)
        return qs


@documented(ACCOUNTS, "item")
class AccountItem(ItemView):
    resource = ACCOUNTS

    def update(self, obj: Account, data: dict[str, Any]) -> Account:
        return services.account_update(account=obj, data=data)

    def delete_object(self, obj: Account) -> None:
        transaction_services.account_delete(account=obj)


@documented(ACCOUNTS, "count")
class AccountCount(CountView):
    resource = ACCOUNTS


class AccountByAlias(ResourceView):
    resource = ACCOUNTS

    @extend_schema(
        summary="Get an account by alias",
        tags=["Accounts"],
        responses={200: ACCOUNTS.component, 404: ERROR},
    )
    def get(self, request: Request, alias: str, **kwargs: Any) -> HttpResponse:
        account = get_or_404(
            self.scoped_queryset(self.get_scope(kwargs)),
            code="0085",
            entity_type="Account",
            alias=alias,
        )
        return json_response(ACCOUNTS.render(account))


class AccountByExternalCode(ResourceView):
    resource = ACCOUNTS

    @extend_schema(
        summary="Get the external account of an asset",
        tags=["Accounts"],
        responses={200: ACCOUNTS.component, 404: ERROR},
    )
    def get(self, request: Request, code: str, **kwargs: Any) -> HttpResponse:
        account = get_or_404(
            self.scoped_queryset(self.get_scope(kwargs)),
            code="0085",
            entity_type="Account",
            alias=f"@external/{code}",
        )
        return json_response(ACCOUNTS.render(account))
