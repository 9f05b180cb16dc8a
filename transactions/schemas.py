"""Transaction request bodies (MIDAZ_API.md §4.3) and their translation to a TransactionSpec.

The posting hot path runs through here, so it uses the lean validator of ``midaz.api`` rather
than DRF serializers (PERFORMANCE.md).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from midaz.api.validation import F, Schema, check_digits, check_text, validate_metadata
from midaz.exceptions import BusinessRuleViolation, ValidationFailed
from transactions.spec import DEFAULT_BALANCE_KEY, Entry, Rate, Share, TransactionSpec

ENTITY = "Transaction"
METADATA = F("metadata")

AMOUNT = Schema(
    "Amount", {"asset": F("string", max_length=100), "value": F("decimal", required=True)}
)
SHARE = Schema(
    "ShareInput",
    {"percentage": F("int", required=True), "percentageOfPercentage": F("int")},
)
RATE = Schema(
    "RateInput",
    {
        "from": F(
            "string",
            max_length=100,
            description="the posting's asset (send.asset) when the entry converts",
        ),
        "to": F(
            "string",
            max_length=100,
            description="another asset: the entry's balance holds it and receives (or gives) "
            "amount x value of it; the posting's own asset or none: informational, as in Midaz",
        ),
        "value": F(
            "decimal",
            description="units of `to` per unit of `from`, > 0; absent: the ledger's stored "
            "rate for the pair (PUT .../asset-rates), else 404 0007",
        ),
        "externalId": F("string", max_length=100),
    },
)
FROM_TO = Schema(
    "FromTo",
    {
        "accountAlias": F("string", required=True, max_length=100),
        "balanceKey": F("string", max_length=100),
        "amount": F("object", schema=AMOUNT),
        "share": F("object", schema=SHARE),
        "remaining": F("string", max_length=100),
        "description": F("string", max_length=256),
        "chartOfAccounts": F("string", max_length=256),
        "metadata": METADATA,
        "route": F("string", max_length=250),
        "routeId": F("uuid"),
        "rate": F("object", schema=RATE),
    },
)
ENTRIES = F("array", required=True, items=F("object", schema=FROM_TO))
SOURCE = F(
    "object", required=True, schema=Schema("Source", {"from": ENTRIES, "remaining": F("string")})
)
DISTRIBUTE = F(
    "object", required=True, schema=Schema("Distribute", {"to": ENTRIES, "remaining": F("string")})
)
SKIP = F("object", schema=Schema("Skip", {"fees": F("bool"), "tracer": F("bool")}))

_COMMON = {
    "description": F("string", max_length=256),
    "code": F("string", max_length=100),
    "chartOfAccountsGroupName": F("string", max_length=256),
    "transactionDate": F("string", max_length=64),
    "routeId": F("uuid"),
    "route": F("string", max_length=250),
    "metadata": METADATA,
    "skip": SKIP,
}


def _send(**sides: F) -> F:
    return F(
        "object",
        required=True,
        schema=Schema(
            "Send",
            {
                "asset": F("string", required=True, max_length=100),
                "value": F("decimal", required=True),
                **sides,
            },
        ),
    )


TRANSACTION_JSON = Schema(
    "CreateTransactionInput",
    {**_COMMON, "pending": F("bool"), "send": _send(source=SOURCE, distribute=DISTRIBUTE)},
    entity_type=ENTITY,
)
INFLOW = Schema(
    "CreateTransactionInflowInput",
    {**_COMMON, "send": _send(distribute=DISTRIBUTE)},
    entity_type=ENTITY,
)
OUTFLOW = Schema(
    "CreateTransactionOutflowInput",
    {**_COMMON, "pending": F("bool"), "send": _send(source=SOURCE)},
    entity_type=ENTITY,
)
TRANSACTION_UPDATE = Schema(
    "UpdateTransactionInput",
    {"description": F("string", max_length=256), "metadata": METADATA},
    entity_type=ENTITY,
)
OPERATION_UPDATE = Schema(
    "UpdateOperationInput",
    {"description": F("string", max_length=256), "metadata": METADATA},
    entity_type="Operation",
)


def _entry(raw: dict[str, Any]) -> Entry:
    amount = raw.get("amount")
    share = raw.get("share")
    remaining = bool(raw.get("remaining"))
    if sum((amount is not None, share is not None, remaining)) != 1:
        raise ValidationFailed(
            f"Entry {raw['accountAlias']} needs exactly one of amount, share or remaining.",
            code="0072",
            entity_type=ENTITY,
        )
    rate = raw.get("rate")
    return Entry(
        account_alias=raw["accountAlias"],
        balance_key=(raw.get("balanceKey") or DEFAULT_BALANCE_KEY),
        amount=amount["value"] if amount else None,
        amount_asset=amount.get("asset") if amount else None,
        share=Share(share["percentage"], share.get("percentageOfPercentage") or 0)
        if share
        else None,
        remaining=remaining,
        description=raw.get("description"),
        chart_of_accounts=raw.get("chartOfAccounts"),
        metadata=raw.get("metadata"),
        route=raw.get("route"),
        route_id=raw.get("routeId") if isinstance(raw.get("routeId"), uuid.UUID) else None,
        rate=Rate(
            rate.get("from") or "",
            rate.get("to") or "",
            rate.get("value") or Decimal(0),
            rate.get("externalId") or "",
        )
        if rate
        else None,
    )


def parse_transaction_date(raw: str | None, *, pending: bool) -> datetime | None:
    """RFC 3339, ``yyyy-mm-ddThh:mm:ss[Z]`` or ``yyyy-mm-dd``; future 0121, with pending 0122."""
    if not raw:
        return None
    if pending:
        raise ValidationFailed(
            "A pending transaction cannot be back-dated.", code="0122", entity_type=ENTITY
        )
    try:
        if len(raw) == 10:
            moment = datetime.combine(date.fromisoformat(raw), datetime.min.time())
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            "transactionDate must be an RFC 3339 date-time or yyyy-mm-dd.",
            code="0077",
            entity_type=ENTITY,
        ) from None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before the first representable day
        raise ValidationFailed(
            "transactionDate is out of the representable range.", code="0077", entity_type=ENTITY
        ) from None
    if moment > datetime.now(UTC):
        raise ValidationFailed(
            "transactionDate cannot be in the future.", code="0121", entity_type=ENTITY
        )
    return moment


# Rate external ids live in the operation's ``rate`` JSON, not a column: the JSON limit.
RATE_EXTERNAL_ID_MAX = 100
EXTERNAL_PREFIX = "@external/"


@dataclass(frozen=True)
class ColumnLimits:
    """The longest text each field of a posting may carry, read from the columns it is written
    to (``_meta`` of the models), so accept-time checks can never drift from the schema."""

    description: int
    code: int
    group_name: int
    route: int
    asset: int
    alias: int
    balance_key: int
    chart_of_accounts: int


@functools.cache
def column_limits() -> ColumnLimits:
    from onboarding.models import Account
    from transactions.models import Balance, Operation, Transaction

    def cap(*columns: tuple[type[models.Model], str]) -> int:
        lengths = []
        for model, name in columns:
            column = model._meta.get_field(name)
            assert isinstance(column, models.CharField)
            assert column.max_length is not None
            lengths.append(column.max_length)
        return min(lengths)

    source = Transaction._meta.get_field("source")
    assert isinstance(source, ArrayField)
    alias = min(
        cap((Operation, "account_alias"), (Balance, "alias"), (Account, "alias")),
        source.base_field.max_length or 0,
    )
    return ColumnLimits(
        # An entry's description defaults to the transaction's: both columns bound both.
        description=cap((Transaction, "description"), (Operation, "description")),
        code=cap((Transaction, "code")),
        group_name=cap((Transaction, "chart_of_accounts_group_name")),
        route=cap((Transaction, "route"), (Operation, "route")),
        # An asset names its external account, @external/<CODE>, an alias too.
        asset=min(
            cap((Transaction, "asset_code"), (Operation, "asset_code"), (Balance, "asset_code")),
            alias - len(EXTERNAL_PREFIX),
        ),
        alias=alias,
        balance_key=cap((Operation, "balance_key"), (Balance, "key")),
        chart_of_accounts=cap((Operation, "chart_of_accounts")),
    )


def _text(value: str | None, path: str, limit: int) -> None:
    """A text field of a posting: storable (no NUL, no lone surrogate) and within its column
    (0047, the field named as the JSON validator names it)."""
    if value is None:
        return
    check_text(value, ENTITY)
    if len(value) > limit:
        message = f"{path} must have at most {limit} characters"
        raise ValidationFailed(message, code="0047", entity_type=ENTITY, fields={path: message})


def _entry_limits(entry: Entry, path: str, limits: ColumnLimits) -> None:
    _text(entry.account_alias, f"{path}.accountAlias", limits.alias)
    if "#" in entry.account_alias:
        # No account alias has one (Midaz's alias characters), and the apply step finds a
        # balance by "alias#key": "@a#x" with key "y" would reach @a's balance "x#y".
        raise BusinessRuleViolation(
            f"No balance found for {entry.account_alias} ({entry.balance_key}).",
            code="0019",
            entity_type=ENTITY,
        )
    _text(entry.balance_key, f"{path}.balanceKey", limits.balance_key)
    _text(entry.amount_asset, f"{path}.amount.asset", limits.asset)
    _text(entry.description, f"{path}.description", limits.description)
    _text(entry.chart_of_accounts, f"{path}.chartOfAccounts", limits.chart_of_accounts)
    _text(entry.route, f"{path}.route", limits.route)
    if entry.amount is not None:
        check_digits(entry.amount, f"{path}.amount.value", ENTITY)
    if entry.rate is not None:
        _text(entry.rate.from_asset, f"{path}.rate.from", limits.asset)
        _text(entry.rate.to_asset, f"{path}.rate.to", limits.asset)
        _text(entry.rate.external_id, f"{path}.rate.externalId", RATE_EXTERNAL_ID_MAX)
        check_digits(entry.rate.value, f"{path}.rate.value", ENTITY)
    if entry.metadata:
        validate_metadata(dict(entry.metadata), ENTITY)


def check_spec_limits(spec: TransactionSpec) -> TransactionSpec:
    """The input limits of a posting whatever its form (README, "Input limits"): at most
    ``MAX_TRANSACTION_LEGS`` entries, amounts of at most ``MAX_AMOUNT_DIGITS`` digits (0047),
    Midaz's metadata limits (0050, 0051, 0067), and every text within the column it is written
    to (``column_limits``), without NUL characters (0047). This is the accept-time check of
    whatever the apply step (or the asynchronous worker) inserts: the JSON validator checked
    most of it already; a Gold DSL program is checked only here."""
    legs = len(spec.sources) + len(spec.destinations)
    if legs > settings.MAX_TRANSACTION_LEGS:
        message = f"A transaction may have at most {settings.MAX_TRANSACTION_LEGS} entries."
        raise ValidationFailed(
            message, code="0047", entity_type=ENTITY, fields={"send": f"{legs} entries"}
        )
    limits = column_limits()
    _text(spec.asset, "send.asset", limits.asset)
    _text(spec.description, "description", limits.description)
    _text(spec.code, "code", limits.code)
    _text(spec.chart_of_accounts_group_name, "chartOfAccountsGroupName", limits.group_name)
    _text(spec.route, "route", limits.route)
    check_digits(spec.value, "send.value", ENTITY)
    validate_metadata(dict(spec.metadata or {}), ENTITY)
    for side, entries in (("source.from", spec.sources), ("distribute.to", spec.destinations)):
        for i, entry in enumerate(entries):
            _entry_limits(entry, f"send.{side}[{i}]", limits)
    return spec


def spec_from_body(data: dict[str, Any], *, kind: str) -> TransactionSpec:
    """Build the spec of a checked body. ``kind``: json, inflow, outflow (annotation, block
    and unblock use the json body)."""
    send = data["send"]
    asset = send["asset"]
    value: Decimal = send["value"]
    external = Entry(account_alias=f"@external/{asset}", amount=value, amount_asset=asset)
    sources = tuple(_entry(e) for e in (send.get("source") or {}).get("from") or ())
    destinations = tuple(_entry(e) for e in (send.get("distribute") or {}).get("to") or ())
    if kind == "inflow":
        sources = (external,)
    elif kind == "outflow":
        destinations = (external,)
    pending = bool(data.get("pending")) and kind in {"json", "outflow"}
    skip = data.get("skip") or {}
    spec = TransactionSpec(
        asset=asset,
        value=value,
        sources=sources,
        destinations=destinations,
        description=data.get("description"),
        code=data.get("code"),
        chart_of_accounts_group_name=data.get("chartOfAccountsGroupName"),
        pending=pending,
        metadata=data.get("metadata") or {},
        transaction_date=parse_transaction_date(data.get("transactionDate"), pending=pending),
        route=data.get("route"),
        route_id=data.get("routeId") if isinstance(data.get("routeId"), uuid.UUID) else None,
        skip_fees=bool(skip.get("fees")),
        skip_tracer=bool(skip.get("tracer")),
    )
    return check_spec_limits(spec)


# The JSON create routes: kind -> the schema of its body (the console's posting form too).
CREATE_SCHEMAS = {
    "json": TRANSACTION_JSON,
    "inflow": INFLOW,
    "outflow": OUTFLOW,
    "annotation": TRANSACTION_JSON,
}


def spec_from_gold_file(raw: bytes) -> TransactionSpec:
    """The spec of an uploaded Gold file (``POST .../transactions/dsl`` and the console): at
    most MAX_DSL_FILE_BYTES of UTF-8 text (0048), a valid program (0048, empty 0049), within the
    input limits. The parser is imported here: the deprecated DSL route should not weigh on the
    JSON hot path."""
    from transactions.dsl import GoldError, parse_gold

    limit = settings.MAX_DSL_FILE_BYTES
    if len(raw) > limit:
        raise ValidationFailed(
            f"The Gold file is larger than {limit} bytes.", code="0048", entity_type="Transaction"
        )
    try:
        return check_spec_limits(parse_gold(raw.decode("utf-8")))
    except UnicodeDecodeError:
        raise ValidationFailed(
            "The Gold file must be UTF-8 text.", code="0048", entity_type="Transaction"
        ) from None
    except GoldError as exc:
        raise ValidationFailed(exc.message, code=exc.code, entity_type="Transaction") from None
