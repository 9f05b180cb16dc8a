"""How onboarding entities look on the wire (MIDAZ_API.md §2), with their OpenAPI shapes.

Plain functions building dicts: cheaper than DRF serializers and explicit about every field.
"""

from __future__ import annotations

from typing import Any

from midaz.api.openapi import component
from onboarding.models import Account, AccountType, Asset, Ledger, Organization, Portfolio, Segment

_TIMES = {"createdAt": "date-time", "updatedAt": "date-time", "deletedAt": "date-time?"}
_ADDRESS_KEYS = ("line1", "line2", "zipCode", "city", "state", "country", "description")


def _common(entity: Any, body: dict[str, Any]) -> dict[str, Any]:
    body["createdAt"] = entity.created_at
    body["updatedAt"] = entity.updated_at
    body["deletedAt"] = entity.deleted_at
    if entity.metadata:
        body["metadata"] = entity.metadata
    return body


def _address(stored: dict[str, Any]) -> dict[str, Any]:
    """Midaz's address: text fields are "" when unset, ``line2`` null, ``description`` omitted."""
    address = {k: stored.get(k) or "" for k in ("line1", "zipCode", "city", "state", "country")}
    address["line2"] = stored.get("line2")
    if stored.get("description"):
        address["description"] = stored["description"]
    return address


def organization_out(org: Organization) -> dict[str, Any]:
    return _common(
        org,
        {
            "id": org.id,
            "parentOrganizationId": org.parent_organization_id,
            "legalName": org.legal_name,
            "doingBusinessAs": org.doing_business_as,
            "legalDocument": org.legal_document,
            "address": _address(org.address or {}),
            "status": org.status_dict(),
        },
    )


ORGANIZATION = component(
    "Organization",
    {
        "id": "uuid",
        "parentOrganizationId": "uuid?",
        "legalName": "string",
        "doingBusinessAs": "string?",
        "legalDocument": "string",
        "address": {
            "type": "object",
            "properties": {k: {"type": "string", "nullable": True} for k in _ADDRESS_KEYS},
        },
        "status": "status",
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "legalName", "legalDocument", "status", "createdAt"],
)


def ledger_out(ledger: Ledger) -> dict[str, Any]:
    body = {
        "id": ledger.id,
        "name": ledger.name,
        "organizationId": ledger.organization_id,
        "status": ledger.status_dict(),
    }
    body = _common(ledger, body)
    if ledger.settings:
        body["settings"] = ledger.settings
    return body


LEDGER = component(
    "Ledger",
    {
        "id": "uuid",
        "name": "string",
        "organizationId": "uuid",
        "status": "status",
        **_TIMES,
        "metadata": "metadata",
        "settings": "object",
    },
    ["id", "name", "organizationId", "status"],
)

_SCOPED = {"ledgerId": "uuid", "organizationId": "uuid"}


def _scoped(entity: Any, body: dict[str, Any]) -> dict[str, Any]:
    body["ledgerId"] = entity.ledger_id
    body["organizationId"] = entity.organization_id
    return _common(entity, body)


def asset_out(asset: Asset) -> dict[str, Any]:
    return _scoped(
        asset,
        {
            "id": asset.id,
            "name": asset.name,
            "type": asset.type,
            "code": asset.code,
            "status": asset.status_dict(),
        },
    )


ASSET = component(
    "Asset",
    {
        "id": "uuid",
        "name": "string",
        "type": "string",
        "code": "string",
        "status": "status",
        **_SCOPED,
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "name", "type", "code", "status"],
)


def portfolio_out(portfolio: Portfolio) -> dict[str, Any]:
    body: dict[str, Any] = {"id": portfolio.id, "name": portfolio.name}
    if portfolio.entity_id:
        body["entityId"] = portfolio.entity_id
    body["status"] = portfolio.status_dict()
    return _scoped(portfolio, body)


PORTFOLIO = component(
    "Portfolio",
    {
        "id": "uuid",
        "name": "string",
        "entityId": "string",
        "status": "status",
        **_SCOPED,
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "name", "status"],
)


def segment_out(segment: Segment) -> dict[str, Any]:
    return _scoped(
        segment, {"id": segment.id, "name": segment.name, "status": segment.status_dict()}
    )


SEGMENT = component(
    "Segment",
    {
        "id": "uuid",
        "name": "string",
        "status": "status",
        **_SCOPED,
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "name", "status"],
)


def account_type_out(account_type: AccountType) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": account_type.id,
        "organizationId": account_type.organization_id,
        "ledgerId": account_type.ledger_id,
        "name": account_type.name,
    }
    if account_type.description:
        body["description"] = account_type.description
    body["keyValue"] = account_type.key_value
    return _common(account_type, body)


ACCOUNT_TYPE = component(
    "AccountType",
    {
        "id": "uuid",
        **_SCOPED,
        "name": "string",
        "description": "string",
        "keyValue": "string",
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "name", "keyValue"],
)


def account_out(account: Account) -> dict[str, Any]:
    return _common(
        account,
        {
            "id": account.id,
            "name": account.name,
            "parentAccountId": account.parent_account_id,
            "entityId": account.entity_id,
            "holderId": account.holder_id,
            "assetCode": account.asset_code,
            "organizationId": account.organization_id,
            "ledgerId": account.ledger_id,
            "portfolioId": account.portfolio_id,
            "segmentId": account.segment_id,
            "status": account.status_dict(),
            "alias": account.alias,
            "type": account.type,
            "blocked": account.blocked,
            "holderCheckSkipped": account.holder_check_skipped,
        },
    )


ACCOUNT = component(
    "Account",
    {
        "id": "uuid",
        "name": "string?",
        "parentAccountId": "uuid?",
        "entityId": "string?",
        "holderId": "uuid?",
        "assetCode": "string",
        **_SCOPED,
        "portfolioId": "uuid?",
        "segmentId": "uuid?",
        "status": "status",
        "alias": "string",
        "type": "string",
        "blocked": "bool",
        "holderCheckSkipped": "bool",
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "assetCode", "alias", "type", "status"],
)
