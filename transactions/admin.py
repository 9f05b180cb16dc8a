"""The money side in the console: read-only lists of balances, transactions and operations,
and the actions an operator runs through the API's own services (console/services.py):
commit, cancel, revert, post from a JSON body or a Gold file."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from console import groups, services
from console.admin_base import (
    AssetFilter,
    LedgerFilter,
    ReadOnlyAdmin,
    changelist_url,
    link,
)
from console.forms import PostingForm
from transactions.models import Balance, Operation, Transaction

# Actions on the selected rows of a list: at most this many at once.
MAX_SELECTED = 100


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = (
        "alias",
        "key",
        "asset_code",
        "available",
        "on_hold",
        "version",
        "ledger",
        "operations",
    )
    list_filter = (LedgerFilter, AssetFilter, "direction")
    list_select_related = ("ledger",)
    ordering = ("-id",)
    uuid_search_fields = ("pk", "account_id")
    exact_search_fields = ("alias",)
    metadata_search = True
    search_fields = ("alias",)
    search_help_text = "An @alias, an id (balance or account) or metadata key=value"
    export_fields = (
        "id",
        "ledger_id",
        "account_id",
        "alias",
        "key",
        "asset_code",
        "available",
        "on_hold",
        "version",
        "updated_at",
    )

    @admin.display(description="operations")
    def operations(self, obj: Balance) -> str:
        return link(changelist_url(Operation, balance__id__exact=obj.id), "operations")


class _Settle:
    """The commit/cancel/revert actions of the transaction list and page."""

    def _allowed(self, request: HttpRequest) -> bool:
        return request.user.has_perm(groups.OPERATE)

    def _run(self, request: HttpRequest, queryset: QuerySet[Transaction], verb: str) -> None:
        if not self._allowed(request):
            services.audit(request, verb, "selected transactions", result="denied")
            raise PermissionDenied
        selected = list(queryset.order_by("id")[: MAX_SELECTED + 1])
        if len(selected) > MAX_SELECTED:
            messages.error(request, f"Select at most {MAX_SELECTED} transactions at once.")
            return
        for tx in selected:
            outcome = services.operate(request, tx, verb)
            messages.add_message(
                request, messages.SUCCESS if outcome.ok else messages.ERROR, outcome.message
            )


@admin.register(Transaction)
class TransactionAdmin(_Settle, ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "amount",
        "asset_code",
        "description",
        "ledger",
        "created_at",
        "operations",
    )
    list_filter = (LedgerFilter, "status", AssetFilter, "created_at")
    list_select_related = ("ledger",)
    # UUIDv7 ids are in time order: the primary key (or (ledger, id)) index serves the list.
    ordering = ("-id",)
    uuid_search_fields = ("pk", "parent_transaction_id")
    metadata_search = True
    search_fields = ("id",)
    search_help_text = "A transaction id or metadata key=value"
    actions = ["commit", "cancel", "revert"]
    change_form_template = "console/transaction_change_form.html"
    exclude = ("body",)
    export_fields = (
        "id",
        "ledger_id",
        "status",
        "amount",
        "asset_code",
        "description",
        "code",
        "parent_transaction_id",
        "created_at",
    )

    @admin.display(description="operations")
    def operations(self, obj: Transaction) -> str:
        return link(changelist_url(Operation, transaction__id__exact=obj.id), "operations")

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not self._allowed(request):
            for name in ("commit", "cancel", "revert"):
                actions.pop(name, None)
        return actions

    @admin.action(description="Commit the selected pending transactions")
    def commit(self, request: HttpRequest, queryset: QuerySet[Transaction]) -> None:
        self._run(request, queryset, "commit")

    @admin.action(description="Cancel the selected pending transactions")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Transaction]) -> None:
        self._run(request, queryset, "cancel")

    @admin.action(description="Revert the selected approved transactions")
    def revert(self, request: HttpRequest, queryset: QuerySet[Transaction]) -> None:
        self._run(request, queryset, "revert")

    # --- the transaction's own page: its operations, and buttons for the actions -------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("post/", view(self.post_view), name="transactions_transaction_post"),
            path(
                "<uuid:object_id>/operate/<str:verb>/",
                view(require_POST(self.operate_view)),
                name="transactions_transaction_operate",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = dict(extra_context or {})
        if self._allowed(request):
            context["post_url"] = reverse("admin:transactions_transaction_post")
        return super().changelist_view(request, context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        tx = self.get_object(request, object_id)
        if tx is not None:
            verbs = []
            if self._allowed(request):
                if tx.status == Transaction.Status.PENDING:
                    verbs = ["commit", "cancel"]
                elif tx.status == Transaction.Status.APPROVED and tx.parent_transaction_id is None:
                    verbs = ["revert"]
            context["operate_verbs"] = verbs
            context["operations"] = list(
                Operation.objects.without_metadata()
                .filter(transaction_id=tx.id)
                .order_by("created_at", "id")[:200]
            )
        return super().change_view(request, object_id, form_url, context)

    def operate_view(self, request: HttpRequest, object_id: uuid.UUID, verb: str) -> Any:
        if verb not in services.VERBS:
            raise PermissionDenied
        if not self._allowed(request):
            services.audit(request, verb, f"transaction {object_id}", result="denied")
            raise PermissionDenied
        tx = get_object_or_404(Transaction.objects.without_metadata(), pk=object_id)
        outcome = services.operate(request, tx, verb)
        messages.add_message(
            request, messages.SUCCESS if outcome.ok else messages.ERROR, outcome.message
        )
        return HttpResponseRedirect(
            reverse("admin:transactions_transaction_change", args=[object_id])
        )

    def post_view(self, request: HttpRequest) -> HttpResponse:
        """Post a transaction from a JSON body or a Gold file into a ledger."""
        if not self._allowed(request):
            raise PermissionDenied
        outcome = None
        if request.method == "POST":
            form = PostingForm(request.POST, request.FILES)
            if form.is_valid():
                outcome = services.post(
                    request,
                    ledger=form.cleaned_data["ledger"],
                    kind=form.cleaned_data["kind"],
                    body_text=form.cleaned_data.get("body") or "",
                    gold=form.gold_bytes(),
                    idempotency_key=form.cleaned_data.get("idempotency_key") or "",
                )
                if outcome.ok:
                    messages.success(request, outcome.message)
                    return HttpResponseRedirect(
                        reverse(
                            "admin:transactions_transaction_change",
                            args=[outcome.transaction_id],
                        )
                    )
                form.add_error(None, outcome.message)
        else:
            form = PostingForm(initial={"ledger": request.GET.get("ledger", ""), "kind": "json"})
        context = {
            **self.admin_site.each_context(request),
            "title": "Post a transaction",
            "opts": self.model._meta,
            "form": form,
            "outcome": outcome,
        }
        return TemplateResponse(request, "console/post_transaction.html", context)


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "type",
        "account_alias",
        "amount",
        "asset_code",
        "available_after",
        "transaction_link",
        "created_at",
    )
    list_filter = (LedgerFilter, "type", AssetFilter, "created_at")
    list_select_related = False
    ordering = ("-id",)
    uuid_search_fields = ("pk", "transaction_id", "account_id", "balance_id")
    exact_search_fields = ("account_alias",)
    metadata_search = True
    search_fields = ("account_alias",)
    search_help_text = "An @alias, an id (operation, transaction, account, balance) or key=value"
    export_fields = (
        "id",
        "ledger_id",
        "transaction_id",
        "type",
        "account_alias",
        "balance_key",
        "amount",
        "asset_code",
        "available_before",
        "available_after",
        "on_hold_after",
        "created_at",
    )

    @admin.display(description="transaction")
    def transaction_link(self, obj: Operation) -> str:
        url = reverse("admin:transactions_transaction_change", args=[obj.transaction_id])
        return link(url, str(obj.transaction_id))
