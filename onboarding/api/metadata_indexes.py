"""``/v1/settings/metadata-indexes`` (MIDAZ_API.md §5): create, list and drop metadata
indexes (see ``onboarding.metadata_indexes``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request

from midaz.api.openapi import component, error_responses
from midaz.api.render import json_response, no_content
from midaz.api.validation import F, Schema
from midaz.api.views import LedgerAPIView, parse_body
from onboarding import metadata_indexes as service

TAGS = ["Settings"]


def _key(value: Any, path: str) -> None:
    service.check_key(value, path)


CREATE = Schema(
    "CreateMetadataIndexInput",
    {
        "metadataKey": F("string", required=True, max_length=100, checks=(_key,)),
        "unique": F("bool", description="default false"),
        "sparse": F("bool", description="default true: only rows that have the key"),
    },
    entity_type="MetadataIndex",
)
METADATA_INDEX = component(
    "MetadataIndex",
    {
        "indexName": "string",
        "entityName": "string",
        "metadataKey": "string",
        "unique": "bool",
        "sparse": "bool",
        "stats": {
            "type": "object",
            "properties": {
                "accesses": {"type": "integer"},
                "statsSince": {"type": "string", "format": "date-time"},
            },
        },
    },
    ["indexName", "entityName", "metadataKey", "unique", "sparse"],
)
_ERRORS = error_responses()


class MetadataIndexCollection(LedgerAPIView):
    @extend_schema(
        operation_id="list_metadata_indexes",
        summary="List metadata indexes",
        tags=TAGS,
        parameters=[OpenApiParameter("entity_name", str, description="Only this entity")],
        responses={
            200: {"type": "array", "items": METADATA_INDEX},
            **_ERRORS,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        entity = (request.query_params.get("entity_name") or "").strip() or None
        return json_response(service.index_list(entity))


class MetadataIndexCreate(LedgerAPIView):
    @extend_schema(
        operation_id="create_metadata_index",
        summary="Create an index on a metadata key (built concurrently)",
        tags=TAGS,
        request={"application/json": CREATE.openapi()},
        responses={201: METADATA_INDEX, **_ERRORS},
    )
    def post(self, request: Request, entity_name: str) -> HttpResponse:
        service.check_entity(entity_name)
        data = parse_body(request, CREATE)
        index = service.index_create(
            entity_name=entity_name,
            key=data["metadataKey"],
            unique=bool(data.get("unique", False)),
            sparse=bool(data.get("sparse", True)),
        )
        return json_response(service.index_out(index), status=201)


class MetadataIndexItem(LedgerAPIView):
    @extend_schema(
        operation_id="delete_metadata_index",
        summary="Drop a metadata index (concurrently)",
        tags=TAGS,
        responses={204: None, **_ERRORS},
    )
    def delete(self, request: Request, entity_name: str, index_key: str) -> HttpResponse:
        service.index_drop(entity_name=entity_name, key=index_key)
        return no_content()
