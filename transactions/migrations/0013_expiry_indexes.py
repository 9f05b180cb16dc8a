"""BRIN indexes on the expiry of idempotency and bulk records (purge_expired_keys), built
concurrently so that upgrading a live ledger does not block postings."""

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("transactions", "0012_routes")]

    operations = [
        AddIndexConcurrently(
            model_name="bulkrecord",
            index=django.contrib.postgres.indexes.BrinIndex(
                fields=["expires_at"], name="bulk_record_expires_brin"
            ),
        ),
        AddIndexConcurrently(
            model_name="idempotencyrecord",
            index=django.contrib.postgres.indexes.BrinIndex(
                fields=["expires_at"], name="idempotency_expires_brin"
            ),
        ),
    ]
