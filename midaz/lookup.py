"""Fetching one row for a request: a miss on the replica is retried on the primary before the
answer is 404, so a row written a moment ago by another request is never reported missing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet

from midaz.db_router import PRIMARY, read_alias
from midaz.exceptions import Conflict, not_found

M = TypeVar("M", bound=Model)


def get_or_404(qs: QuerySet[M], *, code: str, entity_type: str, **filters: Any) -> M:
    missing: type[Exception] = qs.model.DoesNotExist  # type: ignore[attr-defined]
    try:
        return qs.get(**filters)
    except missing:
        if read_alias() != PRIMARY:
            try:
                return qs.using(PRIMARY).get(**filters)
            except missing:
                pass
    raise not_found(code, entity_type)


@contextmanager
def conflicts(mapping: Mapping[str, tuple[str, str, str]]) -> Iterator[None]:
    """Turn a unique-constraint violation into its Midaz conflict error.

    ``mapping``: constraint name -> (code, entity type, message). The block runs in a savepoint,
    so the surrounding transaction stays usable.
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        diag = getattr(exc.__cause__, "diag", None)
        name = getattr(diag, "constraint_name", None)
        if name is not None and name in mapping:
            code, entity, message = mapping[name]
            raise Conflict(message, code=code, entity_type=entity) from exc
        raise
