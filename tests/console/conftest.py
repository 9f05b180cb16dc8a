"""Fixtures of the console tests: a funded ledger driven through the API, staff users of each
group, and Django test clients logged in as them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from tests.helpers import Api
from tests.transactions.book import Book, amt, send


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    b.account("@alice", metadata={"team": "payments"})
    b.account("@bob")
    b.fund("@alice", "1000")
    return b


def pending(book: Book, value: str = "10", description: str = "held") -> dict[str, Any]:
    body = send("USD", value, [amt("@alice", value)], [amt("@bob", value)], pending=True)
    body["description"] = description
    return book.ok(book.post(body))


def staff_client(username: str, group: str | None = None, superuser: bool = False) -> Client:
    if superuser:
        user = User.objects.create_superuser(username, f"{username}@example.com", "pw")
    else:
        user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator() -> Client:
    return staff_client("olivia", "operator")


@pytest.fixture
def viewer() -> Client:
    return staff_client("victor", "viewer")


@pytest.fixture
def root() -> Client:
    return staff_client("root", superuser=True)
