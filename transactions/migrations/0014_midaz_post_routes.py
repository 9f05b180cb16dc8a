"""Reinstalls ``midaz_post``: operations carry their route's rubric, and the ``onhold`` leg kind
of a hold split by routes."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0013_expiry_indexes")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
