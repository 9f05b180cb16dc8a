"""Reinstalls ``midaz_post``: while it applies the legs of a posting, the balance state and the
operations are arrays changed in place, not jsonb values copied whole at every leg, so a
posting costs time linear in its legs (it was quadratic, with its balances locked)."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0023_posting_constraints")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
