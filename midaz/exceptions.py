"""Domain errors. Every failure the ledger reports carries a Midaz code (MIDAZ_API.md §7); one
handler (``midaz.api.errors``) turns them into the wire format of DESIGN.md §9."""

from __future__ import annotations

from typing import Any

from midaz.error_codes import CATALOG


class LedgerError(Exception):
    """A failure with a Midaz code. The HTTP status and title come from the catalog."""

    code: str = "0046"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        entity_type: str | None = None,
        fields: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        entry = CATALOG[self.code]
        self.status = status or entry.status
        self.title = entry.title
        self.message = message or entry.title
        self.entity_type = entity_type
        self.fields = fields
        super().__init__(f"{self.code} {self.message}")

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "title": self.title,
            "message": self.message,
            "type": f"https://errors.lerian.studio/v1/{self.code}",
            "status": self.status,
            "detail": self.message,
        }
        if self.entity_type:
            body["entityType"] = self.entity_type
        if self.fields:
            body["fields"] = self.fields
        return body


class NotFound(LedgerError):
    """The entity does not exist in this scope (or was deleted). Give the entity's own code."""

    code = "0007"


class ValidationFailed(LedgerError):
    """The request body or query failed validation (0009, 0047, 0053, 0094, ...)."""

    code = "0047"


class Conflict(LedgerError):
    """A uniqueness rule was broken (0002, 0003, 0015, 0020, 0108, ...)."""

    code = "0001"


class BusinessRuleViolation(LedgerError):
    """A well-formed request that the ledger's rules refuse (422 family)."""

    code = "0008"


def not_found(code: str, entity_type: str, message: str | None = None) -> NotFound:
    return NotFound(message, code=code, entity_type=entity_type)
