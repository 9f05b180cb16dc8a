"""Generic collection, item and count views for the CRUD entities of the API.

Each entity declares a :class:`Resource` (model, codes, rendering, schemas) and subclasses the
views below with its services: the views only translate HTTP to service calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from access import auth as access_auth
from midaz import context
from midaz.api.openapi import cursor_list, error_responses, offset_list
from midaz.api.query import ListQuery, cursor_page, filter_common, offset_page, parse_list_query
from midaz.api.render import count_response, json_response, no_content
from midaz.api.validation import Schema
from midaz.api.views import LedgerAPIView, parse_body, path_uuid
from midaz.exceptions import NotFound, ValidationFailed, not_found
from midaz.lookup import get_or_404
from onboarding.models import Ledger, Organization


@dataclass(frozen=True)
class Scope:
    organization: Organization | None = None
    ledger: Ledger | None = None


@dataclass(frozen=True)
class Resource:
    entity_type: str
    model: type[Model]
    not_found_code: str
    empty_code: str  # "No <entities> Found", for metadata filters that match nothing
    render: Callable[[Any], dict[str, Any]]
    component: dict[str, Any]
    create_schema: Schema | None = None
    update_schema: Schema | None = None
    scope: str = "ledger"  # "root", "organization" or "ledger"
    pagination: str = "offset"  # "offset", "cursor" or "cursor+page"
    tag: str = ""

    def list_component(self) -> dict[str, Any]:
        if self.pagination == "offset":
            return offset_list(self.component)
        return cursor_list(self.component, with_page=self.pagination == "cursor+page")


def organization_or_404(organization_id: str) -> Organization:
    org_id = path_uuid(organization_id, "organization_id")
    return get_or_404(
        Organization.objects.without_metadata(), code="0038", entity_type="Organization", pk=org_id
    )


def ledger_or_404(organization_id: str, ledger_id: str) -> Ledger:
    """The ledger of the path; 0038 when the organization is missing, else 0037."""
    org_id = path_uuid(organization_id, "organization_id")
    led_id = path_uuid(ledger_id, "ledger_id")
    try:
        return get_or_404(
            Ledger.objects.without_metadata().select_related("organization"),
            code="0037",
            entity_type="Ledger",
            pk=led_id,
            organization_id=org_id,
            organization__deleted_at__isnull=True,  # nothing lives under a deleted organization
        )
    except NotFound:
        organization_or_404(organization_id)
        raise


def ledger_for_write(organization_id: str, ledger_id: str) -> Ledger:
    """``ledger_or_404`` for a write: the request is pinned to the primary first, so that what
    the write decides on (the ledger is alive, its settings, the row it changes) is never read
    on a replica that may lag."""
    context.pin_to_primary()
    return ledger_or_404(organization_id, ledger_id)


class ResourceView(LedgerAPIView):
    resource: ClassVar[Resource]

    def get_scope(self, kwargs: dict[str, Any]) -> Scope:
        if self.request.method not in SAFE_METHODS:
            # A write decides on what it reads here (the ledger is alive, its settings: account
            # types, holders): read it on the primary, never on a replica that may lag.
            context.pin_to_primary()
        if self.resource.scope == "ledger":
            ledger = ledger_or_404(kwargs["organization_id"], kwargs["ledger_id"])
            return Scope(ledger.organization, ledger)
        if self.resource.scope == "organization":
            return Scope(organization_or_404(kwargs["organization_id"]))
        return Scope()

    def scoped_queryset(self, scope: Scope) -> QuerySet[Any]:
        qs: QuerySet[Any] = self.resource.model.objects.all()  # type: ignore[attr-defined]
        if getattr(self, "lists_organizations", False):
            return access_auth.visible(self.request, qs)  # a key lists its own only
        if scope.ledger is not None:
            return qs.filter(ledger=scope.ledger)
        if scope.organization is not None:
            return qs.filter(organization=scope.organization)
        return qs

    def get_object(self, scope: Scope, raw_id: str, name: str = "id") -> Any:
        return get_or_404(
            self.scoped_queryset(scope),
            code=self.resource.not_found_code,
            entity_type=self.resource.entity_type,
            pk=path_uuid(raw_id, name),
        )


class CollectionView(ResourceView):
    """``GET`` lists (with filters), ``POST`` creates."""

    name_filters: ClassVar[tuple[str, ...]] = ()

    def create(self, scope: Scope, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def filter(self, qs: QuerySet[Any], query: ListQuery) -> QuerySet[Any]:
        """Entity-specific filters; the common ones (dates, metadata) are applied already."""
        return qs

    def post(self, request: Request, **kwargs: Any) -> HttpResponse:
        scope = self.get_scope(kwargs)
        assert self.resource.create_schema is not None
        data = parse_body(request, self.resource.create_schema)
        return json_response(self.resource.render(self.create(scope, data)), status=201)

    def get(self, request: Request, **kwargs: Any) -> HttpResponse:
        scope = self.get_scope(kwargs)
        query = parse_list_query(request.query_params)
        if query.metadata and any(query.text(name) for name in self.name_filters):
            raise ValidationFailed(
                "Metadata filters cannot be combined with name filters.", code="0082"
            )
        qs = self.filter(filter_common(self.scoped_queryset(scope), query), query)
        if self.resource.pagination == "offset":
            page = offset_page(qs, query)
        else:
            page = cursor_page(qs, query)
            if self.resource.pagination == "cursor+page":
                page["page"] = query.page
        if query.metadata and not page["items"]:
            raise not_found(
                self.resource.empty_code,
                self.resource.entity_type,
                "No records match the metadata filter.",
            )
        page["items"] = [self.resource.render(item) for item in page["items"]]
        return json_response(page)


class ItemView(ResourceView):
    """``GET`` one, ``PATCH`` it, ``DELETE`` it (soft)."""

    id_kwarg: ClassVar[str] = "id"

    def update(self, obj: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def delete_object(self, obj: Any) -> None:
        raise NotImplementedError

    def get(self, request: Request, **kwargs: Any) -> HttpResponse:
        obj = self.get_object(self.get_scope(kwargs), kwargs[self.id_kwarg], self.id_kwarg)
        return json_response(self.resource.render(obj))

    def patch(self, request: Request, **kwargs: Any) -> HttpResponse:
        scope = self.get_scope(kwargs)
        assert self.resource.update_schema is not None
        data = parse_body(request, self.resource.update_schema)
        obj = self.get_object(scope, kwargs[self.id_kwarg], self.id_kwarg)
        return json_response(self.resource.render(self.update(obj, data)))

    def delete(self, request: Request, **kwargs: Any) -> HttpResponse:
        obj = self.get_object(self.get_scope(kwargs), kwargs[self.id_kwarg], self.id_kwarg)
        self.delete_object(obj)
        return no_content()


class CountView(ResourceView):
    """``HEAD .../metrics/count``: 204 with ``X-Total-Count``."""

    def head(self, request: Request, **kwargs: Any) -> HttpResponse:
        return count_response(self.scoped_queryset(self.get_scope(kwargs)).count())


# --- OpenAPI documentation of the generic views ----------------------------------------------

_ERRORS = error_responses()
_LIST_PARAMS = [
    OpenApiParameter("limit", int, description="Page size, 1..100 (default 10)"),
    OpenApiParameter("page", int, description="Page number for offset lists (default 1)"),
    OpenApiParameter("cursor", str, description="Opaque cursor for keyset lists"),
    OpenApiParameter("sort_order", str, enum=["asc", "desc"]),
    OpenApiParameter("start_date", str, description="yyyy-mm-dd or yyyy-mm-dd hh:mm:ss"),
    OpenApiParameter("end_date", str, description="yyyy-mm-dd or yyyy-mm-dd hh:mm:ss"),
]


def documented(
    resource: Resource, kind: str, extra_params: list[OpenApiParameter] | None = None
) -> Callable[[type[ResourceView]], type[ResourceView]]:
    """Class decorator: the OpenAPI description of a collection, item or count view."""
    tags = [resource.tag or resource.entity_type + "s"]
    name = resource.entity_type
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    methods: dict[str, Any] = {}
    if kind == "collection":
        methods["get"] = extend_schema(
            operation_id=f"list_{snake}",
            summary=f"List {name} records",
            tags=tags,
            parameters=_LIST_PARAMS + (extra_params or []),
            responses={200: resource.list_component(), **_ERRORS},
        )
        if resource.create_schema is not None:
            methods["post"] = extend_schema(
                operation_id=f"create_{snake}",
                summary=f"Create a {name}",
                tags=tags,
                request={"application/json": resource.create_schema.openapi()},
                responses={201: resource.component, **_ERRORS},
            )
    elif kind == "item":
        methods["get"] = extend_schema(
            operation_id=f"get_{snake}",
            summary=f"Get a {name}",
            tags=tags,
            responses={200: resource.component, **_ERRORS},
        )
        if resource.update_schema is not None:
            methods["patch"] = extend_schema(
                operation_id=f"update_{snake}",
                summary=f"Update a {name}",
                tags=tags,
                request={"application/json": resource.update_schema.openapi()},
                responses={200: resource.component, **_ERRORS},
            )
        methods["delete"] = extend_schema(
            operation_id=f"delete_{snake}",
            summary=f"Delete a {name}",
            tags=tags,
            responses={204: None, **_ERRORS},
        )
    elif kind == "count":
        methods["head"] = extend_schema(
            operation_id=f"count_{snake}",
            summary=f"Count {name} records",
            tags=tags,
            responses={204: None, **_ERRORS},
        )

    def apply(cls: type[ResourceView]) -> type[ResourceView]:
        present = {m: d for m, d in methods.items() if hasattr(cls, m)}
        return extend_schema_view(**present)(cls)

    return apply
