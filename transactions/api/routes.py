"""Operation-route and transaction-route endpoints (MIDAZ_API.md §4.12 and §4.13), on the generic
collection and item views; the rules live in ``transactions.routes``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from onboarding.api.base import CollectionView, ItemView, Resource, Scope, documented
from transactions import routes
from transactions.models import OperationRoute, TransactionRoute

OPERATION_ROUTES = Resource(
    entity_type="OperationRoute",
    model=OperationRoute,
    not_found_code="0101",
    empty_code="0102",
    render=routes.operation_route_out,
    component=routes.OPERATION_ROUTE_COMPONENT,
    create_schema=routes.OPERATION_ROUTE_CREATE,
    update_schema=routes.OPERATION_ROUTE_UPDATE,
    pagination="cursor",
    tag="Routes",
)
TRANSACTION_ROUTES = Resource(
    entity_type="TransactionRoute",
    model=TransactionRoute,
    not_found_code="0105",
    empty_code="0106",
    render=routes.transaction_route_out,
    component=routes.TRANSACTION_ROUTE_COMPONENT,
    create_schema=routes.TRANSACTION_ROUTE_CREATE,
    update_schema=routes.TRANSACTION_ROUTE_UPDATE,
    pagination="cursor",
    tag="Routes",
)


@documented(OPERATION_ROUTES, "collection")
class OperationRouteCollection(CollectionView):
    resource = OPERATION_ROUTES

    def create(self, scope: Scope, data: dict[str, Any]) -> OperationRoute:
        assert scope.ledger is not None
        return routes.operation_route_create(ledger=scope.ledger, data=data)


@documented(OPERATION_ROUTES, "item")
class OperationRouteItem(ItemView):
    resource = OPERATION_ROUTES
    id_kwarg = "operation_route_id"

    def update(self, obj: OperationRoute, data: dict[str, Any]) -> OperationRoute:
        return routes.operation_route_update(route=obj, data=data)

    def delete_object(self, obj: OperationRoute) -> None:
        routes.operation_route_delete(route=obj)


@documented(TRANSACTION_ROUTES, "collection")
class TransactionRouteCollection(CollectionView):
    resource = TRANSACTION_ROUTES

    def create(self, scope: Scope, data: dict[str, Any]) -> TransactionRoute:
        assert scope.ledger is not None
        return routes.transaction_route_create(ledger=scope.ledger, data=data)

    def filter(self, qs: QuerySet[Any], query: Any) -> QuerySet[Any]:
        return qs.prefetch_related("operation_routes")


@documented(TRANSACTION_ROUTES, "item")
class TransactionRouteItem(ItemView):
    resource = TRANSACTION_ROUTES
    id_kwarg = "transaction_route_id"

    def update(self, obj: TransactionRoute, data: dict[str, Any]) -> TransactionRoute:
        return routes.transaction_route_update(route=obj, data=data)

    def delete_object(self, obj: TransactionRoute) -> None:
        routes.transaction_route_delete(route=obj)
