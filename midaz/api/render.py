"""The wire format (DESIGN.md §9): camelCase, RFC 3339 UTC timestamps with ``Z``, decimal
strings, JSON via orjson."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from django.http import HttpResponse

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def decimal_str(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros: 1500.2500 -> "1500.25"."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=_OPTIONS)


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``; orjson does the same for nested datetimes."""
    if value is None:
        return None
    return dumps(value).decode()[1:-1]


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(dumps(data), status=status, content_type="application/json")
    for name, val in (headers or {}).items():
        response[name] = val
    return response


def no_content(headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(status=204)
    for name, val in (headers or {}).items():
        response[name] = val
    return response


def count_response(total: int) -> HttpResponse:
    response = no_content({"X-Total-Count": str(total)})
    response["Content-Length"] = "0"
    return response
