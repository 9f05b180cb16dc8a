"""Writes of the onboarding domain. Each service is one database transaction and takes input
already checked by ``onboarding.schemas`` (camelCase keys, as on the wire).

Creating an asset or an account also creates transaction-side rows (accounts and balances);
those compositions live in ``transactions.services``, which calls the services here.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, TypeVar

from django.conf import settings as django_settings
from django.db import connection, router, transaction
from django.db.models import QuerySet
from django.utils import timezone

from midaz.exceptions import BusinessRuleViolation, ValidationFailed, not_found
from midaz.lookup import conflicts
from onboarding import alias_directory, ledger_settings
from onboarding.models import Account, AccountType, Asset, Ledger, Organization, Portfolio, Segment

CONFLICTS = {
    "ledger_name_unique_in_org": (
        "0002",
        "Ledger",
        "A ledger with this name already exists in the organization.",
    ),
    "asset_code_unique": ("0003", "Asset", "An asset with this name or code already exists."),
    "asset_name_unique": ("0003", "Asset", "An asset with this name or code already exists."),
    "segment_name_unique": ("0015", "Segment", "A segment with this name already exists."),
    "account_type_key_unique": (
        "0108",
        "AccountType",
        "An account type with this keyValue already exists in the ledger.",
    ),
    "account_alias_unique": ("0020", "Account", "The alias is already used by another account."),
}


# --- shared helpers ----------------------------------------------------------------------------


def merge_metadata(current: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """JSON Merge Patch of metadata: absent leaves it, ``null`` clears it, ``null`` values
    delete their keys."""
    if "metadata" not in data:
        return current
    patch = data["metadata"]
    if patch is None:
        return {}
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


_Row = TypeVar("_Row", bound=Any)


def lock_for_update(entity: _Row) -> _Row:
    """Re-reads ``entity`` in place from its row locked ``FOR NO KEY UPDATE`` on the primary,
    with the metadata the store holds now. An update calls it first, inside its database
    transaction: a concurrent update of the same row then waits for this one's commit and
    merges its metadata patch into what this one wrote, instead of writing back a map read
    before it (which loses the other's keys). The metadata store is written before the row's
    commit, so the waiter reads the new metadata from either backend. ``NO KEY``: the key never
    changes, and rows that reference this one (a child organization's foreign key check, a
    new account of the ledger) take ``FOR KEY SHARE``, which this lock does not block; a full
    ``FOR UPDATE`` would, and two crossed parent swaps would deadlock."""
    if not connection.in_atomic_block:
        raise RuntimeError("lock_for_update must run inside the update's transaction")
    model = type(entity)
    db = router.db_for_write(model)
    entity.refresh_from_db(using=db, from_queryset=model.all_objects.select_for_update(no_key=True))
    return entity


def _status_for_create(data: dict[str, Any]) -> tuple[str, str | None]:
    status = data.get("status") or {}
    return (status.get("code") or "ACTIVE", status.get("description"))


def _apply_status(entity: Any, data: dict[str, Any]) -> None:
    status = data.get("status")
    if not status:
        return
    if status.get("code"):
        entity.status = status["code"]
    if "description" in status:
        entity.status_description = status["description"]


def _set_if_given(entity: Any, data: dict[str, Any], mapping: dict[str, str]) -> None:
    """Apply non-empty values (Midaz applies only non-empty fields on update)."""
    for wire, attr in mapping.items():
        value = data.get(wire)
        if value not in (None, ""):
            setattr(entity, attr, value)


def _save(entity: Any) -> Any:
    entity.touch()
    with conflicts(CONFLICTS):
        entity.save()
    return entity


def _soft_delete(entity: Any) -> None:
    entity.deleted_at = timezone.now()
    entity.touch()
    entity.save(update_fields=["deleted_at", "updated_at"])


def _optional_uuid(value: Any) -> uuid.UUID | None:
    return value if isinstance(value, uuid.UUID) else None


def _refuse_in_production(entity_type: str) -> None:
    if django_settings.ENV_NAME == "production":
        raise BusinessRuleViolation(
            f"Deleting a {entity_type.lower()} is not permitted in production.",
            code="0008",
            entity_type=entity_type,
        )


# --- organizations -----------------------------------------------------------------------------


# Taken by every change of an organization's parent, so that two concurrent updates (A under B,
# B under A) cannot each pass the cycle check before the other commits.
_HIERARCHY_LOCK = int.from_bytes(
    hashlib.sha256(b"midaz:organization-parents").digest()[:8], "big", signed=True
)
# Deeper than any real group of companies; a longer chain is refused rather than walked on.
MAX_ORGANIZATION_DEPTH = 64


def _parent_organization(
    parent_id: uuid.UUID | None, visible: QuerySet[Organization] | None = None
) -> Organization | None:
    """The parent named by ``parentOrganizationId``: a live organization among ``visible`` (the
    organizations the caller's key may see; every live one when None). Another tenant's
    organization is answered as unknown (0039), as a deleted one is."""
    if parent_id is None:
        return None
    candidates = Organization.objects.all() if visible is None else visible
    # A decision of a write: read on the primary, never a lagging replica.
    parent = candidates.using("default").filter(pk=parent_id).first()
    if parent is None:
        raise not_found("0039", "Organization", "The parent organization was not found.")
    return parent


def _refuse_cycle(organization: Organization, parent: Organization) -> None:
    """0091 when ``organization`` is ``parent`` or one of its ancestors."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_HIERARCHY_LOCK])
    seen: set[uuid.UUID] = set()
    current: uuid.UUID | None = parent.pk
    while current is not None:
        if current == organization.pk:
            raise BusinessRuleViolation(
                "An organization cannot be its own parent, nor the parent of one of its ancestors.",
                code="0091",
                entity_type="Organization",
            )
        if current in seen or len(seen) >= MAX_ORGANIZATION_DEPTH:
            raise BusinessRuleViolation(
                "The parent organization's hierarchy is too deep or already circular.",
                code="0091",
                entity_type="Organization",
            )
        seen.add(current)
        current = (
            Organization.all_objects.using("default")
            .filter(pk=current)
            .values_list("parent_organization_id", flat=True)
            .first()
        )


@transaction.atomic
def organization_create(
    *, data: dict[str, Any], visible: QuerySet[Organization] | None = None
) -> Organization:
    """Creates an organization. Raises 0039 for a parent that is unknown, deleted or outside
    ``visible`` (the caller's organizations)."""
    code, description = _status_for_create(data)
    parent = _parent_organization(_optional_uuid(data.get("parentOrganizationId")), visible)
    org = Organization(
        legal_name=data["legalName"],
        legal_document=data["legalDocument"],
        doing_business_as=data.get("doingBusinessAs"),
        parent_organization=parent,
        address=data.get("address") or {},
        status=code,
        status_description=description,
        metadata=merge_metadata({}, data),
    )
    return _save(org)


@transaction.atomic
def organization_update(
    *,
    organization: Organization,
    data: dict[str, Any],
    visible: QuerySet[Organization] | None = None,
) -> Organization:
    """Updates an organization. Raises 0091 (itself or one of its descendants as parent) and
    0039 (a parent unknown, deleted or outside ``visible``)."""
    lock_for_update(organization)
    parent_id = _optional_uuid(data.get("parentOrganizationId"))
    if parent_id is not None:
        if parent_id == organization.pk:
            raise BusinessRuleViolation(
                "An organization cannot be its own parent.", code="0091", entity_type="Organization"
            )
        parent = _parent_organization(parent_id, visible)
        if parent is not None:
            _refuse_cycle(organization, parent)
        organization.parent_organization = parent
    _set_if_given(
        organization, data, {"legalName": "legal_name", "doingBusinessAs": "doing_business_as"}
    )
    if data.get("address"):
        organization.address = {**organization.address, **data["address"]}
    _apply_status(organization, data)
    organization.metadata = merge_metadata(organization.metadata, data)
    return _save(organization)


@transaction.atomic
@transaction.atomic
def organization_delete(*, organization: Organization) -> None:
    """Soft-deletes an organization and, with it, its live ledgers: nothing under a deleted
    organization answers or posts (``midaz_post`` refuses a deleted ledger in the posting's own
    round trip, so the hot path spends no query on the organization). The row is locked first:
    a concurrent ``ledger_create`` waits and then finds the organization gone (0038). Raises
    0008 in production."""
    _refuse_in_production("Organization")
    lock_for_update(organization)
    if organization.deleted_at is not None:
        raise not_found("0038", "Organization", "The organization was not found.")
    _soft_delete(organization)
    gone = list(
        Ledger.objects.using(router.db_for_write(Ledger))
        .filter(organization_id=organization.pk)
        .values_list("pk", flat=True)
    )
    Ledger.objects.using(router.db_for_write(Ledger)).filter(pk__in=gone).update(
        deleted_at=organization.deleted_at, updated_at=organization.updated_at
    )
    for ledger_id in gone:
        ledger_settings.forget(ledger_id)


# --- ledgers -----------------------------------------------------------------------------------


_LIVE_ORGANIZATION_FOR_SHARE = (
    "SELECT 1 FROM onboarding_organization WHERE id = %s AND deleted_at IS NULL FOR SHARE"
)


@transaction.atomic
def ledger_create(*, organization: Organization, data: dict[str, Any]) -> Ledger:
    """Creates a ledger. Raises 0002 (name taken in the organization) and settings errors."""
    patch = ledger_settings.validate_patch(data.get("settings"))
    code, description = _status_for_create(data)
    # The organization's row, shared-locked on the primary: a concurrent organization_delete
    # either committed before (0038 here) or waits for this ledger and deletes it too.
    with connection.cursor() as cursor:
        cursor.execute(_LIVE_ORGANIZATION_FOR_SHARE, [organization.pk])
        alive = cursor.fetchone() is not None
    if not alive:
        raise not_found("0038", "Organization", "The organization was not found.")
    ledger = Ledger(
        organization=organization,
        name=data["name"],
        status=code,
        status_description=description,
        metadata=merge_metadata({}, data),
        settings=ledger_settings.merge({}, patch),
    )
    return _save(ledger)


@transaction.atomic
def ledger_update(*, ledger: Ledger, data: dict[str, Any]) -> Ledger:
    """Updates name, status and metadata. Raises 0002."""
    lock_for_update(ledger)
    _set_if_given(ledger, data, {"name": "name"})
    _apply_status(ledger, data)
    ledger.metadata = merge_metadata(ledger.metadata, data)
    return _save(ledger)


@transaction.atomic
def ledger_settings_update(*, ledger: Ledger, patch: Any) -> dict[str, Any]:
    """Deep-merges a settings patch; returns the effective settings. Locks the ledger row."""
    checked = ledger_settings.validate_patch(patch)
    locked = Ledger.objects.select_for_update().get(pk=ledger.pk)
    locked.settings = ledger_settings.merge(locked.settings, checked)
    locked.touch()
    locked.save(update_fields=["settings", "updated_at"])
    # Forgotten now and again once committed: a reader between the two re-caches the old
    # value at most until the commit.
    ledger_id = locked.pk
    ledger_settings.forget(ledger_id)
    transaction.on_commit(lambda: ledger_settings.forget(ledger_id))
    return ledger_settings.effective(locked.settings)


@transaction.atomic
def ledger_delete(*, ledger: Ledger) -> None:
    """Soft-deletes a ledger. Raises 0008 in production."""
    _refuse_in_production("Ledger")
    _soft_delete(ledger)


# --- assets ------------------------------------------------------------------------------------


def asset_create(*, ledger: Ledger, data: dict[str, Any]) -> Asset:
    """Creates the asset row only (see ``transactions.services.asset_create``). Raises 0003."""
    code, description = _status_for_create(data)
    asset = Asset(
        organization_id=ledger.organization_id,
        ledger=ledger,
        name=data["name"],
        type=data["type"],
        code=data["code"],
        status=code,
        status_description=description,
        metadata=merge_metadata({}, data),
    )
    return _save(asset)


@transaction.atomic
def asset_update(*, asset: Asset, data: dict[str, Any]) -> Asset:
    """Updates name, status and metadata. Raises 0003."""
    lock_for_update(asset)
    _set_if_given(asset, data, {"name": "name"})
    _apply_status(asset, data)
    asset.metadata = merge_metadata(asset.metadata, data)
    return _save(asset)


def asset_soft_delete(*, asset: Asset) -> None:
    _soft_delete(asset)


# --- portfolios and segments -------------------------------------------------------------------


@transaction.atomic
def portfolio_create(*, ledger: Ledger, data: dict[str, Any]) -> Portfolio:
    code, description = _status_for_create(data)
    portfolio = Portfolio(
        organization_id=ledger.organization_id,
        ledger=ledger,
        name=data["name"],
        entity_id=data.get("entityId") or None,
        status=code,
        status_description=description,
        metadata=merge_metadata({}, data),
    )
    return _save(portfolio)


@transaction.atomic
def portfolio_update(*, portfolio: Portfolio, data: dict[str, Any]) -> Portfolio:
    lock_for_update(portfolio)
    _set_if_given(portfolio, data, {"name": "name", "entityId": "entity_id"})
    _apply_status(portfolio, data)
    portfolio.metadata = merge_metadata(portfolio.metadata, data)
    return _save(portfolio)


@transaction.atomic
def segment_create(*, ledger: Ledger, data: dict[str, Any]) -> Segment:
    """Creates a segment. Raises 0015 (name taken in the ledger)."""
    code, description = _status_for_create(data)
    segment = Segment(
        organization_id=ledger.organization_id,
        ledger=ledger,
        name=data["name"],
        status=code,
        status_description=description,
        metadata=merge_metadata({}, data),
    )
    return _save(segment)


@transaction.atomic
def segment_update(*, segment: Segment, data: dict[str, Any]) -> Segment:
    """Updates a segment. Raises 0015."""
    lock_for_update(segment)
    _set_if_given(segment, data, {"name": "name"})
    _apply_status(segment, data)
    segment.metadata = merge_metadata(segment.metadata, data)
    return _save(segment)


@transaction.atomic
def entity_delete(*, entity: Portfolio | Segment | AccountType) -> None:
    """Soft-deletes a portfolio, segment or account type."""
    _soft_delete(entity)


# --- account types -----------------------------------------------------------------------------


@transaction.atomic
def account_type_create(*, ledger: Ledger, data: dict[str, Any]) -> AccountType:
    """Creates an account type. Raises 0108 (keyValue taken in the ledger)."""
    account_type = AccountType(
        organization_id=ledger.organization_id,
        ledger=ledger,
        name=data["name"],
        description=data.get("description") or None,
        key_value=data["keyValue"],
        metadata=merge_metadata({}, data),
    )
    return _save(account_type)


@transaction.atomic
def account_type_update(*, account_type: AccountType, data: dict[str, Any]) -> AccountType:
    lock_for_update(account_type)
    _set_if_given(account_type, data, {"name": "name", "description": "description"})
    account_type.metadata = merge_metadata(account_type.metadata, data)
    return _save(account_type)


# --- accounts ----------------------------------------------------------------------------------


def self_holder_id(organization_id: uuid.UUID) -> uuid.UUID:
    """The organization's own CRM holder: UUIDv5 of the org id in Midaz's namespace."""
    namespace = uuid.UUID("8d9e2c1b-3a47-5f60-9c8b-1d2e3f405162")
    digest = hashlib.sha1(namespace.bytes + organization_id.bytes, usedforsecurity=False).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


def _ledger_item(model: Any, ledger: Ledger, pk: uuid.UUID | None, code: str, entity: str) -> Any:
    if pk is None:
        return None
    item = model.objects.filter(ledger=ledger, pk=pk).first()
    if item is None:
        raise not_found(code, entity)
    return item


def account_build(*, ledger: Ledger, data: dict[str, Any]) -> Account:
    """Checks an account's references and the ledger's rules, and returns it unsaved.

    Raises 0034 (asset), 0029/0030 (parent), 0035 (portfolio), 0036 (segment), 0066 (account
    type), 0491/0490 (holder rules).
    """
    if not Asset.objects.filter(ledger=ledger, code=data["assetCode"]).exists():
        raise not_found("0034", "Account", "The asset code does not exist in this ledger.")
    parent = None
    parent_id = _optional_uuid(data.get("parentAccountId"))
    if parent_id is not None:
        parent = Account.objects.filter(ledger=ledger, pk=parent_id).first()
        if parent is None:
            raise ValidationFailed(
                "The parent account does not exist in this ledger.",
                code="0029",
                entity_type="Account",
            )
        if parent.asset_code != data["assetCode"]:
            raise BusinessRuleViolation(
                "The parent account holds a different asset.", code="0030", entity_type="Account"
            )
    portfolio = _ledger_item(
        Portfolio, ledger, _optional_uuid(data.get("portfolioId")), "0035", "Portfolio"
    )
    segment = _ledger_item(
        Segment, ledger, _optional_uuid(data.get("segmentId")), "0036", "Segment"
    )
    rules = ledger_settings.effective(ledger.settings)
    account_type = data["type"]
    if (
        rules["accounting"]["validateAccountType"]
        and account_type != Account.EXTERNAL
        and not AccountType.objects.filter(ledger=ledger, key_value__iexact=account_type).exists()
    ):
        raise ValidationFailed(
            "The account type is not one of this ledger's account types.",
            code="0066",
            entity_type="Account",
        )
    holder_id, skipped = _holder(ledger, data, rules)
    code, description = _status_for_create(data)
    account = Account(
        organization_id=ledger.organization_id,
        ledger=ledger,
        name=data.get("name") or f"{data['assetCode']} {account_type} account",
        parent_account=parent,
        entity_id=data.get("entityId") or (portfolio.entity_id if portfolio else None),
        holder_id=holder_id,
        asset_code=data["assetCode"],
        portfolio=portfolio,
        segment=segment,
        type=account_type,
        blocked=bool(data.get("blocked")),
        holder_check_skipped=skipped,
        status=code,
        status_description=description,
        metadata=merge_metadata({}, data),
    )
    account.alias = data.get("alias") or str(account.id)
    return account


def _holder(
    ledger: Ledger, data: dict[str, Any], rules: dict[str, dict[str, Any]]
) -> tuple[uuid.UUID | None, bool]:
    skip = bool((data.get("skip") or {}).get("holder"))
    if skip and not rules["overrides"]["allowHolderSkip"]:
        raise BusinessRuleViolation(
            "Skipping the holder check is not permitted on this ledger.",
            code="0490",
            entity_type="Account",
        )
    holder_id = _optional_uuid(data.get("holderId"))
    if data["type"] == Account.EXTERNAL:
        return holder_id, skip
    if rules["accounting"]["requireHolder"] and holder_id is None and not skip:
        raise BusinessRuleViolation(
            "This ledger requires a holderId on every account.", code="0491", entity_type="Account"
        )
    return holder_id or self_holder_id(ledger.organization_id), skip


def account_save(account: Account) -> Account:
    """Inserts a built account. Raises 0020 (alias taken)."""
    alias_directory.forget(account.ledger_id, account.alias)
    return _save(account)


def _refuse_external(account: Account) -> None:
    if account.is_external:
        raise BusinessRuleViolation(
            "External accounts cannot be changed or deleted.", code="0074", entity_type="Account"
        )


@transaction.atomic
def account_update(*, account: Account, data: dict[str, Any]) -> Account:
    """Updates an account. Raises 0074 (external), 0035, 0036."""
    lock_for_update(account)
    _refuse_external(account)
    ledger = account.ledger
    for wire, attr, model, code, entity in (
        ("portfolioId", "portfolio", Portfolio, "0035", "Portfolio"),
        ("segmentId", "segment", Segment, "0036", "Segment"),
    ):
        if wire in data:
            setattr(
                account, attr, _ledger_item(model, ledger, _optional_uuid(data[wire]), code, entity)
            )
    if "entityId" in data:
        account.entity_id = data["entityId"] or None
    _set_if_given(account, data, {"name": "name"})
    if data.get("blocked") is not None:
        account.blocked = data["blocked"]
    _apply_status(account, data)
    account.metadata = merge_metadata(account.metadata, data)
    return _save(account)


def account_check_deletable(account: Account) -> None:
    _refuse_external(account)


def account_soft_delete(account: Account) -> None:
    _soft_delete(account)
    alias_directory.forget(account.ledger_id, account.alias)
