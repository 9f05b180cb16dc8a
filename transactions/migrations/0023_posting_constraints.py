"""Database backstops of a posting's rows (transactions/sql/posting_constraints.sql): a CHECK
that every leg queued for an asynchronous worker moves more than zero, and a statement-level
trigger that a transaction's operations balance per asset. Both refuse with 'midaz:<code>'.

The CHECK is added NOT VALID: a queued row written before it (a poison posting of an older
version) must not stop the deploy; the worker declines such a row (transactions/asynchronous).
"""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "posting_constraints.sql").read_text()

CHECK = """
ALTER TABLE transactions_queuedposting
    ADD CONSTRAINT queuedposting_legs_positive CHECK (midaz_queued_legs_positive(legs)) NOT VALID;
"""

REVERSE = """
DROP TRIGGER IF EXISTS midaz_operations_balance ON transactions_operation;
DROP FUNCTION IF EXISTS midaz_operations_balance();
ALTER TABLE transactions_queuedposting DROP CONSTRAINT IF EXISTS queuedposting_legs_positive;
DROP FUNCTION IF EXISTS midaz_queued_legs_positive(jsonb);
"""


class Migration(migrations.Migration):
    dependencies = [("transactions", "0022_operation_companion_of")]

    operations = [migrations.RunSQL(SQL + CHECK, reverse_sql=REVERSE)]
