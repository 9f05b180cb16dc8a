"""Reinstalls ``midaz_post``: the transaction row and the idempotency record are written before
the balances are locked, and constraints are checked as each statement ends, so a hot balance
is held for less time."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0007_keyset_page_indexes")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
