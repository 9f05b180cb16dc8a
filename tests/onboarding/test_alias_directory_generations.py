"""A slow alias reader cannot put a deleted account back into Valkey: it read PostgreSQL before
the deletion and writes after ``forget`` dropped the entry; the entry it writes carries the
generation it read before, which ``forget`` replaced, so the next lookup ignores it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches

from onboarding import alias_directory
from onboarding.models import Account
from tests.helpers import Api, ledger_path

pytestmark = pytest.mark.django_db


class _SlowRead:
    """Stands for ``Account.objects``: its rows were read before the account's deletion, and
    the deletion (with its ``forget``) completes while the reader is still on its way."""

    def __init__(self, rows: list[tuple[str, Any, str]], meanwhile: Any) -> None:
        self.rows, self.meanwhile = rows, meanwhile

    def using(self, *_: Any) -> _SlowRead:
        return self

    def filter(self, **_: Any) -> _SlowRead:
        return self

    def values_list(self, *_: Any) -> _SlowRead:
        return self

    def __iter__(self) -> Iterator[tuple[str, Any, str]]:
        self.meanwhile()
        return iter(self.rows)


def test_a_reader_slower_than_a_deletion_caches_nothing_for_good(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    account = api.create_account(ledger, alias="@alice", type="deposit")
    stale = [("@alice", account["id"], "deposit")]

    def delete() -> None:
        path = ledger_path(ledger, f"/accounts/{account['id']}")
        assert api.delete(path).status_code == 204

    class Stub:
        objects = _SlowRead(stale, delete)

    with monkeypatch.context() as patched:
        patched.setattr(alias_directory, "Account", Stub)
        # The slow reader answers what it read (the account was alive when it read).
        assert alias_directory.account_types(ledger["id"], ["@alice"]) == {"@alice": "deposit"}
    assert not Account.objects.filter(pk=account["id"]).exists()
    # Whatever it wrote to Valkey, the next lookup asks PostgreSQL: the account is gone.
    assert alias_directory.account_types(ledger["id"], ["@alice"]) == {}
    # And a new account of that alias is seen with its own type.
    api.create_account(ledger, alias="@alice", type="savings")
    assert alias_directory.account_types(ledger["id"], ["@alice"]) == {"@alice": "savings"}
    assert alias_directory.account_types(ledger["id"], ["@alice"]) == {"@alice": "savings"}


def test_an_entry_of_a_past_generation_is_ignored(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], django_assert_num_queries: Any
) -> None:
    api.create_account(ledger, alias="@bob", type="deposit")
    alias_directory.account_types(ledger["id"], ["@bob"])
    key = alias_directory._key(ledger["id"], "@bob")
    old = caches["default"].get(key)
    alias_directory.forget(ledger["id"], "@bob")
    caches["default"].set(key, {**old, "type": "forged"})  # written under the old generation
    with django_assert_num_queries(1):
        assert alias_directory.account_types(ledger["id"], ["@bob"]) == {"@bob": "deposit"}
    with django_assert_num_queries(0):  # cached again, under the new generation
        assert alias_directory.account_types(ledger["id"], ["@bob"]) == {"@bob": "deposit"}
