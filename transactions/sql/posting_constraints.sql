-- Database backstops of a posting's rows (issue 16, item 1), installed by migration 0023.
-- Python resolves and checks every posting before it reaches the database, and midaz_post
-- applies the balance rules; these make the two rules that keep money exact hold whatever
-- path writes the rows (an older worker, a bug, a hand-written statement).
--
-- 1. Every leg queued for an asynchronous worker moves an amount greater than zero.
-- 2. A transaction's operations balance, per asset: debits equal credits once the money has
--    moved (verify_ledger's "asset legs" check, transactions/verify.py check 5), and nothing is
--    credited while a hold is pending (check 4).
--
-- Both refuse with 'midaz:<code>' (as midaz_post does), so transactions/posting.py
-- (error_from_database) answers the Midaz code, never a 500, and a worker declines the posting
-- with it.

-- 1. ------------------------------------------------------------------------------------------
-- The CHECK of transactions_queuedposting.legs. A leg's amount travels as the text of a Python
-- Decimal ("10", "0.5", "1E-7"): anything else, zero or less refuses the row with 0125. The
-- text is matched before the cast, so a value numeric cannot take refuses instead of failing
-- the cast (the exponent is bounded far inside numeric's range).
CREATE OR REPLACE FUNCTION midaz_queued_legs_positive(p_legs jsonb)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
AS $fn$
DECLARE
    v_leg jsonb;
    v_amount text;
BEGIN
    IF jsonb_typeof(p_legs) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'midaz:0125' USING DETAIL = 'A queued posting has no list of legs.',
            ERRCODE = 'check_violation';
    END IF;
    FOR v_leg IN SELECT * FROM jsonb_array_elements(p_legs) LOOP
        v_amount := v_leg->>'amount';
        IF v_amount IS NULL
           OR jsonb_typeof(v_leg->'amount') NOT IN ('string', 'number')
           OR v_amount !~ '^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,4})?$'
           OR v_amount::numeric <= 0 THEN
            RAISE EXCEPTION 'midaz:0125' USING ERRCODE = 'check_violation', DETAIL = format(
                'Every leg of a posting must move an amount greater than zero, not %s (%s).',
                left(coalesce(v_amount, 'none'), 60), left(coalesce(v_leg->>'alias', '?'), 100));
        END IF;
    END LOOP;
    RETURN true;
END;
$fn$;

-- 2. ------------------------------------------------------------------------------------------
-- After each statement that inserts operations (one per posting, or one for a whole bulk or
-- asynchronous batch), over the rows it inserted, grouped by transaction and asset:
--   debits  = sum of amount + overdraft drawn, direction debit, not ON_HOLD nor OVERDRAFT
--   credits = sum of amount - overdraft repaid, direction credit, not RELEASE nor OVERDRAFT
-- (a leg that draws overdraft records on its balance only what available gave; with the rise
-- of overdraft_used it makes the requested amount, and its OVERDRAFT companion is not counted:
-- SEMANTICS.md §4.4). A direct posting, an annotation (NOTED), a revert, a block or unblock,
-- a conversion (its external legs balance each asset) and a hold without routes (ON_HOLD only)
-- balance within the statement: that is the common case, checked on the transition table
-- alone. A posting in parts does not: a hold split by routes (DEBIT + ON_HOLD) and its commit
-- (ON_HOLD + CREDIT) or cancel (RELEASE + CREDIT). For such a group the whole transaction is
-- summed from the table (its earlier operations included), as verify_ledger does: it must
-- balance unless the transaction is PENDING, and a PENDING one credits nothing.
-- midaz_post writes the transaction row with its new status before its operations, so the
-- status read here is the one the posting leaves.
CREATE OR REPLACE FUNCTION midaz_operations_balance()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_group record;
    v_status text;
    v_debits numeric;
    v_credits numeric;
BEGIN
    FOR v_group IN
        SELECT n.transaction_id, n.asset_code
          FROM midaz_new_operations AS n
         GROUP BY n.transaction_id, n.asset_code
        HAVING coalesce(sum(n.amount + n.overdraft_used_after - n.overdraft_used_before)
                   FILTER (WHERE n.direction = 'debit'
                             AND n.type NOT IN ('ON_HOLD', 'OVERDRAFT')), 0)
            <> coalesce(sum(n.amount - n.overdraft_used_after + n.overdraft_used_before)
                   FILTER (WHERE n.direction = 'credit'
                             AND n.type NOT IN ('RELEASE', 'OVERDRAFT')), 0)
    LOOP
        SELECT t.status INTO v_status
          FROM transactions_transaction AS t WHERE t.id = v_group.transaction_id;
        SELECT coalesce(sum(o.amount + o.overdraft_used_after - o.overdraft_used_before)
                   FILTER (WHERE o.direction = 'debit'
                             AND o.type NOT IN ('ON_HOLD', 'OVERDRAFT')), 0),
               coalesce(sum(o.amount - o.overdraft_used_after + o.overdraft_used_before)
                   FILTER (WHERE o.direction = 'credit'
                             AND o.type NOT IN ('RELEASE', 'OVERDRAFT')), 0)
          INTO v_debits, v_credits
          FROM transactions_operation AS o
         WHERE o.transaction_id = v_group.transaction_id
           AND o.asset_code = v_group.asset_code;
        IF (v_status IS DISTINCT FROM 'PENDING' AND v_debits <> v_credits)
           OR (v_status = 'PENDING' AND v_credits <> 0) THEN
            RAISE EXCEPTION 'midaz:0073' USING ERRCODE = 'check_violation', DETAIL = format(
                'The operations of transaction %s do not balance in %s: debits %s, credits %s.',
                v_group.transaction_id, v_group.asset_code, v_debits, v_credits);
        END IF;
    END LOOP;
    RETURN NULL;
END;
$fn$;

DROP TRIGGER IF EXISTS midaz_operations_balance ON transactions_operation;
CREATE TRIGGER midaz_operations_balance
    AFTER INSERT ON transactions_operation
    REFERENCING NEW TABLE AS midaz_new_operations
    FOR EACH STATEMENT EXECUTE FUNCTION midaz_operations_balance();
