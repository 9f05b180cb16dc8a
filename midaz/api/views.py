"""Base API views: lean JSON bodies (no DRF parsing), path UUIDs, organization/ledger scope."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from midaz.api.validation import Schema
from midaz.exceptions import ValidationFailed

_RENDERER = JSONRenderer()


class LedgerAPIView(APIView):
    """Every API view: answers are built by hand (orjson), bodies are validated by a
    :class:`Schema`, errors go through ``midaz.api.errors``."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The API speaks JSON only; skip DRF's negotiation work on every request.
        return (_RENDERER, _RENDERER.media_type)


def read_json(request: Request) -> Any:
    """The parsed JSON body; invalid JSON is 0094."""
    raw = request.body
    if not raw or not raw.strip():
        raise ValidationFailed("The request body is empty; a JSON object is expected.", code="0094")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(f"The request body is not valid JSON: {exc}", code="0094") from None


def parse_body(request: Request, schema: Schema) -> dict[str, Any]:
    return schema.validate(read_json(request))


def path_uuid(value: str, name: str) -> uuid.UUID:
    """A UUID path parameter; anything else is 400 0065."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError):
        raise ValidationFailed(
            f"The path parameter '{name}' must be a valid UUID.",
            code="0065",
            fields={name: value},
        ) from None
