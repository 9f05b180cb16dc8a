"""A thin JSON client for the API and builders of valid request bodies."""

from __future__ import annotations

from typing import Any

import orjson
from django.test import Client
from uuid_utils.compat import uuid7

V1 = "/v1"


class Api:
    """Sends JSON to the ledger through Django's test client and decodes the answers."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None, **headers: str
    ) -> Any:
        data = raw if raw is not None else (orjson.dumps(body) if body is not None else b"")
        return self.client.generic(
            method, V1 + path, data=data, content_type="application/json", headers=headers
        )

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(V1 + path, params)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def head(self, path: str, **params: Any) -> Any:
        return self.client.head(V1 + path, params)

    # --- builders of valid entities -------------------------------------------------------

    def ok(self, response: Any, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.content
        return orjson.loads(response.content)

    def create_organization(self, **fields: Any) -> dict[str, Any]:
        body = {"legalName": "Acme Payments Ltd.", "legalDocument": "12345678901234", **fields}
        return self.ok(self.post("/organizations", body), 201)

    def create_ledger(self, organization_id: str, **fields: Any) -> dict[str, Any]:
        body = {"name": f"ledger-{uuid7()}", **fields}
        return self.ok(self.post(f"/organizations/{organization_id}/ledgers", body), 201)

    def create_asset(
        self, ledger: dict[str, Any], code: str = "USD", **fields: Any
    ) -> dict[str, Any]:
        body = {"name": f"asset {code}", "type": "currency", "code": code, **fields}
        return self.ok(self.post(ledger_path(ledger, "/assets"), body), 201)

    def create_account(self, ledger: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body = {"assetCode": "USD", "type": "deposit", **fields}
        return self.ok(self.post(ledger_path(ledger, "/accounts"), body), 201)


def ledger_path(ledger: dict[str, Any], suffix: str = "") -> str:
    return f"/organizations/{ledger['organizationId']}/ledgers/{ledger['id']}{suffix}"


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The answer is a Midaz error with this status and code, in the documented shape."""
    body = orjson.loads(response.content)
    assert response.status_code == status, (response.status_code, body)
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["title"]
    assert body["message"] == body["detail"]
    assert body["type"].endswith(code)
    return body
