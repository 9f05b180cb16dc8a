"""Base API views: lean JSON bodies (no DRF parsing), path UUIDs, organization/ledger scope."""

from __future__ import annotations

import json
import math
import uuid
from decimal import Decimal
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from midaz.api.validation import MAX_DEPTH, Schema
from midaz.exceptions import ValidationFailed

_RENDERER = JSONRenderer()


class LedgerAPIView(APIView):
    """Every API view: answers are built by hand (orjson), bodies are validated by a
    :class:`Schema`, errors go through ``midaz.api.errors``."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The API speaks JSON only; skip DRF's negotiation work on every request.
        return (_RENDERER, _RENDERER.media_type)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        refuse_nul(request, kwargs)


def refuse_nul(request: Request, path_params: dict[str, Any]) -> None:
    """No NUL character in a path parameter (0065) or a query parameter (0082): PostgreSQL text
    cannot hold one, so an alias, code or filter carrying it would fail in the query (a 500)."""
    for name, value in path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise ValidationFailed(
                f"The path parameter '{name}' contains a NUL character.",
                code="0065",
                fields={name: "contains NUL"},
            )
    for key, values in request._request.GET.lists():
        if any("\x00" in text for text in (key, *values)):
            raise ValidationFailed("A query parameter contains a NUL character.", code="0082")


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


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _parse_int(text: str) -> int | Decimal:
    """An integer beyond 64 bits is read as a ``Decimal``: exact however long (Python's int()
    stops at 4,300 digits), and never handed to orjson, which writes no such integer."""
    return int(text) if len(text) < 19 else _big_int(text)


def _big_int(text: str) -> int | Decimal:
    number = Decimal(text)
    return int(number) if -(2**63) <= number < 2**63 else number


def _has_float(node: Any) -> bool:
    if isinstance(node, float):
        return True
    if isinstance(node, dict):
        return any(_has_float(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_float(v) for v in node)
    return False


def _metadata_numbers(node: Any, in_metadata: bool = False) -> Any:
    """Metadata keeps JSON numbers as numbers; only amounts need exact decimals."""
    if isinstance(node, dict):
        return {k: _metadata_numbers(v, in_metadata or k == "metadata") for k, v in node.items()}
    if isinstance(node, list):
        return [_metadata_numbers(v, in_metadata) for v in node]
    if in_metadata and isinstance(node, Decimal):
        number = float(node)
        if not math.isfinite(number):  # 1e400: beyond a JSON (double) number, as in Midaz
            raise ValidationFailed(f"The metadata number {node} is out of range.", code="0094")
        return number
    return node


def read_json_exact(request: Request) -> Any:
    """The parsed JSON body with every non-integer number as an exact ``Decimal``.

    orjson is fast but reads ``100.10`` as a float; a body that holds a float (or an integer
    beyond 64 bits) is read again with the standard library, decimals kept exact. ``NaN`` and
    ``Infinity`` are refused (0094).
    """
    return parse_json_exact(request.body)


def parse_json_exact(raw: bytes | str) -> Any:
    """``read_json_exact`` of a body already in hand (the console's posting form)."""
    if not raw or not raw.strip():
        raise ValidationFailed("The request body is empty; a JSON object is expected.", code="0094")
    try:
        data = orjson.loads(raw)
        if not _has_float(data):
            return data
    except orjson.JSONDecodeError:
        pass
    except RecursionError:  # _has_float on a body nested deeper than the stack allows
        raise _too_deep() from None
    try:
        data = json.loads(
            raw, parse_float=Decimal, parse_int=_parse_int, parse_constant=_refuse_constant
        )
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise ValidationFailed(f"The request body is not valid JSON: {exc}", code="0094") from None
    try:
        return _metadata_numbers(data)
    except RecursionError:
        raise _too_deep() from None


def _too_deep() -> ValidationFailed:
    return ValidationFailed(f"The JSON body is nested deeper than {MAX_DEPTH} levels.", code="0144")


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
