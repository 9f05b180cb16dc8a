"""A lean, declarative validator for JSON request bodies, in the order of MIDAZ_API.md §1.8.

DRF serializers are too slow for the posting path (PERFORMANCE.md) and do not speak Midaz
codes, so every JSON write is checked here instead:

1. wrong JSON type                      -> 0094
2. unknown property at any depth        -> 0053 (``metadata`` contents are free)
3. null byte / nesting depth / key count -> 0047 / 0144 / 0145
4. missing required field                -> 0009
5. length and format                     -> 0047, special checks their own codes

A :class:`Schema` also describes itself as an OpenAPI object, so the published schema and the
validation can never disagree.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from midaz.exceptions import ValidationFailed

MAX_DEPTH = 10
MAX_METADATA_KEYS = 100
METADATA_KEY_MAX = 100
METADATA_VALUE_MAX = 2000

# JSON type names used in messages, as a Go client would print them.
_JSON_TYPE_NAMES = {
    str: "string",
    bool: "bool",
    int: "number",
    float: "number",
    dict: "object",
    list: "array",
    type(None): "null",
    Decimal: "number",
}

Check = Callable[[Any, str], None]


def json_type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class F:
    """One field of a JSON object.

    ``kind`` is one of: string, uuid, bool, int, decimal, object, array, metadata, any.
    ``checks`` run after the generic rules and raise their own Midaz error.
    """

    kind: str
    required: bool = False
    max_length: int | None = None
    nullable: bool = True
    schema: Schema | None = None
    items: F | None = None
    checks: tuple[Check, ...] = ()
    description: str = ""
    enum: tuple[str, ...] | None = None

    def openapi(self) -> dict[str, Any]:
        spec: dict[str, Any]
        if self.kind == "uuid":
            # An empty string is read as absent, as Midaz's `omitempty,uuid` does.
            spec = {
                "anyOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}]
            }
        elif self.kind == "string":
            spec = {"type": "string"}
            if self.max_length:
                spec["maxLength"] = self.max_length
            if self.enum:
                spec["enum"] = list(self.enum)
        elif self.kind == "bool":
            spec = {"type": "boolean"}
        elif self.kind == "int":
            spec = {"type": "integer"}
        elif self.kind == "decimal":
            spec = {"oneOf": [{"type": "string"}, {"type": "number"}]}
        elif self.kind == "object":
            assert self.schema is not None
            spec = self.schema.openapi()
        elif self.kind == "array":
            assert self.items is not None
            spec = {"type": "array", "items": self.items.openapi()}
        elif self.kind == "metadata":
            spec = {
                "type": "object",
                "description": f"flat: keys of at most {METADATA_KEY_MAX} characters, values of "
                f"at most {METADATA_VALUE_MAX}; at most {MAX_METADATA_KEYS} keys in a body; on "
                "PATCH a null value deletes the key",
                "additionalProperties": {
                    "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
                    "nullable": True,
                },
            }
        else:
            spec = {}
        if self.nullable and not self.required and spec:
            spec["nullable"] = True
        if self.description:
            spec["description"] = self.description
        return spec


@dataclass(frozen=True)
class Schema:
    """A JSON object: its fields (by their camelCase wire names) and the entity it belongs to."""

    name: str
    fields: Mapping[str, F]
    entity_type: str = ""
    extra_checks: tuple[Callable[[dict[str, Any]], None], ...] = field(default=())

    def openapi(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "type": "object",
            "properties": {k: f.openapi() for k, f in self.fields.items()},
            "additionalProperties": False,
        }
        required = [k for k, f in self.fields.items() if f.required]
        if required:
            spec["required"] = required
        return spec

    def validate(self, data: Any) -> dict[str, Any]:
        """Check ``data`` (parsed JSON) in Midaz order and return it, with decimals parsed."""
        entity = self.entity_type or self.name
        if not isinstance(data, dict):
            raise ValidationFailed(
                f"invalid request body: expected type 'object', but got '{json_type_name(data)}'",
                code="0094",
                entity_type=entity,
            )
        type_errors: list[str] = []
        unknown: dict[str, Any] = {}
        _walk_types(self, data, "", type_errors, unknown)
        if type_errors:
            raise ValidationFailed(type_errors[0], code="0094", entity_type=entity)
        if unknown:
            raise ValidationFailed(
                "The request body contains fields that are not allowed: "
                + ", ".join(sorted(unknown)),
                code="0053",
                entity_type=entity,
                fields=unknown,
            )
        check_guards(data, entity)
        missing: dict[str, str] = {}
        _walk_required(self, data, "", missing)
        if missing:
            raise ValidationFailed(
                "Required fields are missing: " + ", ".join(sorted(missing)),
                code="0009",
                entity_type=entity,
                fields=missing,
            )
        return _walk_rules(self, data, "", entity)


def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _type_ok(f: F, value: Any) -> bool:
    if value is None:
        return True  # null is "absent" for optional fields; required checks come later
    kind = f.kind
    if kind in {"string", "uuid"}:
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "decimal":
        return isinstance(value, str | int | float | Decimal) and not isinstance(value, bool)
    if kind in {"object", "metadata"}:
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return True


_EXPECTED = {
    "string": "string",
    "uuid": "string",
    "bool": "bool",
    "int": "int",
    "decimal": "decimal",
    "object": "object",
    "metadata": "object",
    "array": "array",
}


def _walk_types(
    schema: Schema, data: dict[str, Any], prefix: str, errors: list[str], unknown: dict[str, Any]
) -> None:
    for key, value in data.items():
        path = _path(prefix, key)
        f = schema.fields.get(key)
        if f is None:
            unknown[path] = value
            continue
        if not _type_ok(f, value):
            errors.append(
                f"invalid value for field '{path}': expected type "
                f"'{_EXPECTED.get(f.kind, f.kind)}', but got '{json_type_name(value)}'"
            )
            continue
        if f.kind == "object" and isinstance(value, dict):
            assert f.schema is not None
            _walk_types(f.schema, value, path, errors, unknown)
        elif f.kind == "array" and isinstance(value, list):
            assert f.items is not None
            for i, item in enumerate(value):
                item_path = f"{path}[{i}]"
                if not _type_ok(f.items, item) or item is None:
                    errors.append(
                        f"invalid value for field '{item_path}': expected type "
                        f"'{_EXPECTED.get(f.items.kind, f.items.kind)}', "
                        f"but got '{json_type_name(item)}'"
                    )
                elif f.items.kind == "object":
                    assert f.items.schema is not None
                    _walk_types(f.items.schema, item, item_path, errors, unknown)


def check_guards(data: Any, entity: str) -> None:
    """Whole-body guards: no null byte anywhere (0047), nesting depth at most 10 (0144), at
    most 100 metadata keys in all (0145)."""
    metadata_keys = 0
    stack: list[tuple[Any, int, bool]] = [(data, 1, False)]
    while stack:
        node, depth, in_metadata = stack.pop()
        if depth > MAX_DEPTH:
            raise ValidationFailed(
                f"The JSON body is nested deeper than {MAX_DEPTH} levels.",
                code="0144",
                entity_type=entity,
            )
        if isinstance(node, dict):
            if in_metadata:
                metadata_keys += len(node)
                if metadata_keys > MAX_METADATA_KEYS:
                    raise ValidationFailed(
                        f"The body carries more than {MAX_METADATA_KEYS} metadata keys.",
                        code="0145",
                        entity_type=entity,
                    )
            for k, v in node.items():
                check_text(k, entity)
                stack.append((v, depth + 1, k == "metadata" and isinstance(v, dict)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1, False) for v in node)
        elif isinstance(node, str):
            check_text(node, entity)


def check_text(text: str, entity: str) -> None:
    """Text PostgreSQL can store: no NUL character (``\\u0000``, refused by text and jsonb:
    0047) and no lone surrogate (``\\ud800``, not UTF-8: 0094, as orjson refuses it)."""
    if "\x00" in text:
        raise _null_byte(entity)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationFailed(
                "The request contains a lone UTF-16 surrogate, which is not text.",
                code="0094",
                entity_type=entity,
            ) from None


def _null_byte(entity: str) -> ValidationFailed:
    return ValidationFailed(
        "The request contains a null byte, which is not allowed.", code="0047", entity_type=entity
    )


def _walk_required(
    schema: Schema, data: dict[str, Any], prefix: str, missing: dict[str, str]
) -> None:
    for name, f in schema.fields.items():
        path = _path(prefix, name)
        value = data.get(name)
        if f.required and (value is None or value == "" or value == []):
            missing[path] = f"{path} is a required field"
            continue
        if f.kind == "object" and isinstance(value, dict):
            assert f.schema is not None
            _walk_required(f.schema, value, path, missing)
        elif f.kind == "array" and isinstance(value, list) and f.items and f.items.schema:
            for i, item in enumerate(value):
                _walk_required(f.items.schema, item, f"{path}[{i}]", missing)


def _walk_rules(schema: Schema, data: dict[str, Any], prefix: str, entity: str) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        f = schema.fields[key]
        path = _path(prefix, key)
        if value is not None:
            value = _apply_rules(f, value, path, entity)
        for check in f.checks:
            check(value, path)
        cleaned[key] = value
    for extra in schema.extra_checks:
        extra(cleaned)
    return cleaned


def _apply_rules(f: F, value: Any, path: str, entity: str) -> Any:
    if f.kind in {"string", "uuid"}:
        if f.max_length is not None and len(value) > f.max_length:
            raise ValidationFailed(
                f"{path} must have at most {f.max_length} characters",
                code="0047",
                entity_type=entity,
                fields={path: f"{path} must have at most {f.max_length} characters"},
            )
        if f.kind == "uuid" and value != "":
            try:
                return uuid.UUID(value)
            except ValueError:
                raise ValidationFailed(
                    f"{path} must be a valid UUID",
                    code="0047",
                    entity_type=entity,
                    fields={path: f"{path} must be a valid UUID"},
                ) from None
        if f.enum is not None and value not in f.enum:
            raise ValidationFailed(
                f"{path} must be one of {', '.join(f.enum)}",
                code="0047",
                entity_type=entity,
                fields={path: f"{path} must be one of {', '.join(f.enum)}"},
            )
        return value
    if f.kind == "decimal":
        return parse_decimal(value, path, entity)
    if f.kind == "metadata":
        validate_metadata(value, entity)
        return value
    if f.kind == "object":
        assert f.schema is not None
        return _walk_rules(f.schema, value, path, entity)
    if f.kind == "array":
        assert f.items is not None
        return [_apply_rules(f.items, item, f"{path}[{i}]", entity) for i, item in enumerate(value)]
    return value


def parse_decimal(value: Any, path: str, entity: str) -> Decimal:
    """An exact decimal from a JSON string or number; floats are read from their text."""
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        result = None
    if result is None or not result.is_finite():
        raise ValidationFailed(
            f"invalid value for field '{path}': expected a decimal number",
            code="0094",
            entity_type=entity,
        )
    check_digits(result, path, entity)
    return result


def amount_digits(value: Decimal) -> int:
    """The digits of ``value`` written out in full: integer digits plus decimal places
    (``1e6`` has 7, ``0.0010`` has 4, ``100.10`` has 5). Decimal places count even when they
    are zeros: PostgreSQL stores the scale as written."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    if exponent >= 0:
        return len(digits) + exponent
    return max(len(digits), -exponent)


def check_digits(value: Decimal, path: str, entity: str) -> None:
    """At most ``settings.MAX_AMOUNT_DIGITS`` digits (0047)."""
    limit = settings.MAX_AMOUNT_DIGITS
    if amount_digits(value) > limit:
        raise ValidationFailed(
            f"{path} must have at most {limit} digits",
            code="0047",
            entity_type=entity,
            fields={path: f"{path} must have at most {limit} digits"},
        )


# Metadata numbers must lie in the signed 64-bit range. Midaz reads them as float64, but
# jsonb keeps a number as an exact numeric and hands an integral one back as an integer, which
# JSON answers (orjson) cannot write beyond 64 bits: 1e300 or 123456789012345678901234567890
# would be stored and then break every read of the entity. Refused at write time instead.
METADATA_NUMBER_BOUND = 2**63


def _number_out_of_range(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        return True
    # A float is stored as its shortest text: -2**63 as a float is written -9.223372036854776e18,
    # which jsonb reads back as -9223372036854776000, beyond 64 bits. The text decides.
    number = Decimal(repr(value)) if isinstance(value, float) else value
    return not -METADATA_NUMBER_BOUND <= number < METADATA_NUMBER_BOUND


def validate_metadata(metadata: dict[str, Any], entity: str) -> None:
    """Flat key/value metadata: key ≤100 (0050), value ≤2000 (0051), no nesting (0067), text
    PostgreSQL can store (0047, 0094), numbers within the signed 64-bit range (0094)."""
    for key, value in metadata.items():
        check_text(key, entity)
        if isinstance(value, str):
            check_text(value, entity)
        elif _number_out_of_range(value):
            raise ValidationFailed(
                f"The metadata value of key '{key[:20]}' is a number outside the signed 64-bit "
                "range.",
                code="0094",
                entity_type=entity,
            )
        if len(key) > METADATA_KEY_MAX:
            raise ValidationFailed(
                f"The metadata key {key[:20]}... exceeds {METADATA_KEY_MAX} characters.",
                code="0050",
                entity_type=entity,
            )
        if isinstance(value, dict | list):
            raise ValidationFailed(
                f"The metadata value of key '{key}' must not be an object or an array.",
                code="0067",
                entity_type=entity,
            )
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if len(text) > METADATA_VALUE_MAX:
            raise ValidationFailed(
                f"The metadata value of key '{key}' exceeds {METADATA_VALUE_MAX} characters.",
                code="0051",
                entity_type=entity,
            )
