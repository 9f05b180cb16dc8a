"""The operator console (console/): its permissions on transactions, and the two indexes of its
dashboard, built concurrently so that upgrading a live ledger does not block postings: a BRIN
index on created_at (the last 30 days across ledgers) and a partial index of the pending
transactions."""

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("onboarding", "0002_metadata_indexes"),
        ("transactions", "0020_idempotency_no_ledger_only_index"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="transaction",
            options={
                "permissions": [
                    (
                        "operate_transactions",
                        "Can post, commit, cancel and revert transactions from the console",
                    ),
                    ("export_records", "Can export console lists as CSV"),
                ]
            },
        ),
        AddIndexConcurrently(
            model_name="transaction",
            index=django.contrib.postgres.indexes.BrinIndex(
                fields=["created_at"], name="transaction_created_brin"
            ),
        ),
        AddIndexConcurrently(
            model_name="transaction",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True), ("status", "PENDING")),
                fields=["created_at"],
                name="transaction_pending",
            ),
        ),
    ]
