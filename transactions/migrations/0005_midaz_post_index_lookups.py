"""Reinstalls ``midaz_post``: balance lookups and updates by index (no sequential scans)."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0004_idempotency_answer_status")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
