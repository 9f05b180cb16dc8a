"""Cross-asset postings: operations record the rate of a converted entry, and ``midaz_post``
checks each leg against its own asset (transactions/conversion.py)."""

from pathlib import Path

from django.db import migrations, models

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0015_midaz_post_overdraft")]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="rate",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop),
    ]
