"""Admin registrations of the money side: read-only, since money moves only through postings
(the operator console with actions comes with issue #9)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from transactions.models import Balance, Operation, Transaction


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = ("alias", "key", "asset_code", "available", "on_hold", "version", "ledger")
    search_fields = ("alias", "id")
    list_filter = ("asset_code", "direction")
    list_select_related = ("ledger",)


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "amount", "asset_code", "description", "created_at")
    search_fields = ("id", "description")
    list_filter = ("status", "asset_code")


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "account_alias", "amount", "asset_code", "created_at")
    search_fields = ("id", "account_alias")
    list_filter = ("type", "asset_code")
