"""Drops the GIN metadata indexes of transactions and operations (see Transaction.Meta):
concurrently, so that upgrading a live ledger does not block postings."""

from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("transactions", "0010_asset_rates")]

    operations = [
        RemoveIndexConcurrently(model_name="operation", name="transactions_operation_meta"),
        RemoveIndexConcurrently(model_name="transaction", name="transactions_transaction_meta"),
    ]
