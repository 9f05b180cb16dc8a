"""The audit trail in the console (read-only), and the staff users and groups in its look."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from console.admin_base import ReadOnlyAdmin
from console.models import AuditRecord


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "username", "action", "target", "result", "code", "message")
    list_filter = ("result", "action", "created_at")
    uuid_search_fields = ("transaction_id", "ledger_id")
    exact_search_fields = ("username",)
    search_fields = ("username",)
    search_help_text = "A username, or a transaction or ledger id"
    ordering = ("-id",)


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(BaseUserAdmin, UnfoldModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, UnfoldModelAdmin):
    pass
