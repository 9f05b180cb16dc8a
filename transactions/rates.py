"""Asset rates (MIDAZ_API.md §4.11): a registry of conversion rates per ledger, one per pair of
assets, upserted by ``PUT``. The effective rate is ``rate / 10^scale``, kept exact."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from uuid_utils.compat import uuid7

from midaz.api.openapi import component
from midaz.api.validation import F, Schema
from midaz.exceptions import ValidationFailed
from onboarding.models import Ledger
from onboarding.schemas import check_asset_code
from transactions.models import AssetRate

ENTITY = "AssetRate"


def _asset_code(value: Any, path: str) -> None:
    if value is not None:
        check_asset_code(value, ENTITY)


def _non_zero(value: Any, path: str) -> None:
    if value == 0:
        raise ValidationFailed(
            "rate must be a non-zero integer.", code="0047", entity_type=ENTITY, fields={path: 0}
        )


# The bounds of the integer inputs: their columns (rate a bigint, ttl an integer) and, for
# scale, the digit limit of amounts: rate / 10^scale has max(digits of rate, scale) digits, so a
# scale of at most MAX_AMOUNT_DIGITS keeps a stored rate within what an inline rate may be.
RATE_BOUNDS = (-(2**63), 2**63 - 1)
TTL_BOUNDS = (0, 2**31 - 1)


def _scale_bounds() -> tuple[int, int]:
    return (0, settings.MAX_AMOUNT_DIGITS)


def _within(bounds: Callable[[], tuple[int, int]]) -> Callable[[Any, str], None]:
    def check(value: Any, path: str) -> None:
        low, high = bounds()
        if value is not None and not low <= value <= high:
            raise ValidationFailed(
                f"{path} must be between {low} and {high}.",
                code="0047",
                entity_type=ENTITY,
                fields={path: f"{path} must be between {low} and {high}"},
            )

    return check


RATE_PUT = Schema(
    "CreateAssetRateInput",
    {
        "from": F("string", required=True, max_length=100, checks=(_asset_code,)),
        "to": F("string", required=True, max_length=100, checks=(_asset_code,)),
        "rate": F(
            "int",
            required=True,
            checks=(_within(lambda: RATE_BOUNDS), _non_zero),
            description="non-zero integer (64-bit)",
        ),
        "scale": F(
            "int",
            checks=(_within(_scale_bounds),),
            description="rate = rate / 10^scale; 0 to MAX_AMOUNT_DIGITS (64)",
        ),
        "source": F("string", max_length=256),
        "ttl": F(
            "int", checks=(_within(lambda: TTL_BOUNDS),), description="seconds, 0 to 2147483647"
        ),
        "externalId": F("uuid"),
        "metadata": F("metadata"),
    },
    entity_type=ENTITY,
)


def rate_put_openapi() -> dict[str, Any]:
    """The request schema of ``PUT .../asset-rates``, with the bounds of its integers."""
    spec = RATE_PUT.openapi()
    bounds = {"rate": RATE_BOUNDS, "scale": _scale_bounds(), "ttl": TTL_BOUNDS}
    for name, (low, high) in bounds.items():
        spec["properties"][name] |= {"minimum": low, "maximum": high}
    return spec


ASSET_RATE = component(
    "AssetRate",
    {
        "id": "uuid",
        "organizationId": "uuid",
        "ledgerId": "uuid",
        "externalId": "uuid",
        "from": "string",
        "to": "string",
        "rate": {"type": "number"},
        "scale": {"type": "number"},
        "source": "string?",
        "ttl": "int",
        "createdAt": "date-time",
        "updatedAt": "date-time",
        "metadata": "metadata",
    },
    ["id", "externalId", "from", "to", "rate", "scale"],
)


def rate_out(rate: AssetRate) -> dict[str, Any]:
    return {
        "id": rate.id,
        "organizationId": rate.organization_id,
        "ledgerId": rate.ledger_id,
        "externalId": rate.external_id,
        "from": rate.from_asset,
        "to": rate.to_asset,
        "rate": rate.rate,
        "scale": rate.scale,
        "source": rate.source,
        "ttl": rate.ttl,
        "createdAt": rate.created_at,
        "updatedAt": rate.updated_at,
        "metadata": rate.metadata or {},
    }


def rates_of_ledger(ledger: Ledger) -> QuerySet[AssetRate]:
    return AssetRate.objects.filter(ledger_id=ledger.id)


def rate_put(*, ledger: Ledger, data: dict[str, Any]) -> AssetRate:
    """Inserts the rate of the pair, or replaces the stored one (its id and creation time stay;
    ``externalId`` changes only when given). ``update_or_create`` locks the row, and a
    concurrent first insert of the same pair is retried as an update."""
    now = timezone.now()
    given = data.get("externalId")
    defaults: dict[str, Any] = {
        "rate": data["rate"],
        "scale": data.get("scale") or 0,
        "source": data.get("source"),
        "ttl": data.get("ttl") or 0,
        "metadata": data.get("metadata") or {},
        "updated_at": now,
    }
    if isinstance(given, uuid.UUID):
        defaults["external_id"] = given
    rate, _ = AssetRate.objects.update_or_create(
        ledger_id=ledger.id,
        from_asset=data["from"],
        to_asset=data["to"],
        defaults=defaults,
        create_defaults={
            **defaults,
            "organization_id": ledger.organization_id,
            "external_id": given if isinstance(given, uuid.UUID) else uuid7(),
            "created_at": now,
        },
    )
    return rate
