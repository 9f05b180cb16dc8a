"""Request bodies of the onboarding API (MIDAZ_API.md §2), as validation schemas."""

from __future__ import annotations

import re
from typing import Any

import pycountry

from midaz.api.validation import F, Schema
from midaz.exceptions import ValidationFailed

METADATA = F("metadata", description="Flat key/value map (§1.7)")
STATUS = F(
    "object",
    schema=Schema(
        "Status",
        {"code": F("string", max_length=100), "description": F("string", max_length=256)},
    ),
)

_ISO_4217 = {c.alpha_3 for c in pycountry.currencies}
_ISO_3166 = {c.alpha_2 for c in pycountry.countries}
_KEY_VALUE = re.compile(r"^[a-zA-Z0-9_-]+$")
_ALIAS = re.compile(r"^[a-zA-Z0-9@:_-]+$")


def _check_country(address: dict[str, Any]) -> None:
    if any(v not in (None, "") for v in address.values()):
        country = address.get("country") or ""
        if country not in _ISO_3166:
            raise ValidationFailed(
                "The country must be an ISO 3166-1 alpha-2 code (for example US or BR).",
                code="0032",
                entity_type="Organization",
            )


ADDRESS = F(
    "object",
    schema=Schema(
        "Address",
        {
            "line1": F("string", max_length=256),
            "line2": F("string", max_length=256),
            "zipCode": F("string", max_length=256),
            "city": F("string", max_length=256),
            "state": F("string", max_length=256),
            "country": F("string", max_length=256),
            "description": F("string", max_length=100),
        },
        extra_checks=(_check_country,),
    ),
)


ORGANIZATION_CREATE = Schema(
    "CreateOrganizationInput",
    {
        "legalName": F("string", required=True, max_length=256),
        "legalDocument": F("string", required=True, max_length=256),
        "doingBusinessAs": F("string", max_length=256),
        "parentOrganizationId": F("uuid"),
        "address": ADDRESS,
        "status": STATUS,
        "metadata": METADATA,
    },
    entity_type="Organization",
)

ORGANIZATION_UPDATE = Schema(
    "UpdateOrganizationInput",
    {
        "legalName": F("string", max_length=256),
        "doingBusinessAs": F("string", max_length=256),
        "parentOrganizationId": F("uuid"),
        "address": ADDRESS,
        "status": STATUS,
        "metadata": METADATA,
    },
    entity_type="Organization",
)

LEDGER_CREATE = Schema(
    "CreateLedgerInput",
    {
        "name": F("string", required=True, max_length=256),
        "status": STATUS,
        "metadata": METADATA,
        "settings": F("any", description="Ledger settings, same shape as PATCH .../settings"),
    },
    entity_type="Ledger",
)

LEDGER_UPDATE = Schema(
    "UpdateLedgerInput",
    {"name": F("string", max_length=256), "status": STATUS, "metadata": METADATA},
    entity_type="Ledger",
)


def _check_asset_type(value: Any, path: str) -> None:
    if value is not None and value not in {"crypto", "currency", "fiat", "commodity", "others"}:
        raise ValidationFailed(
            "The asset type must be one of crypto, currency, fiat, commodity, others.",
            code="0040",
            entity_type="Asset",
        )


def check_asset_code(code: str, entity: str = "Asset") -> None:
    """Letters only (0033), upper case (0004)."""
    if not code.isalpha() or not code.isascii():
        raise ValidationFailed(
            "The code must contain letters only.", code="0033", entity_type=entity
        )
    if code != code.upper():
        raise ValidationFailed("The code must be upper case.", code="0004", entity_type=entity)


def _check_asset_code(value: Any, path: str) -> None:
    if value is not None:
        check_asset_code(value)


def _check_currency(data: dict[str, Any]) -> None:
    if data.get("type") in {"currency", "fiat"} and data.get("code") not in _ISO_4217:
        raise ValidationFailed(
            "A currency or fiat asset needs an ISO 4217 code (for example USD or BRL).",
            code="0005",
            entity_type="Asset",
        )


# An asset's code names its external account, ``@external/<CODE>`` (Account.alias, at most 100
# characters): a longer code could never have one (tests/hostile/test_column_limits.py).
ASSET_CODE_MAX = 100 - len("@external/")

ASSET_CREATE = Schema(
    "CreateAssetInput",
    {
        "name": F("string", required=True, max_length=256),
        "type": F("string", required=True, max_length=20, checks=(_check_asset_type,)),
        "code": F("string", required=True, max_length=ASSET_CODE_MAX, checks=(_check_asset_code,)),
        "status": STATUS,
        "metadata": METADATA,
    },
    entity_type="Asset",
    extra_checks=(_check_currency,),
)

ASSET_UPDATE = Schema(
    "UpdateAssetInput",
    {"name": F("string", max_length=256), "status": STATUS, "metadata": METADATA},
    entity_type="Asset",
)

PORTFOLIO_CREATE = Schema(
    "CreatePortfolioInput",
    {
        "name": F("string", required=True, max_length=256),
        "entityId": F("string", max_length=256),
        "status": STATUS,
        "metadata": METADATA,
    },
    entity_type="Portfolio",
)

PORTFOLIO_UPDATE = Schema(
    "UpdatePortfolioInput",
    {
        "name": F("string", max_length=256),
        "entityId": F("string", max_length=256),
        "status": STATUS,
        "metadata": METADATA,
    },
    entity_type="Portfolio",
)

SEGMENT_CREATE = Schema(
    "CreateSegmentInput",
    {"name": F("string", required=True, max_length=256), "status": STATUS, "metadata": METADATA},
    entity_type="Segment",
)

SEGMENT_UPDATE = Schema(
    "UpdateSegmentInput",
    {"name": F("string", max_length=256), "status": STATUS, "metadata": METADATA},
    entity_type="Segment",
)


def _check_key_value(value: Any, path: str) -> None:
    if value is not None and not _KEY_VALUE.match(value):
        raise ValidationFailed(
            "keyValue may contain only letters, digits, '_' and '-'.",
            code="0120",
            entity_type="AccountType",
        )


ACCOUNT_TYPE_CREATE = Schema(
    "CreateAccountTypeInput",
    {
        "name": F("string", required=True, max_length=100),
        "description": F("string", max_length=500),
        "keyValue": F("string", required=True, max_length=50, checks=(_check_key_value,)),
        "metadata": METADATA,
    },
    entity_type="AccountType",
)

ACCOUNT_TYPE_UPDATE = Schema(
    "UpdateAccountTypeInput",
    {
        "name": F("string", max_length=100),
        "description": F("string", max_length=500),
        "metadata": METADATA,
    },
    entity_type="AccountType",
)


def _check_alias(value: Any, path: str) -> None:
    if value is None or value == "":
        return
    if "@external/" in value:
        raise ValidationFailed(
            "An alias must not contain '@external/', which is reserved for asset accounts.",
            code="0047",
            entity_type="Account",
            fields={path: "alias must not contain @external/"},
        )
    if not _ALIAS.match(value):
        raise ValidationFailed(
            "An alias may contain only letters, digits and the characters @ : _ -.",
            code="0096",
            entity_type="Account",
        )


def _check_external_alias(data: dict[str, Any]) -> None:
    if data.get("type") == "external" and not data.get("alias"):
        raise ValidationFailed(
            "An external account needs an alias.",
            code="0009",
            entity_type="Account",
            fields={"alias": "alias is a required field"},
        )


ACCOUNT_CREATE = Schema(
    "CreateAccountInput",
    {
        "assetCode": F("string", required=True, max_length=100),
        "type": F("string", required=True, max_length=256),
        "name": F("string", max_length=256),
        "alias": F("string", max_length=100, checks=(_check_alias,)),
        "parentAccountId": F("uuid"),
        "portfolioId": F("uuid"),
        "segmentId": F("uuid"),
        "entityId": F("string", max_length=256),
        "holderId": F("uuid"),
        "status": STATUS,
        "blocked": F("bool"),
        "skip": F("object", schema=Schema("AccountSkip", {"holder": F("bool")})),
        "metadata": METADATA,
    },
    entity_type="Account",
    extra_checks=(_check_external_alias,),
)

ACCOUNT_UPDATE = Schema(
    "UpdateAccountInput",
    {
        "name": F("string", max_length=256),
        "segmentId": F("uuid"),
        "portfolioId": F("uuid"),
        "entityId": F("string", max_length=256),
        "status": STATUS,
        "blocked": F("bool"),
        "metadata": METADATA,
    },
    entity_type="Account",
)
