"""The console's dashboard (the admin index): how big the ledger is, what it did over the
last 30 days, what waits to be settled and what was posted last.

Every query is cheap on a ledger with millions of rows:
- organizations and ledgers are counted exactly (small tables);
- accounts and transactions are counted exactly up to ``CAP`` rows (a bounded COUNT), beyond
  that PostgreSQL's estimate (``pg_class.reltuples``) is shown, marked "≈";
- the 30-day series is one GROUP BY over a ``created_at`` range, read through the BRIN index
  ``transaction_created_brin`` and cached for CONSOLE_DASHBOARD_CACHE_SECONDS;
- pending transactions are read through the partial index ``transaction_pending``;
- the latest transactions are the last ids of the primary key (UUIDv7: time order).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from console.paginator import CAP, estimated_rows
from onboarding.models import Account, Ledger, Organization
from transactions.models import Transaction

DAYS = 30
LATEST = 10
MAX_ASSET_CHARTS = 4
CACHE_KEY = "console:dashboard:series:v1"


@dataclass(frozen=True)
class Tile:
    label: str
    value: int
    estimated: bool
    url: str

    @property
    def shown(self) -> str:
        return f"≈{self.value:,}" if self.estimated else f"{self.value:,}"


def bounded_count(queryset: Any, model: Any) -> tuple[int, bool]:
    """Exact up to CAP rows; past it, the table's estimate (and True)."""
    exact = queryset.order_by()[: CAP + 1].count()
    if exact <= CAP:
        return exact, False
    return max(estimated_rows(model), exact), True


def _days(today: date) -> list[date]:
    return [today - timedelta(days=DAYS - 1 - n) for n in range(DAYS)]


def series(now: datetime) -> dict[str, Any]:
    """Transactions per day and approved volume per asset and day over the last 30 days."""
    today = timezone.localdate(now)
    since = datetime.combine(today - timedelta(days=DAYS - 1), datetime.min.time())
    since = timezone.make_aware(since)
    rows = (
        Transaction.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "asset_code", "status")
        .annotate(n=Count("id"), volume=Sum("amount"))
        .order_by()
    )
    per_day: dict[date, int] = {}
    volume: dict[str, dict[date, Decimal]] = {}
    for row in rows:
        per_day[row["day"]] = per_day.get(row["day"], 0) + row["n"]
        if row["status"] == Transaction.Status.APPROVED:
            by_day = volume.setdefault(row["asset_code"], {})
            by_day[row["day"]] = by_day.get(row["day"], Decimal(0)) + (row["volume"] or 0)
    days = _days(today)
    return {
        "days": [d.isoformat() for d in days],
        "per_day": [per_day.get(d, 0) for d in days],
        "volume": {
            asset: [str(by_day.get(d, Decimal(0))) for d in days]
            for asset, by_day in volume.items()
        },
    }


def cached_series(now: datetime) -> dict[str, Any]:
    seconds = getattr(settings, "CONSOLE_DASHBOARD_CACHE_SECONDS", 60)
    if seconds <= 0:
        return series(now)
    try:
        found = cache.get(CACHE_KEY)
    except Exception:  # a cache that does not answer must not break the page
        found = None
    if found is None:
        found = series(now)
        with contextlib.suppress(Exception):  # the page works without the cache
            cache.set(CACHE_KEY, found, seconds)
    return found


def _number(value: Decimal) -> str:
    """Compact: 1.2M, 34.5k, 12.34."""
    for size, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(1000), "k")):
        if abs(value) >= size:
            return f"{(value / size):.1f}{suffix}"
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:.2f}"


def bar_chart(
    days: list[str], values: list[Decimal], *, title: str, width: int = 640, height: int = 180
) -> SafeString:
    """An inline SVG bar chart, one bar per day, with its maximum and first/last dates."""
    pad_left, pad_bottom, pad_top = 44, 22, 12
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    highest = max(values, default=Decimal(0))
    top = highest if highest > 0 else Decimal(1)
    step = plot_w / max(len(values), 1)
    bars = []
    for i, value in enumerate(values):
        h = float(value / top) * plot_h if top else 0.0
        x = pad_left + i * step + 1
        y = pad_top + plot_h - h
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" rx="2"><title>{escape(days[i])}: {escape(_number(value))}'
            "</title></rect>"
        )
    axis_y = pad_top + plot_h
    svg = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<line class="axis" x1="{pad_left}" y1="{axis_y}" x2="{width - 8}" y2="{axis_y}"/>'
        f'<line class="grid" x1="{pad_left}" y1="{pad_top}" x2="{width - 8}" y2="{pad_top}"/>'
        f'<text class="label" x="{pad_left - 6}" y="{pad_top + 4}" text-anchor="end">'
        f"{escape(_number(highest))}</text>"
        f'<text class="label" x="{pad_left - 6}" y="{axis_y}" text-anchor="end">0</text>'
        + "".join(bars)
        + f'<text class="label" x="{pad_left}" y="{height - 6}">{escape(days[0][5:])}</text>'
        f'<text class="label" x="{width - 8}" y="{height - 6}" text-anchor="end">'
        f"{escape(days[-1][5:])}</text></svg>"
    )
    return mark_safe(svg)  # noqa: S308 - every text above is escaped


def _changelist(model: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def dashboard(now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    accounts, accounts_estimated = bounded_count(Account.objects.all(), Account)
    transactions, transactions_estimated = bounded_count(Transaction.objects.all(), Transaction)
    pending_qs = Transaction.objects.filter(status=Transaction.Status.PENDING)
    pending, pending_estimated = pending_qs.order_by()[: CAP + 1].count(), False
    if pending > CAP:
        pending, pending_estimated = CAP, True
    tx_url = _changelist(Transaction)
    tiles = [
        Tile("Organizations", Organization.objects.count(), False, _changelist(Organization)),
        Tile("Ledgers", Ledger.objects.count(), False, _changelist(Ledger)),
        Tile("Accounts", accounts, accounts_estimated, _changelist(Account)),
        Tile("Transactions", transactions, transactions_estimated, tx_url),
        Tile("Pending", pending, pending_estimated, f"{tx_url}?status__exact=PENDING"),
    ]
    data = cached_series(now)
    days = data["days"]
    per_day: list[Decimal] = [Decimal(n) for n in data["per_day"]]
    totals: dict[str, Decimal] = {
        asset: sum((Decimal(v) for v in values), Decimal(0))
        for asset, values in data["volume"].items()
    }
    top_assets = sorted(totals, key=lambda a: (-totals[a], a))[:MAX_ASSET_CHARTS]
    volume_charts = [
        {
            "asset": asset,
            "total": _number(totals[asset]),
            "svg": bar_chart(
                days,
                [Decimal(v) for v in data["volume"][asset]],
                title=f"{asset} approved volume per day",
                width=420,
                height=150,
            ),
        }
        for asset in top_assets
    ]
    latest = list(
        Transaction.objects.without_metadata()
        .select_related("ledger")
        .only("id", "status", "amount", "asset_code", "description", "created_at", "ledger__name")
        .order_by("-id")[:LATEST]
    )
    waiting = list(
        pending_qs.without_metadata()
        .select_related("ledger")
        .only("id", "amount", "asset_code", "description", "created_at", "ledger__name")
        .order_by("created_at")[:LATEST]
    )
    return {
        "tiles": tiles,
        "days": DAYS,
        "per_day_total": int(sum(per_day)),
        "per_day_chart": bar_chart(days, per_day, title="Transactions per day"),
        "volume_charts": volume_charts,
        "latest": latest,
        "waiting": waiting,
        "transaction_url": tx_url,
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """UNFOLD["DASHBOARD_CALLBACK"]: the admin index's context."""
    if request.user.has_perm("transactions.view_transaction"):
        context["dashboard"] = dashboard()
    return context
