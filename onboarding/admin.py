"""Admin registrations of the onboarding entities (the full console comes later)."""

from django.contrib import admin

from onboarding.models import Account, AccountType, Asset, Ledger, Organization, Portfolio, Segment


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "legal_document", "status", "created_at")
    search_fields = ("legal_name", "legal_document", "id")
    list_filter = ("status",)
    show_full_result_count = False


@admin.register(Ledger)
class LedgerAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "status", "created_at")
    search_fields = ("name", "id")
    list_select_related = ("organization",)
    raw_id_fields = ("organization",)
    show_full_result_count = False


class LedgerScopedAdmin(admin.ModelAdmin):
    list_select_related = ("ledger",)
    raw_id_fields = ["organization", "ledger"]
    show_full_result_count = False


@admin.register(Asset)
class AssetAdmin(LedgerScopedAdmin):
    list_display = ("code", "name", "type", "ledger", "status")
    search_fields = ("code", "name", "id")
    list_filter = ("type", "status")


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


@admin.register(Account)
class AccountAdmin(LedgerScopedAdmin):
    list_display = ("alias", "name", "asset_code", "type", "ledger", "status", "blocked")
    search_fields = ("alias", "name", "id")
    list_filter = ("type", "status", "blocked")
    raw_id_fields = ["organization", "ledger", "parent_account", "portfolio", "segment"]
