"""List query parameters (MIDAZ_API.md §1.11): limit/page, cursors, sort order, date windows
and ``metadata.<key>`` filters, with the errors 0078, 0080, 0081, 0082, 0083 and 0131."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, TypeVar

import orjson
from django.conf import settings
from django.db.models import QuerySet
from django.http import QueryDict

from midaz import metadata as metadata_store
from midaz.exceptions import ValidationFailed

NAME_FILTER_MAX = 256


class HasId(Protocol):
    id: uuid.UUID


M = TypeVar("M", bound=Any)


@dataclass(frozen=True)
class Cursor:
    id: uuid.UUID
    forward: bool

    def encode(self) -> str:
        payload = {"id": str(self.id), "direction": "next" if self.forward else "prev"}
        return base64.b64encode(orjson.dumps(payload)).decode()


@dataclass
class ListQuery:
    limit: int = 10
    page: int = 1
    cursor: Cursor | None = None
    descending: bool = False
    start: datetime | None = None
    end: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    params: QueryDict = field(default_factory=QueryDict)

    def text(self, name: str) -> str | None:
        """A free-text filter, trimmed; None when absent or blank."""
        value = self.params.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def prefix(self, name: str) -> str | None:
        """A name-like prefix filter (trimmed, at most 256 characters)."""
        value = self.text(name)
        if value is not None and len(value) > NAME_FILTER_MAX:
            raise bad_query(f"The filter '{name}' is longer than {NAME_FILTER_MAX} characters.")
        return value

    def uuid(self, name: str) -> uuid.UUID | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            raise bad_query(f"The query parameter '{name}' must be a UUID.") from None

    def choice(self, name: str, allowed: Sequence[str]) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        value = value.upper()
        if value not in allowed:
            raise bad_query(f"The query parameter '{name}' must be one of {', '.join(allowed)}.")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered in {"true", "1"}:
            return True
        if lowered in {"false", "0"}:
            return False
        raise bad_query(f"The query parameter '{name}' must be true or false.")


def bad_query(message: str, code: str = "0082") -> ValidationFailed:
    return ValidationFailed(message, code=code)


# How deep an offset page may reach: the last row of a page, ``page * limit``, is at most
# this many rows from the start. PostgreSQL reads and throws away every row before the offset,
# so a deep offset page costs a scan of the ledger; past this bound a list answers 400 0082
# (cursor pagination, where a route has it, goes any depth at the same cost per page).
MAX_OFFSET_ROWS = 10_000

# The longest page or limit number read: anything longer is refused before int() is called.
_MAX_INT_DIGITS = 9


def _positive_int(params: QueryDict, name: str, default: int) -> int:
    """A positive decimal integer of at most nine ASCII digits (``page=99999999999999999999``,
    Arabic-Indic digits, ``page=1_0``, ``page=+1`` are 400 0082)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_INT_DIGITS:
        raise bad_query(f"The query parameter '{name}' must be a positive integer.")
    value = int(text)
    if value <= 0:
        raise bad_query(f"The query parameter '{name}' must be a positive integer.")
    return value


def _parse_cursor(raw: str) -> Cursor:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        payload = orjson.loads(base64.b64decode(padded, validate=False))
        cursor_id = uuid.UUID(str(payload["id"]))
        if "direction" in payload:
            if payload["direction"] not in {"next", "prev"}:
                raise ValueError("bad direction")
            forward = payload["direction"] == "next"
        else:
            forward = bool(payload["points_next"])
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise bad_query("The cursor is not valid.") from None
    return Cursor(cursor_id, forward)


def _parse_date(raw: str, *, end: bool) -> datetime:
    raw = raw.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise bad_query("Dates must be 'yyyy-mm-dd' or 'yyyy-mm-dd hh:mm:ss'.", code="0131")
    moment = datetime.combine(day, time.max if end else time.min)
    return moment.replace(tzinfo=UTC)


def parse_list_query(params: QueryDict, *, default_window: bool = False) -> ListQuery:
    """Read the common list parameters. ``default_window`` applies the transactions/operations
    default date range when neither date is given. ``page`` and ``limit`` are positive integers
    of at most nine digits (0082), ``limit`` at most MAX_PAGINATION_LIMIT (0080), and an offset
    page reaches at most ``MAX_OFFSET_ROWS`` (10,000) rows: ``page * limit`` beyond it is 0082."""
    for key, values in params.lists():
        if any("\x00" in text for text in (key, *values)):
            # PostgreSQL text cannot hold NUL: a filter carrying one would fail in the query.
            raise bad_query("A query parameter contains a NUL character.")
    limit = _positive_int(params, "limit", 10)
    if limit > settings.MAX_PAGINATION_LIMIT:
        raise bad_query(f"The limit must be at most {settings.MAX_PAGINATION_LIMIT}.", code="0080")
    page = _positive_int(params, "page", 1)
    if page * limit > MAX_OFFSET_ROWS:
        raise bad_query(
            f"A page may reach at most {MAX_OFFSET_ROWS} rows (page x limit); "
            "narrow the list with filters or a date range."
        )
    sort = (params.get("sort_order") or "asc").lower()
    if sort not in {"asc", "desc"}:
        raise bad_query("sort_order must be 'asc' or 'desc'.", code="0081")
    raw_cursor = params.get("cursor")
    cursor = _parse_cursor(raw_cursor) if raw_cursor else None

    raw_start, raw_end = params.get("start_date"), params.get("end_date")
    start = end = None
    if bool(raw_start) != bool(raw_end):
        raise bad_query("start_date and end_date must be given together.", code="0083")
    if raw_start and raw_end:
        start = _parse_date(raw_start, end=False)
        end = _parse_date(raw_end, end=True)
        if start > end:
            raise bad_query("start_date must not be after end_date.", code="0078")
    elif default_window:
        start, end = default_date_window()

    metadata: dict[str, str] = {
        key[len("metadata.") :]: str(value)
        for key, value in params.items()
        if key.startswith("metadata.") and len(key) > len("metadata.")
    }
    return ListQuery(
        limit=limit,
        page=page,
        cursor=cursor,
        descending=sort == "desc",
        start=start,
        end=end,
        metadata=metadata,
        params=params,
    )


def default_date_window() -> tuple[datetime | None, datetime]:
    today = datetime.now(UTC).date()
    end = datetime.combine(today, time.max).replace(tzinfo=UTC)
    months = settings.MAX_PAGINATION_MONTH_DATE_RANGE
    if months <= 0:
        return None, end
    year, month = today.year, today.month - months
    while month <= 0:
        month += 12
        year -= 1
    day = min(today.day, 28)
    start = datetime(year, month, day, tzinfo=UTC) - timedelta(days=0)
    return start, end


def filter_common(qs: QuerySet[M], query: ListQuery) -> QuerySet[M]:
    """Date range on ``created_at`` (inclusive) and ``metadata.<key>`` exact matches."""
    if query.start is not None:
        qs = qs.filter(created_at__gte=query.start)
    if query.end is not None:
        qs = qs.filter(created_at__lte=query.end)
    if query.metadata:
        qs = metadata_store.store().filter(qs, query.metadata)
    return qs


def offset_page(qs: QuerySet[M], query: ListQuery) -> dict[str, Any]:
    """An offset page ordered by id: ``{"items", "limit", "page"}`` (items not yet rendered)."""
    ordered = qs.order_by("-id" if query.descending else "id")
    offset = (query.page - 1) * query.limit
    return {
        "items": list(ordered[offset : offset + query.limit]),
        "limit": query.limit,
        "page": query.page,
    }


def cursor_page(qs: QuerySet[M], query: ListQuery) -> dict[str, Any]:
    """A keyset page on id: ``{"items", "limit", "next_cursor"?, "prev_cursor"?}``."""
    cursor = query.cursor
    forward = cursor is None or cursor.forward
    if cursor is not None:
        after = forward != query.descending  # moving towards larger ids
        qs = qs.filter(id__gt=cursor.id) if after else qs.filter(id__lt=cursor.id)
    order_desc = query.descending if forward else not query.descending
    rows = list(qs.order_by("-id" if order_desc else "id")[: query.limit + 1])
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    if not forward:
        rows.reverse()
    has_next = has_more if forward else True
    has_prev = cursor is not None if forward else has_more
    page: dict[str, Any] = {"items": rows, "limit": query.limit}
    if rows and has_next:
        page["next_cursor"] = Cursor(rows[-1].id, True).encode()
    if rows and has_prev:
        page["prev_cursor"] = Cursor(rows[0].id, False).encode()
    return page
