"""Admin registration of balances: read-only, since money moves only through postings."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from transactions.models import Balance


@admin.register(Balance)
class BalanceAdmin(admin.ModelAdmin):
    list_display = ("alias", "key", "asset_code", "available", "on_hold", "version", "ledger")
    search_fields = ("alias", "id")
    list_filter = ("asset_code", "direction")
    list_select_related = ("ledger",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
