"""The record of every operator action taken in the console (who, when, what, result)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class AuditRecord(models.Model):
    """One action run from the console: a commit, cancel, revert, posting or export. Written
    whatever the outcome (a refused action records its Midaz code); never changed."""

    class Result(models.TextChoices):
        OK = "ok"
        REFUSED = "refused"
        DENIED = "denied"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The username as it was (users may be renamed or deleted; the record must not change).
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=50)
    # What the action was applied to: "transaction <id>", "ledger <id>", a list's filters.
    target = models.CharField(max_length=500)
    ledger_id = models.UUIDField(null=True, blank=True)
    transaction_id = models.UUIDField(null=True, blank=True)
    result = models.CharField(max_length=10, choices=Result.choices)
    code = models.CharField(max_length=10, blank=True, default="")
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.result}"
