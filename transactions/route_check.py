"""Postings held to the ledger's accounting routes (SEMANTICS.md §11), when the ledger setting
``accounting.validateRoutes`` is on.

The checks run in Midaz's order, before the database is touched: the transaction route (0114,
0115, 0105), its operation routes for the action (0157), a route on every entry (0117), the
set of routes used (0116, 0151), then leg by leg the route's side (0117, 0152) and its account
rule (0118, 0119). The answer gives each leg the rubric (code and description) of its
route for the action, which its operations carry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch

from midaz import context
from midaz.exceptions import BusinessRuleViolation, LedgerError, ValidationFailed, not_found
from onboarding import alias_directory
from transactions.models import OperationRoute, TransactionRoute
from transactions.resolve import Leg
from transactions.spec import TransactionSpec

DIRECT, HOLD, COMMIT, CANCEL, REVERT = "direct", "hold", "commit", "cancel", "revert"
_SOURCE_TYPES = {OperationRoute.Type.SOURCE, OperationRoute.Type.BIDIRECTIONAL}
_DESTINATION_TYPES = {OperationRoute.Type.DESTINATION, OperationRoute.Type.BIDIRECTIONAL}


@dataclass(frozen=True)
class Rubric:
    route_id: uuid.UUID
    code: str | None
    description: str | None
    # The route's ``overdraft`` entries ({"debit": {code, description}, "credit": ...}): the
    # rubrics of the leg's overdraft companion; a companion without one is refused (0492).
    overdraft: dict[str, Any] | None = None


def _refuse(code: str, message: str) -> LedgerError:
    return BusinessRuleViolation(message, code=code, entity_type="Transaction")


def transaction_route(ledger_id: Any, spec: TransactionSpec) -> TransactionRoute:
    """The route a posting names by ``routeId``, else by its legacy ``route`` (a UUID)."""
    route_id = spec.route_id
    if route_id is None and spec.route:
        try:
            route_id = uuid.UUID(spec.route)
        except ValueError:
            raise ValidationFailed(
                "route must be the id of a transaction route.",
                code="0115",
                entity_type="Transaction",
            ) from None
    if route_id is None:
        raise _refuse("0114", "This ledger validates routes: name a transaction route (routeId).")
    found = (
        TransactionRoute.objects.without_metadata()
        .filter(ledger_id=ledger_id, pk=route_id)
        .prefetch_related(
            Prefetch("operation_routes", queryset=OperationRoute.objects.without_metadata())
        )
        .first()
    )
    if found is None:
        raise not_found("0105", "TransactionRoute", "The transaction route was not found.")
    return found


def _entries(route: OperationRoute, action: str) -> dict[str, Any] | None:
    entries = (route.accounting_entries or {}).get(action)
    return entries if isinstance(entries, dict) else None


def check(
    *,
    ledger_id: Any,
    spec: TransactionSpec,
    sources: Iterable[Leg],
    destinations: Iterable[Leg],
    action: str,
) -> dict[tuple[bool, int], Rubric]:
    """Checks a posting against its transaction route for ``action`` (direct, hold, commit,
    cancel or revert). Returns the rubric of each leg, keyed by (is_source, index)."""
    sources, destinations = list(sources), list(destinations)
    with on_primary():
        return _check(ledger_id, spec, sources, destinations, action)


@contextmanager
def on_primary() -> Iterator[None]:
    """Every read in the block goes to the primary: the routes and account types decide what
    a posting does, and a lagging replica may still show a deleted route or account (and the
    alias cache would keep what it read)."""
    token = context.pinned_to_primary.set(True)
    try:
        yield
    finally:
        context.pinned_to_primary.reset(token)


def _check(
    ledger_id: Any, spec: TransactionSpec, sources: list[Leg], destinations: list[Leg], action: str
) -> dict[tuple[bool, int], Rubric]:
    route = transaction_route(ledger_id, spec)
    live = [r for r in route.operation_routes.all() if r.deleted_at is None]
    # A pending hold books its destinations at commit: their routes come from commit.
    source_action = action
    destination_action = COMMIT if action == HOLD else action
    source_routes = {
        r.id: r for r in live if r.operation_type in _SOURCE_TYPES and _entries(r, source_action)
    }
    destination_routes = {
        r.id: r
        for r in live
        if r.operation_type in _DESTINATION_TYPES and _entries(r, destination_action)
    }
    if not source_routes and not destination_routes:
        raise _refuse("0157", f"The transaction route has no operation routes for {action}.")
    check_destinations = action != CANCEL
    for leg in sources + (destinations if check_destinations else []):
        if leg.entry.route_id is None:
            side = "source" if leg.is_source else "destination"
            raise _refuse("0117", f"The {side} {leg.entry.account_alias} names no routeId.")
    if check_destinations:
        used_from = {leg.entry.route_id for leg in sources}
        used_to = {leg.entry.route_id for leg in destinations}
        configured = set(source_routes) | set(destination_routes)
        source_only = set(source_routes) - set(destination_routes)
        destination_only = set(destination_routes) - set(source_routes)
        if (
            (used_from | used_to) != configured
            or not source_only <= used_from
            or not destination_only <= used_to
        ):
            raise _refuse("0116", "The routes of the entries do not match the transaction route's.")
        for shared in set(source_routes) & set(destination_routes):
            if (shared in used_from) != (shared in used_to):
                raise _refuse(
                    "0151", "A bidirectional route needs both a debit and a credit entry."
                )
    types = _account_types(
        ledger_id, sources + destinations, {**source_routes, **destination_routes}
    )
    rubrics: dict[tuple[bool, int], Rubric] = {}
    for leg in sources + (destinations if check_destinations else []):
        allowed = source_routes if leg.is_source else destination_routes
        other = destination_routes if leg.is_source else source_routes
        route_id = leg.entry.route_id
        assert route_id is not None
        operation_route = allowed.get(route_id)
        if operation_route is None:
            if route_id in other:
                raise _refuse(
                    "0152",
                    f"The route of {leg.entry.account_alias} is for the other side of a posting.",
                )
            raise _refuse(
                "0117", f"The route of {leg.entry.account_alias} is not part of this posting."
            )
        _check_account(operation_route, leg.entry.account_alias, types)
        side = "debit" if leg.is_source else "credit"
        entry = (
            _entries(operation_route, source_action if leg.is_source else destination_action) or {}
        ).get(side) or {}
        rubrics[(leg.is_source, leg.index)] = Rubric(
            route_id=route_id,
            code=entry.get("code"),
            description=entry.get("description"),
            overdraft=_entries(operation_route, "overdraft"),
        )
    return rubrics


def _account_types(
    ledger_id: Any, legs: list[Leg], routes: dict[uuid.UUID, OperationRoute]
) -> dict[str, str]:
    """The account types that an ``account_type`` rule of the legs' routes needs (through the
    alias cache); none asked when no route has such a rule."""
    aliases = {
        leg.entry.account_alias
        for leg in legs
        if leg.entry.route_id in routes
        and (routes[leg.entry.route_id].account or {}).get("ruleType") == "account_type"
    }
    return alias_directory.account_types(ledger_id, aliases) if aliases else {}


def _check_account(route: OperationRoute, alias: str, types: dict[str, str]) -> None:
    rule = route.account or {}
    kind, valid_if = rule.get("ruleType"), rule.get("validIf")
    if kind is None:
        return
    # The API checks a rule when the route is written (0111, 0112); one changed by other means
    # (the admin, SQL) that is not alias + string or account_type + list of strings is 0113.
    well_formed = (kind == "alias" and isinstance(valid_if, str)) or (
        kind == "account_type"
        and isinstance(valid_if, list)
        and all(isinstance(v, str) for v in valid_if)
    )
    if not well_formed:
        raise _refuse("0113", f"The account rule of the route of {alias} is not valid.")
    if kind == "alias" and alias != valid_if:
        raise _refuse("0118", f"The route accepts only {valid_if}, not {alias}.")
    if kind == "account_type" and types.get(alias) not in (valid_if or []):
        raise _refuse("0119", f"The account type of {alias} is not one the route accepts.")


def check_revert(route_ids: Iterable[uuid.UUID | None]) -> None:
    """A transaction can be reverted only along bidirectional routes (0150)."""
    ids = {r for r in route_ids if r is not None}
    if not ids:
        return
    if (
        OperationRoute.all_objects.filter(pk__in=ids)
        .exclude(operation_type=OperationRoute.Type.BIDIRECTIONAL)
        .exists()
    ):
        raise _refuse("0150", "The transaction used a route that is not bidirectional.")
