"""Reinstalls ``midaz_post``: the transaction event is written with the transaction row,
before the balance locks are taken (a hot balance stays locked for less)."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0017_async_postings_and_events")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
