"""Reinstalls ``midaz_post``: overdraft (the debit split, repayment, the OVERDRAFT companion
operations on the account's internal ``overdraft`` balance, 0167 and 0492)."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0014_midaz_post_routes")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
