"""``manage.py purge_expired_keys``: expired idempotency and bulk records go, live ones stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.helpers import Api
from tests.transactions.book import Book
from transactions.models import BulkRecord, IdempotencyRecord

pytestmark = pytest.mark.django_db


def test_purge_deletes_only_expired_records(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    book = Book(api, ledger)
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    for n in range(5):
        book.ok(book.transfer("@alice", "@bob", "1", description=f"payment {n}"))
    book.ok(book.transfer("@alice", "@bob", "1", headers={"X-Idempotency": "keep-me"}))
    book.ok(
        api.post(
            book.path("/transactions/bulk"),
            {
                "transactions": [
                    {
                        "send": {
                            "asset": "USD",
                            "value": "1",
                            "distribute": {
                                "to": [
                                    {
                                        "accountAlias": "@bob",
                                        "amount": {"asset": "USD", "value": "1"},
                                    }
                                ]
                            },
                            "source": {
                                "from": [
                                    {
                                        "accountAlias": "@alice",
                                        "amount": {"asset": "USD", "value": "1"},
                                    }
                                ]
                            },
                        }
                    }
                ]
            },
        )
    )
    past = timezone.now() - timedelta(seconds=1)
    expired = IdempotencyRecord.objects.exclude(key="keep-me").order_by("id")[:4]
    IdempotencyRecord.objects.filter(pk__in=[r.pk for r in expired]).update(expires_at=past)
    BulkRecord.objects.update(expires_at=past)
    live_before = set(
        IdempotencyRecord.objects.filter(expires_at__gt=timezone.now()).values_list(
            "key", flat=True
        )
    )
    assert "keep-me" in live_before

    out = StringIO()
    call_command("purge_expired_keys", "--batch", "1", stdout=out)
    assert out.getvalue().strip() == "deleted 4 expired idempotency records, 1 bulk records"
    assert not IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).exists()
    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == live_before
    assert not BulkRecord.objects.exists()

    again = StringIO()
    call_command("purge_expired_keys", stdout=again)
    assert again.getvalue().strip() == "deleted 0 expired idempotency records, 0 bulk records"
