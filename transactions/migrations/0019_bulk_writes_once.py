"""Reinstalls ``midaz_post``: the balance lock moves to ``midaz_lock_balances``, and a bulk
(``midaz_post_bulk``, also the asynchronous workers' batches) checks and computes each posting
against the state the earlier ones left, then inserts every operation in one statement and
writes each balance once."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0018_events_before_the_locks")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
