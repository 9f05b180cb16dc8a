"""The request-body validation pipeline (MIDAZ_API.md §1.7, §1.8): unit tests of
``midaz.api.validation.Schema`` and the same rules through real endpoints."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midaz.api.validation import F, Schema
from midaz.exceptions import ValidationFailed
from onboarding.models import Portfolio, Segment
from tests.helpers import Api, assert_error, ledger_path

STATUS = F(
    "object",
    schema=Schema(
        "Status",
        {"code": F("string", max_length=100), "description": F("string", max_length=256)},
    ),
)
THING = Schema(
    "CreateThingInput",
    {
        "name": F("string", required=True, max_length=10),
        "count": F("int"),
        "enabled": F("bool"),
        "amount": F("decimal"),
        "ownerId": F("uuid"),
        "tags": F("array", items=F("string")),
        "status": STATUS,
        "metadata": F("metadata"),
    },
    entity_type="Thing",
)


def fail(data: Any, schema: Schema = THING) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        schema.validate(data)
    return info.value


def nested(depth: int) -> dict[str, Any]:
    """An object nested ``depth`` levels deep (``{"a": {"a": ... "leaf"}}``)."""
    node: Any = "leaf"
    for _ in range(depth):
        node = {"a": node}
    return node


# === unit tests of Schema ======================================================================


def test_valid_body_is_returned_with_decimals_and_uuids_parsed() -> None:
    cleaned = THING.validate(
        {
            "name": "thing",
            "count": 3,
            "enabled": True,
            "amount": "10.50",
            "ownerId": "0194f6b4-8f3a-7c2e-9a1b-1234567890ab",
            "tags": ["a", "b"],
            "status": {"code": "ACTIVE"},
            "metadata": {"k": "v", "n": 1, "b": False, "z": None},
        }
    )
    assert cleaned["name"] == "thing"
    assert cleaned["amount"] == Decimal("10.50")
    assert str(cleaned["ownerId"]) == "0194f6b4-8f3a-7c2e-9a1b-1234567890ab"
    assert cleaned["tags"] == ["a", "b"]
    assert cleaned["metadata"] == {"k": "v", "n": 1, "b": False, "z": None}


@pytest.mark.parametrize("data", [[], [{"name": "x"}], "text", 3, None, True])
def test_a_body_that_is_not_an_object_is_0094(data: Any) -> None:
    assert fail(data).code == "0094"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": 123},
            "invalid value for field 'name': expected type 'string', but got 'number'",
        ),
        (
            {"name": True},
            "invalid value for field 'name': expected type 'string', but got 'bool'",
        ),
        (
            {"name": ["a"]},
            "invalid value for field 'name': expected type 'string', but got 'array'",
        ),
        (
            {"name": {"a": 1}},
            "invalid value for field 'name': expected type 'string', but got 'object'",
        ),
    ],
)
def test_wrong_type_is_0094_with_the_go_message(data: dict[str, Any], message: str) -> None:
    error = fail(data)
    assert error.code == "0094"
    assert error.message == message


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "count": "3"},
        {"name": "x", "enabled": "true"},
        {"name": "x", "status": "ACTIVE"},
        {"name": "x", "metadata": "k=v"},
        {"name": "x", "metadata": ["k"]},
        {"name": "x", "tags": "a"},
        {"name": "x", "tags": [1]},
        {"name": "x", "status": {"code": 1}},
    ],
)
def test_wrong_types_anywhere_are_0094(data: dict[str, Any]) -> None:
    assert fail(data).code == "0094"


def test_nested_wrong_type_names_the_field() -> None:
    error = fail({"name": "x", "status": {"code": 7}})
    assert error.code == "0094"
    assert "code" in error.message
    assert "expected type 'string', but got 'number'" in error.message


def test_wrong_type_wins_over_an_unknown_field() -> None:
    assert fail({"name": 1, "bogus": True}).code == "0094"
    assert fail({"bogus": True, "name": 1}).code == "0094"


def test_unknown_top_level_field_is_0053_with_fields() -> None:
    error = fail({"name": "x", "bogus": 7})
    assert error.code == "0053"
    assert error.fields == {"bogus": 7}


def test_unknown_nested_field_is_0053_naming_it() -> None:
    error = fail({"name": "x", "status": {"code": "A", "extra": "y"}})
    assert error.code == "0053"
    assert error.fields
    assert any("extra" in key for key in error.fields)


def test_metadata_keys_are_free() -> None:
    cleaned = THING.validate({"name": "x", "metadata": {"bogus": 1, "name": "n", "status": "s"}})
    assert cleaned["metadata"] == {"bogus": 1, "name": "n", "status": "s"}


def test_unknown_field_wins_over_guards_and_required() -> None:
    assert fail({"bogus": "has \x00 null"}).code == "0053"


@pytest.mark.parametrize(
    "data",
    [
        {"name": "a\x00b"},
        {"name": "x", "status": {"code": "A", "description": "\x00"}},
        {"name": "x", "metadata": {"k": "v\x00"}},
        {"name": "x", "metadata": {"k\x00": "v"}},
        {"name": "x", "tags": ["ok", "\x00"]},
    ],
)
def test_null_byte_in_any_string_is_0047(data: dict[str, Any]) -> None:
    assert fail(data).code == "0047"


def test_null_byte_guard_runs_before_required_check() -> None:
    assert fail({"metadata": {"k": "\x00"}}).code == "0047"


def test_schema_nesting_deeper_than_10_is_0144() -> None:
    assert fail({"name": "x", "metadata": nested(15)}).code == "0144"


def test_depth_guard_runs_before_metadata_nesting_and_required() -> None:
    assert fail({"metadata": {"deep": nested(20)}}).code == "0144"


def test_schema_more_than_100_metadata_keys_is_0145() -> None:
    metadata = {f"k{i}": i for i in range(101)}
    assert fail({"name": "x", "metadata": metadata}).code == "0145"


def test_key_count_guard_runs_before_required() -> None:
    metadata = {f"k{i}": i for i in range(150)}
    assert fail({"metadata": metadata}).code == "0145"


@pytest.mark.parametrize("data", [{}, {"name": ""}, {"name": None}])
def test_missing_required_is_0009_with_fields(data: dict[str, Any]) -> None:
    error = fail(data)
    assert error.code == "0009"
    assert error.fields == {"name": "name is a required field"}


def test_required_check_runs_before_length_and_metadata_rules() -> None:
    assert fail({"metadata": {"k" * 101: "v"}}).code == "0009"


def test_string_longer_than_max_is_0047() -> None:
    error = fail({"name": "x" * 11})
    assert error.code == "0047"
    assert THING.validate({"name": "x" * 10})["name"] == "x" * 10


def test_bad_uuid_is_0047() -> None:
    assert fail({"name": "x", "ownerId": "not-a-uuid"}).code == "0047"


def test_bad_decimal_is_rejected_as_unmarshalling_error() -> None:
    assert fail({"name": "x", "amount": "ten"}).code == "0094"


def test_metadata_key_longer_than_100_is_0050() -> None:
    assert fail({"name": "x", "metadata": {"k" * 101: "v"}}).code == "0050"
    assert THING.validate({"name": "x", "metadata": {"k" * 100: "v"}})


def test_metadata_value_longer_than_2000_is_0051() -> None:
    assert fail({"name": "x", "metadata": {"k": "v" * 2001}}).code == "0051"
    assert THING.validate({"name": "x", "metadata": {"k": "v" * 2000}})


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], [], {}])
def test_schema_metadata_nested_value_is_0067(value: Any) -> None:
    assert fail({"name": "x", "metadata": {"k": value}}).code == "0067"


@pytest.mark.parametrize("value", ["s", "", 0, -7, 3.25, True, False, None])
def test_metadata_scalar_values_are_allowed(value: Any) -> None:
    assert THING.validate({"name": "x", "metadata": {"k": value}})["metadata"] == {"k": value}


def test_validation_error_carries_the_entity_type() -> None:
    assert fail({}).entity_type == "Thing"


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
non_objects = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5)


@given(non_objects)
def test_property_any_non_object_body_is_0094(data: Any) -> None:
    assert fail(data).code == "0094"


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=5), min_size=1))
def test_property_unknown_keys_are_0053_and_listed(extra: dict[str, str]) -> None:
    extra = {f"x_{k}": v for k, v in extra.items()}
    error = fail({"name": "ok", **extra})
    assert error.code == "0053"
    assert error.fields is not None
    assert set(extra) <= set(error.fields)


# === through real endpoints ====================================================================


@pytest.fixture
def portfolios(ledger: dict[str, Any]) -> str:
    return ledger_path(ledger, "/portfolios")


@pytest.fixture
def org_path() -> str:
    return "/organizations"


ORG = {"legalName": "Acme", "legalDocument": "123"}


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b"{bad json", b'{"name": "x",}', b"nul", b"{'name': 'x'}"])
def test_invalid_json_is_0094(api: Api, portfolios: str, raw: bytes) -> None:
    assert_error(api.request("POST", portfolios, raw=raw), 400, "0094")
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b"", b"   "])
def test_empty_body_is_0094(api: Api, portfolios: str, raw: bytes) -> None:
    assert_error(api.request("POST", portfolios, raw=raw), 400, "0094")
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("body", [[{"name": "x"}], [], "name", 42, True])
def test_non_object_body_is_0094(api: Api, portfolios: str, body: Any) -> None:
    assert_error(api.post(portfolios, body), 400, "0094")
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
def test_null_body_is_0094(api: Api, portfolios: str) -> None:
    assert_error(api.request("POST", portfolios, raw=b"null"), 400, "0094")


@pytest.mark.django_db
def test_wrong_type_is_0094_with_message(api: Api, portfolios: str) -> None:
    error = assert_error(api.post(portfolios, {"name": 123}), 400, "0094")
    expected = "invalid value for field 'name': expected type 'string', but got 'number'"
    assert error["message"] == expected
    assert error["detail"] == expected
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
def test_wrong_type_on_patch_is_0094(api: Api, portfolios: str) -> None:
    created = api.ok(api.post(portfolios, {"name": "p"}), 201)
    assert_error(api.patch(f"{portfolios}/{created['id']}", {"name": False}), 400, "0094")
    assert Portfolio.objects.get(pk=created["id"]).name == "p"


@pytest.mark.django_db
def test_wrong_type_wins_over_unknown_field_on_an_endpoint(api: Api, portfolios: str) -> None:
    assert_error(api.post(portfolios, {"name": 5, "unknown": "x"}), 400, "0094")


@pytest.mark.django_db
def test_unknown_top_level_field_is_0053(api: Api, portfolios: str) -> None:
    error = assert_error(api.post(portfolios, {"name": "p", "surprise": 1}), 400, "0053")
    assert error["fields"] == {"surprise": 1}
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
def test_unknown_field_nested_in_status_is_0053(api: Api, portfolios: str) -> None:
    body = {"name": "p", "status": {"code": "ACTIVE", "reason": "x"}}
    error = assert_error(api.post(portfolios, body), 400, "0053")
    assert any("reason" in key for key in error["fields"])
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
def test_unknown_field_nested_in_address_is_0053(api: Api, org_path: str) -> None:
    body = {**ORG, "address": {"line1": "a", "country": "BR", "planet": "Earth"}}
    error = assert_error(api.post(org_path, body), 400, "0053")
    assert any("planet" in key for key in error["fields"])


@pytest.mark.django_db
def test_unknown_field_inside_metadata_is_allowed(api: Api, portfolios: str) -> None:
    body = api.ok(api.post(portfolios, {"name": "p", "metadata": {"surprise": 1}}), 201)
    assert body["metadata"] == {"surprise": 1}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": "bad\x00name"},
        {"name": "p", "entityId": "\x00"},
        {"name": "p", "status": {"code": "ACTIVE", "description": "a\x00"}},
        {"name": "p", "metadata": {"k": "a\x00b"}},
        {"name": "p", "metadata": {"a\x00": "v"}},
    ],
)
def test_null_byte_is_0047(api: Api, portfolios: str, body: dict[str, Any]) -> None:
    assert_error(api.post(portfolios, body), 400, "0047")
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
def test_nesting_deeper_than_10_is_0144(api: Api, portfolios: str) -> None:
    assert_error(api.post(portfolios, {"name": "p", "metadata": nested(15)}), 400, "0144")
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
def test_more_than_100_metadata_keys_is_0145(api: Api, portfolios: str) -> None:
    metadata = {f"key{i}": "v" for i in range(101)}
    assert_error(api.post(portfolios, {"name": "p", "metadata": metadata}), 400, "0145")
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
def test_missing_required_is_0009(api: Api, portfolios: str) -> None:
    error = assert_error(api.post(portfolios, {"metadata": {"a": "b"}}), 400, "0009")
    assert error["fields"] == {"name": "name is a required field"}
    assert error["entityType"] == "Portfolio"


@pytest.mark.django_db
def test_metadata_key_too_long_is_0050(api: Api, portfolios: str) -> None:
    assert_error(api.post(portfolios, {"name": "p", "metadata": {"k" * 101: "v"}}), 400, "0050")
    assert Portfolio.objects.count() == 0
    body = api.ok(api.post(portfolios, {"name": "p", "metadata": {"k" * 100: "v"}}), 201)
    assert body["metadata"] == {"k" * 100: "v"}


@pytest.mark.django_db
def test_metadata_value_too_long_is_0051(api: Api, portfolios: str) -> None:
    assert_error(api.post(portfolios, {"name": "p", "metadata": {"k": "v" * 2001}}), 400, "0051")
    assert Portfolio.objects.count() == 0
    body = api.ok(api.post(portfolios, {"name": "p", "metadata": {"k": "v" * 2000}}), 201)
    assert body["metadata"] == {"k": "v" * 2000}


@pytest.mark.django_db
@pytest.mark.parametrize("value", [{"inner": "x"}, ["a", "b"]])
def test_metadata_nested_value_is_0067(api: Api, portfolios: str, value: Any) -> None:
    assert_error(api.post(portfolios, {"name": "p", "metadata": {"k": value}}), 400, "0067")
    assert Portfolio.objects.count() == 0


@pytest.mark.django_db
def test_metadata_nested_value_on_patch_is_0067(api: Api, portfolios: str) -> None:
    created = api.ok(api.post(portfolios, {"name": "p", "metadata": {"a": "1"}}), 201)
    response = api.patch(f"{portfolios}/{created['id']}", {"metadata": {"a": {"b": 1}}})
    assert_error(response, 400, "0067")
    assert Portfolio.objects.get(pk=created["id"]).metadata == {"a": "1"}


@pytest.mark.django_db
def test_metadata_scalar_values_round_trip(api: Api, portfolios: str) -> None:
    metadata = {"s": "text", "i": 42, "f": 2.5, "neg": -1, "t": True, "fl": False}
    created = api.ok(api.post(portfolios, {"name": "p", "metadata": metadata}), 201)
    assert created["metadata"] == metadata
    fetched = api.ok(api.get(f"{portfolios}/{created['id']}"), 200)
    assert fetched["metadata"] == metadata
    assert Portfolio.objects.get(pk=created["id"]).metadata == metadata


@pytest.mark.django_db
def test_metadata_null_value_is_accepted(api: Api, portfolios: str) -> None:
    created = api.ok(api.post(portfolios, {"name": "p", "metadata": {"a": "1", "n": None}}), 201)
    assert created["metadata"]["a"] == "1"
    assert Portfolio.objects.get(pk=created["id"]).metadata["a"] == "1"


@pytest.mark.django_db
def test_metadata_merge_patch_semantics(api: Api, ledger: dict[str, Any]) -> None:
    path = ledger_path(ledger, "/segments")
    created = api.ok(api.post(path, {"name": "s", "metadata": {"a": "1", "b": "2", "c": "3"}}), 201)
    item = f"{path}/{created['id']}"
    merged = api.ok(api.patch(item, {"metadata": {"a": None, "b": "20", "d": 4}}), 200)
    assert merged["metadata"] == {"b": "20", "c": "3", "d": 4}
    untouched = api.ok(api.patch(item, {"name": "renamed"}), 200)
    assert untouched["metadata"] == {"b": "20", "c": "3", "d": 4}
    assert Segment.objects.get(pk=created["id"]).metadata == {"b": "20", "c": "3", "d": 4}
    empty_patch = api.ok(api.patch(item, {"metadata": {}}), 200)
    assert empty_patch["metadata"] == {"b": "20", "c": "3", "d": 4}
    cleared = api.ok(api.patch(item, {"metadata": None}), 200)
    assert "metadata" not in cleared
    assert "metadata" not in api.ok(api.get(item), 200)
    assert not Segment.objects.get(pk=created["id"]).metadata


@pytest.mark.django_db
def test_deleting_every_key_omits_metadata(api: Api, portfolios: str) -> None:
    created = api.ok(api.post(portfolios, {"name": "p", "metadata": {"a": "1"}}), 201)
    body = api.ok(api.patch(f"{portfolios}/{created['id']}", {"metadata": {"a": None}}), 200)
    assert "metadata" not in body


@pytest.mark.django_db
def test_metadata_is_omitted_when_empty(api: Api, portfolios: str) -> None:
    plain = api.ok(api.post(portfolios, {"name": "p"}), 201)
    assert "metadata" not in plain
    empty = api.ok(api.post(portfolios, {"name": "p", "metadata": {}}), 201)
    assert "metadata" not in empty
    assert "metadata" not in api.ok(api.get(f"{portfolios}/{empty['id']}"), 200)
    listed = orjson.loads(api.get(portfolios).content)
    assert all("metadata" not in item for item in listed["items"])


SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
metadata_keys = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=SURROGATES),
    min_size=1,
    max_size=100,
)
metadata_values = (
    st.text(
        alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=SURROGATES),
        max_size=300,
    )
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.booleans()
)


@pytest.mark.django_db
def test_property_metadata_round_trips(api: Api, portfolios: str) -> None:
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.dictionaries(metadata_keys, metadata_values, min_size=1, max_size=12))
    def round_trip(metadata: dict[str, Any]) -> None:
        created = api.ok(api.post(portfolios, {"name": "p", "metadata": metadata}), 201)
        assert created["metadata"] == metadata
        fetched = api.ok(api.get(f"{portfolios}/{created['id']}"), 200)
        assert fetched["metadata"] == metadata
        assert Portfolio.objects.get(pk=created["id"]).metadata == metadata

    round_trip()
