"""API keys in the admin: made here (the key is shown once), revoked with an action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from access.models import ApiKey
from console.admin_base import ConsoleAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(ConsoleAdmin):
    list_display = ("name", "prefix", "scope", "all_organizations", "state", "created_at")
    list_filter = ("scope", "all_organizations")
    search_fields = ("name", "prefix", "organizations__legal_name")
    readonly_fields = ("prefix", "created_at", "created_by", "revoked_at")
    filter_horizontal = ("organizations",)
    actions = ["revoke"]
    show_full_result_count = False

    @admin.display(description="state")
    def state(self, obj: ApiKey) -> str:
        if obj.revoked_at is not None:
            return "revoked"
        if obj.expires_at is not None and obj.expires_at <= timezone.now():
            return "expired"
        return "active"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            key = obj.issue()
            obj.created_by = request.user.get_username()
            super().save_model(request, obj, form, change)
            messages.warning(
                request,
                f"The new API key is {key} — copy it now: it is stored hashed and will not be "
                "shown again.",
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected keys (they stop working at once)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} key(s) revoked.")
