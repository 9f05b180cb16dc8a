"""Installs the apply step of postings, ``midaz_post`` (transactions/sql/midaz_post.sql)."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0002_transactions_operations")]

    operations = [
        migrations.RunSQL(
            SQL, reverse_sql="DROP FUNCTION IF EXISTS midaz_post(jsonb, jsonb, jsonb);"
        )
    ]
