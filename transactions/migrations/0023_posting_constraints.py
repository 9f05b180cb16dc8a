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


def _dependencies() -> list[tuple[str, str]]:
    """After 0022; and after 0024 (midaz_post reinstalled, written at the same time as this
    one) as long as 0024 does not come after this one itself: the graph keeps a single leaf."""
    deps = [("transactions", "0022_operation_companion_of")]
    other = Path(__file__).resolve().parent / "0024_midaz_post_linear.py"
    if other.exists() and "0023_posting_constraints" not in other.read_text():
        deps.append(("transactions", "0024_midaz_post_linear"))
    return deps


class Migration(migrations.Migration):
    dependencies = _dependencies()

    operations = [migrations.RunSQL(SQL + CHECK, reverse_sql=REVERSE)]
