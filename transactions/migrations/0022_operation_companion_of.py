"""An OVERDRAFT companion operation names the leg it completes (``companion_of``).

``midaz_post`` already puts ``companion_of`` in the rows it inserts; with the column present
the link is stored. Companions written before it are linked here by the rule the reversal
used until now: the leg of the same transaction, moment, account and direction."""

from django.db import migrations, models

BACKFILL = """
UPDATE transactions_operation AS c
   SET companion_of = (
       SELECT o.id FROM transactions_operation AS o
        WHERE o.transaction_id = c.transaction_id
          AND o.created_at = c.created_at
          AND o.account_alias = c.account_alias
          AND o.direction = c.direction
          AND o.type <> 'OVERDRAFT'
          AND o.id < c.id
        ORDER BY o.id DESC
        LIMIT 1)
 WHERE c.type = 'OVERDRAFT' AND c.companion_of IS NULL
"""


class Migration(migrations.Migration):
    dependencies = [("transactions", "0021_console_indexes_and_permissions")]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="companion_of",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
