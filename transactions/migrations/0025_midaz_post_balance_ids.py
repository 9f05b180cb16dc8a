"""Reinstalls ``midaz_post``: a leg may name the balance id it must move (``balance_id``,
refused 0019 when its alias#key now resolves to another balance), and a hold records the
balances it resolved in its body (``balanceIds``), so that a commit or a reversal moves the
balances of the original transaction, never those of an account that took the alias later."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0024_midaz_post_linear")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
