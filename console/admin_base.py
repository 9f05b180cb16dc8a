"""The base of every console list: bounded counts, searches that use indexes, list filters
that read only small tables, links along the hierarchy and a streamed CSV export."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from functools import reduce
from operator import or_
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin as UnfoldModelAdmin

from console import groups
from console.paginator import BoundedCountPaginator
from console.services import audit
from onboarding.models import Asset, Ledger

EXPORT_CHUNK = 2000


def changelist_url(model: type[Model], **filters: Any) -> str:
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{query}" if query else url


def link(url: str, text: str) -> str:
    return format_html('<a class="text-primary-600 underline" href="{}">{}</a>', url, text)


class LedgerFilter(admin.SimpleListFilter):
    """The ledger a list is narrowed to (the query parameter of the hierarchy's links)."""

    title = "ledger"
    parameter_name = "ledger__id__exact"
    limit = 100

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ledgers = Ledger.objects.without_metadata().order_by("name").only("id", "name")
        return [(str(ledger.id), ledger.name) for ledger in ledgers[: self.limit]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(ledger_id=uuid.UUID(value))
        except ValueError:
            return queryset.none()


class AssetFilter(admin.SimpleListFilter):
    """Asset codes from the assets table (small), never a DISTINCT over a big one."""

    title = "asset"
    parameter_name = "asset_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        codes = Asset.objects.order_by("code").values_list("code", flat=True).distinct()
        return [(code, code) for code in codes[:100]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(asset_code=self.value()) if self.value() else queryset


class ConsoleAdmin(UnfoldModelAdmin):
    """A list that stays fast on big tables (console/paginator.py) and exports as CSV."""

    paginator = BoundedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    change_list_template = "console/change_list.html"
    # Columns of the CSV export (field names); empty: no export.
    export_fields: tuple[str, ...] = ()
    # Indexed search: a UUID matches these fields exactly, ``key=value`` a metadata value,
    # other text these fields exactly (an alias is tried with and without its "@").
    uuid_search_fields: tuple[str, ...] = ()
    exact_search_fields: tuple[str, ...] = ()
    metadata_search = False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if not (self.uuid_search_fields or self.exact_search_fields or self.metadata_search):
            return super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return queryset, False
        conditions: list[Q] = []
        try:
            as_uuid: uuid.UUID | None = uuid.UUID(term)
        except ValueError:
            as_uuid = None
        if as_uuid is not None:
            conditions = [Q(**{name: as_uuid}) for name in self.uuid_search_fields]
        elif self.metadata_search and "=" in term:
            key, _, value = term.partition("=")
            conditions = [Q(metadata__contains={key.strip(): value.strip()})]
        else:
            variants = {term, term if term.startswith("@") else f"@{term}"}
            conditions = [
                Q(**{f"{name}__in": sorted(variants)}) for name in self.exact_search_fields
            ]
        if not conditions:
            return queryset.none(), False
        return queryset.filter(reduce(or_, conditions)), False

    # --- CSV export ---------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        extra = []
        if self.export_fields:
            extra.append(
                path(
                    "export.csv",
                    self.admin_site.admin_view(self.export_csv),
                    name=f"{opts.app_label}_{opts.model_name}_export",
                )
            )
        return extra + super().get_urls()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = dict(extra_context or {})
        opts = self.model._meta
        if self.export_fields and request.user.has_perm(groups.EXPORT):
            context["export_url"] = reverse(f"admin:{opts.app_label}_{opts.model_name}_export")
        return super().changelist_view(request, context)

    def export_csv(self, request: HttpRequest) -> StreamingHttpResponse:
        """The list as it is filtered and searched, every row (not one page), streamed."""
        if not (self.has_view_permission(request) and request.user.has_perm(groups.EXPORT)):
            audit(request, "export", self.model._meta.label, result="denied")
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.queryset
        fields = self.export_fields
        audit(
            request,
            "export",
            f"{self.model._meta.label}?{request.GET.urlencode()}",
            result="ok",
        )

        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv.writer(Echo())

        def rows() -> Iterator[str]:
            yield writer.writerow(fields)
            for row in queryset.values_list(*fields).iterator(chunk_size=EXPORT_CHUNK):
                yield writer.writerow([csv_cell(value) for value in row])

        name = self.model._meta.model_name
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}s.csv"'
        return response


# A spreadsheet opening the export runs a cell that starts with one of these as a formula
# (OWASP, "CSV Injection"): = + - @, tab and carriage return, and the full-width forms some
# spreadsheets read the same way. Such text is prefixed with a single quote, which makes it
# text again; numbers, dates and ids are written as they are (a negative amount stays a number).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


class ReadOnlyAdmin(ConsoleAdmin):
    """Money moves only through postings: these records are viewed, never added, changed or
    deleted here (the actions call the posting services)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
