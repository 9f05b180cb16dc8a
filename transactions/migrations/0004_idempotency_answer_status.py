"""Idempotency records keep the first answer's status instead of the whole answer (a replay
re-renders it from the rows), so a create is one statement; ``midaz_post`` is reinstalled."""

from pathlib import Path

from django.db import migrations, models

SQL = (Path(__file__).resolve().parent.parent / "sql" / "midaz_post.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("transactions", "0003_midaz_post_function")]

    operations = [
        migrations.RemoveField(model_name="idempotencyrecord", name="response"),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="answer_status",
            field=models.CharField(default="CREATED", max_length=20),
            preserve_default=False,
        ),
        migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop),
    ]
