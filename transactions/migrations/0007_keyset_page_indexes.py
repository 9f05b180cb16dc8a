"""Indexes for keyset pages on id: a ledger's transactions and an account's operations.

Built and dropped concurrently, so that upgrading a live ledger does not block postings."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("onboarding", "0001_initial"),
        ("transactions", "0006_fewer_indexes_on_the_posting_path"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="operation",
            index=models.Index(fields=["account", "id"], name="operation_account_id"),
        ),
        RemoveIndexConcurrently(
            model_name="operation",
            name="operation_account_created",
        ),
        AddIndexConcurrently(
            model_name="transaction",
            index=models.Index(fields=["ledger", "id"], name="transaction_ledger_id"),
        ),
    ]
