"""API keys: the credentials of ``Authorization: Bearer <key>``.

A key is shown once, when it is made; only its SHA-256 digest is stored. SHA-256 (not a slow
password hash) is right here: a key is 256 random bits, so there is nothing to guess, and the
digest is looked up on every request. A key is scoped to organizations (or to all of them)
and is read-only or read-write.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.db import models
from django.utils import timezone
from uuid_utils.compat import uuid7

KEY_PREFIX = "mdz_"
# What is kept in clear to tell keys apart in lists: ``mdz_`` and 8 characters of the secret.
SHOWN_LENGTH = len(KEY_PREFIX) + 8


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class ApiKey(models.Model):
    READ = "read"
    READ_WRITE = "read-write"
    SCOPES = [(READ, "read only"), (READ_WRITE, "read and write")]

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200, help_text="Who or what uses the key.")
    prefix = models.CharField(max_length=SHOWN_LENGTH, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scope = models.CharField(max_length=16, choices=SCOPES, default=READ)
    all_organizations = models.BooleanField(
        default=False,
        help_text="Every organization, present and future, and the routes outside them "
        "(creating organizations, metadata-index settings).",
    )
    organizations = models.ManyToManyField(
        "onboarding.Organization", blank=True, related_name="api_keys"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def issue(self) -> str:
        """Give the (unsaved) key its secret; returns the key, which is never stored."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.prefix = key[:SHOWN_LENGTH]
        self.digest = digest_of(key)
        return key

    @property
    def can_write(self) -> bool:
        return self.scope == self.READ_WRITE

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
