"""The onboarding entities in the console, navigable along the hierarchy: organization → its
ledgers → their accounts → each account's balances and operations (console/admin_base.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from unfold.admin import TabularInline

from console.admin_base import AssetFilter, ConsoleAdmin, LedgerFilter, changelist_url, link
from onboarding.models import Account, AccountType, Asset, Ledger, Organization, Portfolio, Segment
from transactions.models import Balance, Operation, Transaction


@admin.register(Organization)
class OrganizationAdmin(ConsoleAdmin):
    list_display = ("legal_name", "legal_document", "status", "created_at", "ledgers")
    search_fields = ("legal_name", "legal_document", "id")
    search_help_text = "A name, a legal document or an id"
    list_filter = ("status", "created_at")

    @admin.display(description="ledgers")
    def ledgers(self, obj: Organization) -> str:
        return link(changelist_url(Ledger, organization__id__exact=obj.id), "ledgers")


@admin.register(Ledger)
class LedgerAdmin(ConsoleAdmin):
    list_display = ("name", "organization", "status", "created_at", "browse")
    search_fields = ("name", "id")
    search_help_text = "A name or an id"
    list_filter = ("status", "created_at")
    list_select_related = ("organization",)
    raw_id_fields = ("organization",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A ledger never changes organization: postings check the pair against a per-process
        # map (ledger_settings.organization_of) that is never invalidated, and every row of
        # the ledger carries its organization_id.
        fixed = ("organization",)
        return (*super().get_readonly_fields(request, obj), *(fixed if obj else ()))

    @admin.display(description="browse")
    def browse(self, obj: Ledger) -> str:
        return link(changelist_url(Account, ledger__id__exact=obj.id), "accounts") + link(
            changelist_url(Transaction, ledger__id__exact=obj.id), " · transactions"
        )


class LedgerScopedAdmin(ConsoleAdmin):
    list_select_related = ("ledger",)
    raw_id_fields = ["organization", "ledger"]
    list_filter: Any = (LedgerFilter, "status")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A row of a ledger stays in its ledger (and organization) once created.
        fixed = ("organization", "ledger")
        return (*super().get_readonly_fields(request, obj), *(fixed if obj else ()))


@admin.register(Asset)
class AssetAdmin(LedgerScopedAdmin):
    list_display = ("code", "name", "type", "ledger", "status")
    search_fields = ("code", "name", "id")
    list_filter = (LedgerFilter, "type", "status")


@admin.register(Portfolio)
class PortfolioAdmin(LedgerScopedAdmin):
    list_display = ("name", "entity_id", "ledger", "status")
    search_fields = ("name", "entity_id", "id")


@admin.register(Segment)
class SegmentAdmin(LedgerScopedAdmin):
    list_display = ("name", "ledger", "status")
    search_fields = ("name", "id")


@admin.register(AccountType)
class AccountTypeAdmin(LedgerScopedAdmin):
    list_display = ("key_value", "name", "ledger")
    search_fields = ("key_value", "name", "id")
    list_filter = (LedgerFilter,)


class BalanceInline(TabularInline):
    """An account's balances, read-only (money moves only through postings)."""

    model = Balance
    fk_name = "account"
    fields = ("key", "asset_code", "available", "on_hold", "version", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(LedgerScopedAdmin):
    list_display = (
        "alias",
        "name",
        "asset_code",
        "type",
        "ledger",
        "status",
        "blocked",
        "money",
    )
    list_filter = (LedgerFilter, AssetFilter, "type", "status", "blocked")
    raw_id_fields = ["organization", "ledger", "parent_account", "portfolio", "segment"]
    ordering = ("-id",)
    # Indexed: an alias matches exactly (with or without its "@"), an id or a metadata value.
    uuid_search_fields = ("pk", "portfolio_id", "segment_id", "parent_account_id")
    exact_search_fields = ("alias",)
    metadata_search = True
    search_fields = ("alias",)
    search_help_text = "An @alias, an account id or metadata key=value"
    inlines = [BalanceInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # What postings, balances and the alias directory rely on never changes here.
        fixed = ("alias", "asset_code", "type", "parent_account")  # organization, ledger: above
        return (*super().get_readonly_fields(request, obj), *(fixed if obj else ()))

    export_fields = (
        "id",
        "ledger_id",
        "alias",
        "name",
        "asset_code",
        "type",
        "status",
        "blocked",
        "created_at",
    )

    @admin.display(description="money")
    def money(self, obj: Account) -> str:
        return link(changelist_url(Balance, account__id__exact=obj.id), "balances") + link(
            changelist_url(Operation, account__id__exact=obj.id), " · operations"
        )
