"""``Authorization: Bearer <key>`` for the API (DRF authentication and permission classes).

On when ``AUTH_ENABLED`` (the default outside the embedded development default). Missing
credentials are 401 ``0041``, a key that is unknown, revoked or expired is 401 ``0042``, and a
key used outside its organizations or a read-only key used to write is 403 ``0043``.

The key is looked up on the primary on every request, so a revoked key stops working at once
(a cache would keep it alive until its entry expired). The lookup is one indexed query.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from access.models import ApiKey, digest_of

# A key is ``mdz_`` and 43 URL-safe characters; anything far longer is not one of ours.
_MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Grant:
    """What the key of a request may do; ``organizations`` is None for every organization."""

    key_id: uuid.UUID
    name: str
    can_write: bool
    organizations: frozenset[uuid.UUID] | None

    def covers(self, organization_id: uuid.UUID) -> bool:
        return self.organizations is None or organization_id in self.organizations


class NotAuthenticated(exceptions.NotAuthenticated):
    """No credentials: Midaz's 0041."""


class InvalidToken(exceptions.AuthenticationFailed):
    """Credentials that are not a usable key: Midaz's 0042."""


# One statement, written out: the ORM's compile of the same query (an aggregate over the
# organizations) cost 2.5 ms per request against 0.6 ms for this (bench/auth_cost.py).
_LOOKUP = """
SELECT k.id, k.name, k.scope, k.all_organizations,
       ARRAY(SELECT o.organization_id FROM {through} o WHERE o.apikey_id = k.id)
  FROM {keys} k
 WHERE k.digest = %s AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
"""


def _grant_for(key: str) -> Grant | None:
    sql = _LOOKUP.format(
        keys=ApiKey._meta.db_table, through=ApiKey.organizations.through._meta.db_table
    )
    with connections["default"].cursor() as cursor:
        cursor.execute(sql, [digest_of(key)])
        row = cursor.fetchone()
    if row is None:
        return None
    key_id, name, scope, everything, orgs = row
    organizations = None if everything else frozenset(orgs)
    return Grant(key_id, name, scope == ApiKey.READ_WRITE, organizations)


class BearerKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[None, Grant] | None:
        if not settings.AUTH_ENABLED:
            return None
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            raise NotAuthenticated("The Authorization header is missing: send 'Bearer <key>'.")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise InvalidToken("The Authorization header must be 'Bearer <key>'.")
        if len(key) > _MAX_KEY_LENGTH or "\x00" in key:
            raise InvalidToken("The API key is not valid.")
        grant = _grant_for(key)
        if grant is None:
            raise InvalidToken("The API key is not valid, or it was revoked or has expired.")
        return (None, grant)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="midaz"'


def _organization_in_path(view: Any) -> str | None:
    kwargs = getattr(view, "kwargs", None) or {}
    if "organization_id" in kwargs:
        return str(kwargs["organization_id"])
    return getattr(view, "organization_kwarg", None) and kwargs.get(view.organization_kwarg)


class KeyScopePermission(BasePermission):
    """Read-only keys only read; a key reaches only its organizations; routes outside any
    organization (creating one, the metadata-index settings) need an all-organizations key.
    Listing organizations is allowed to every key and shows only its own (``visible``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not settings.AUTH_ENABLED:
            return True
        grant = request.auth
        if not isinstance(grant, Grant):
            raise NotAuthenticated("The Authorization header is missing: send 'Bearer <key>'.")
        if request.method not in SAFE_METHODS and not grant.can_write:
            raise exceptions.PermissionDenied("This API key is read-only.")
        raw = _organization_in_path(view)
        if raw is None:
            if grant.organizations is None or (
                getattr(view, "lists_organizations", False) and request.method in SAFE_METHODS
            ):
                return True
            raise exceptions.PermissionDenied(
                "This route is outside any organization; it needs an all-organizations key."
            )
        try:
            organization_id = uuid.UUID(raw)
        except ValueError:
            return True  # the view answers 0065 before it reads anything
        if not grant.covers(organization_id):
            raise exceptions.PermissionDenied("This API key does not cover this organization.")
        return True


def visible(request: Request, organizations: QuerySet[Any]) -> QuerySet[Any]:
    """The organizations the request's key may see (all of them with auth off)."""
    grant = getattr(request, "auth", None)
    if isinstance(grant, Grant) and grant.organizations is not None:
        return organizations.filter(pk__in=grant.organizations)
    return organizations
