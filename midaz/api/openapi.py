"""OpenAPI helpers: response components registered by the apps, added to the schema by a
drf-spectacular post-processing hook, and the shared error and list shapes."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiResponse

COMPONENTS: dict[str, dict[str, Any]] = {}

_TYPES = {
    "string": {"type": "string"},
    "string?": {"type": "string", "nullable": True},
    "uuid": {"type": "string", "format": "uuid"},
    "uuid?": {"type": "string", "format": "uuid", "nullable": True},
    "date-time": {"type": "string", "format": "date-time"},
    "date-time?": {"type": "string", "format": "date-time", "nullable": True},
    "bool": {"type": "boolean"},
    "int": {"type": "integer"},
    "decimal": {"type": "string", "description": "exact decimal as a string"},
    "decimal?": {"type": "string", "nullable": True},
    "metadata": {"type": "object", "additionalProperties": True},
    "object": {"type": "object", "additionalProperties": True},
    "status": {"$ref": "#/components/schemas/Status"},
}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def component(
    name: str,
    fields: dict[str, Any],
    required: list[str] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Register a response object; field values are short type names or schema dicts."""
    props = {k: (_TYPES[v] if isinstance(v, str) else v) for k, v in fields.items()}
    spec: dict[str, Any] = {"type": "object", "properties": props}
    if description:
        spec["description"] = description
    if required:
        spec["required"] = required
    COMPONENTS[name] = spec
    return ref(name)


def _catalog() -> str:
    from midaz.error_codes import CATALOG

    lines = [f"- `{code}` {entry.status} {entry.title}" for code, entry in sorted(CATALOG.items())]
    return (
        "A Midaz error body. `code` is one of the catalog below (its HTTP status, its `title`); "
        "`0498` and `0499` are this project's own. An unavailable MongoDB metadata store answers "
        "503 with `0046`.\n\n" + "\n".join(lines)
    )


component(
    "Status",
    {"code": "string", "description": "string?"},
    ["code"],
    description=(
        "Midaz's status object. For a transaction, `code`: the answer of a create shows "
        "CREATED (PENDING for a hold, NOTED for an annotation); reads show APPROVED, "
        "PENDING, CANCELED or NOTED. With asynchronous postings (TRANSACTION_ASYNC=true), "
        "CREATED until a worker applies it, and DECLINED (an extension: Midaz has no such "
        "status) when a rule refuses it, its `description` then being `<code>: <message>`."
    ),
)
ERROR = component(
    "Error",
    {
        "code": "string",
        "title": "string",
        "message": "string",
        "type": "string",
        "status": "int",
        "detail": "string",
        "entityType": "string",
        "fields": "object",
    },
    ["code", "title", "message"],
    description=_catalog(),
)


def offset_list(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": item},
            "limit": {"type": "integer"},
            "page": {"type": "integer"},
        },
        "required": ["items", "limit"],
    }


def cursor_list(item: dict[str, Any], *, with_page: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        "items": {"type": "array", "items": item},
        "limit": {"type": "integer"},
        "next_cursor": {"type": "string"},
        "prev_cursor": {"type": "string"},
    }
    if with_page:
        props["page"] = {"type": "integer"}
    return {"type": "object", "properties": props, "required": ["items", "limit"]}


def add_components(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular post-processing hook."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, spec in COMPONENTS.items():
        schemas.setdefault(name, spec)
    for path, operations in result.get("paths", {}).items():
        if path.startswith("/v1/"):
            for method, operation in operations.items():
                if isinstance(operation, dict) and method != "parameters":
                    _add_common_errors(path, method, operation)
    return result


_COMMON_ERRORS = {
    400: "Invalid input: a malformed path parameter (0065), query or body",
    401: "No API key (0041), or one that is unknown, revoked or expired (0042); AUTH_ENABLED",
    403: "The API key does not cover this organization, or is read-only (0043); AUTH_ENABLED",
    404: "Not found: the organization, ledger or entity of the path",
    413: "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE (0143)",
    415: "The body is not sent as Content-Type: application/json in UTF-8 (0047)",
    429: "Too many requests from this client (0499, when RATE_LIMIT is set)",
}
# A write only (JsonWritesOnlyMiddleware): a browser says it comes from another site.
_CROSS_SITE = "a browser request from another site cannot write (0043)"
# The writes whose body is ignored, so its type is never checked.
_NO_BODY_PATH = re.compile(r"/(commit|cancel|revert)$")


def _add_common_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    """The Midaz error answers that any operation can give, whatever its view documents: a
    path parameter that is not a UUID is 400 0065 and an unknown one 404, an oversized body
    413 0143 (Django's body limit, before the view), a rate-limited client 429 0499; a JSON
    body sent as another type 415 0047 and a browser's cross-site write 403 0043 (both from
    JsonWritesOnlyMiddleware, before the view)."""
    responses = operation.setdefault("responses", {})
    descriptions = {429: _COMMON_ERRORS[429]}
    write = method.lower() in {"post", "put", "patch", "delete"}
    if any(operation.get("security") or []):  # [{}] is "no key needed"
        descriptions[401] = _COMMON_ERRORS[401]
        descriptions[403] = _COMMON_ERRORS[403] + (f"; or {_CROSS_SITE}" if write else "")
    elif write:
        descriptions[403] = _CROSS_SITE[0].upper() + _CROSS_SITE[1:]
    if "{" in path or operation.get("requestBody") or operation.get("parameters"):
        descriptions[400] = _COMMON_ERRORS[400]
    if "{" in path:
        descriptions[404] = _COMMON_ERRORS[404]
    if operation.get("requestBody"):
        descriptions[413] = _COMMON_ERRORS[413]
    if method.lower() in {"post", "put", "patch"} and not _NO_BODY_PATH.search(path):
        descriptions[415] = _COMMON_ERRORS[415]
    for status, description in sorted(descriptions.items()):
        responses.setdefault(
            str(status),
            {"description": description, "content": {"application/json": {"schema": ref("Error")}}},
        )


_ERROR_TEXTS = {
    400: "Invalid input",
    404: "Not found",
    409: "Conflict",
    422: "Business rule violated",
}


def error_responses(*statuses: int) -> dict[int, Any]:
    """The documented error answers of an operation (the Midaz error body), by status; all
    four of 400, 404, 409 and 422 when none is named."""
    return {
        status: OpenApiResponse(ERROR, description=_ERROR_TEXTS[status])
        for status in statuses or tuple(_ERROR_TEXTS)
    }
