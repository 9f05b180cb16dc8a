-- The apply step of a posting, in one round trip (DESIGN.md §4, PERFORMANCE.md).
-- Installed by migration 0003; a change here needs a new migration that runs it again.
--
-- The balance rules and the balance arithmetic live here and only here: Python parses,
-- validates and resolves the request (no lock needed), then calls this function inside its
-- database transaction. Any violation raises 'midaz:<code>' and the caller's transaction rolls
-- back, so a refused posting leaves no trace.
--
-- p_tx    the transaction row (column names as keys); with opts.mode = 'update' only
--         id, status and status_description are used, to move an existing row.
-- p_legs  [{op, alias, key, amount, source, kind, type, direction, description,
--           chart_of_accounts, metadata, route, route_id}] in application order.
--         kind: debit | credit | hold | settle | release | onhold | check (rules only), see
--         SEMANTICS.md §4.2 and §5.2 (onhold: the on-hold half of a hold split by routes);
--         optional route_code, route_description (the route's rubric);
--         od_op (the id of the leg's overdraft companion operation, if it needs one),
--         od_rubric ({debit, credit}: the route's overdraft rubrics, with routes on),
--         repay (a release or credit that gives back a hold: the overdraft it drew),
--         asset and rate (a converted entry, or an external leg of its conversion: the leg's
--         asset when it is not the transaction's, and the rate its operation records)
-- p_opts  {mode: insert|update, check_rules: bool, pending: bool, apply: bool,
--          now: timestamptz, skip_fees: bool, skip_tracer: bool, routes: bool,
--          idem: {key, hash, expires_at, answer_status} | null, soft: bool,
--          events: bool (write the transaction event to the outbox),
--          accept: {status, opts} (an asynchronous posting: write the transaction row as
--          given, status CREATED, and queue the legs to be applied later with this final
--          status and these options; nothing else happens now)}
-- returns {"replay": {"transaction_id", "answer_status"}} for an idempotent replay, else
--         {"accepted": true} for an accepted asynchronous posting, else
--         {"ops": [{id, companion_of, amount, balance_id, account_id, available_before, ...}]}
--         in application order (an overdraft companion right after its leg); in soft mode a
--         refusal is returned as {"error": {"code", "detail"}} instead of raised, and nothing
--         of the refused posting has been written (the bulk route relies on it: no savepoint
--         per item).
--
-- Overdraft (SEMANTICS.md §4.4): a DEBIT or a hold on a credit-direction balance with
-- settings.allowOverdraft takes what ``available`` lacks from overdraft: available stops at 0,
-- overdraft_used grows by the deficit (0167 above an enabled limit), and an OVERDRAFT operation
-- (direction debit) moves the same amount on the account's internal ``overdraft`` balance. A
-- CREDIT on a balance with overdraft in use repays it first (OVERDRAFT, direction credit). The
-- leg's own operation records what moved on the balance; with its companion it makes the
-- requested amount.
--
-- A create is this one statement: run in autocommit it is its own database transaction, so a
-- posting costs one round trip.
-- A refusal: raised as 'midaz:<code>' (the caller's transaction rolls back), or in soft mode
-- returned as {"error": {...}} for the caller to report.
CREATE OR REPLACE FUNCTION midaz_refuse(p_code text, p_soft boolean, p_detail text)
RETURNS jsonb
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF p_soft THEN
        RETURN jsonb_build_object('error', jsonb_build_object('code', p_code, 'detail', p_detail));
    END IF;
    RAISE EXCEPTION 'midaz:%', p_code USING DETAIL = p_detail;
END;
$fn$;

-- The rows of a posting that need no balance lock: the transaction (inserted, or moved to its
-- new status), the idempotency record and the transaction event (the outbox of
-- transactions/events.py; none for an accepted asynchronous posting, whose event comes when a
-- worker applies it).
CREATE OR REPLACE FUNCTION midaz_write_head(p_tx jsonb, p_opts jsonb, p_ledger uuid,
                                            p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF coalesce(p_opts->>'mode', 'insert') = 'insert' THEN
        INSERT INTO transactions_transaction
        SELECT * FROM jsonb_populate_record(NULL::transactions_transaction, p_tx);
    ELSE
        UPDATE transactions_transaction
           SET status = p_tx->>'status', status_description = p_tx->>'status_description',
               updated_at = p_now
         WHERE id = (p_tx->>'id')::uuid;
    END IF;
    IF (p_opts->'idem') IS NOT NULL AND jsonb_typeof((p_opts->'idem')) = 'object' THEN
        INSERT INTO transactions_idempotencyrecord
            (ledger_id, key, request_hash, transaction_id, answer_status, created_at, expires_at)
        VALUES (p_ledger, (p_opts->'idem')->>'key', (p_opts->'idem')->>'hash', (p_tx->>'id')::uuid,
                (p_opts->'idem')->>'answer_status', p_now, ((p_opts->'idem')->>'expires_at')::timestamptz);
    END IF;
    IF coalesce((p_opts->>'events')::boolean, false) AND NOT p_opts ? 'accept' THEN
        INSERT INTO transactions_outboxevent
            (transaction_id, organization_id, ledger_id, status, created_at)
        VALUES ((p_tx->>'id')::uuid, (p_tx->>'organization_id')::uuid, p_ledger,
                p_tx->>'status', p_now);
    END IF;

END;
$fn$;

-- (Earlier forms of these functions, gone.)
DROP FUNCTION IF EXISTS midaz_post_ctx(jsonb, jsonb, jsonb, jsonb, jsonb);
DROP FUNCTION IF EXISTS midaz_post_ctx(jsonb, jsonb, jsonb, jsonb, jsonb, jsonb[]);
DROP FUNCTION IF EXISTS midaz_post(jsonb, jsonb, jsonb);
DROP FUNCTION IF EXISTS midaz_lock_balances(uuid, jsonb);

-- Locks the balances that legs name (alias and key), with the overdraft companions of their
-- accounts, FOR UPDATE in id order, so that two postings (or bulks) never deadlock.
-- p_aliases, p_pairs  the aliases and the "alias#key" pairs of the legs of one posting, or of
--                     every posting of a bulk
-- returns o_index {"alias#key": balance row}, o_state {balance id: {available, on_hold,
--         version, overdraft_used}} and o_ids (the balance ids)
-- The aliases travel as an array so that the lookup is an index scan on (ledger, alias, key)
-- whatever the size of the ledger (a join against jsonb_array_elements was planned as a
-- sequential scan of every balance), and the lookup is planned for its actual values on every
-- call (EXECUTE): a cached generic plan cannot use the alias list as an index condition and
-- read every balance of the ledger (the benchmark found ~2,000 index entries read per posting).
CREATE OR REPLACE FUNCTION midaz_lock_balances(p_ledger uuid, p_aliases text[], p_pairs text[],
                                               OUT o_index jsonb, OUT o_state jsonb,
                                               OUT o_ids uuid[])
LANGUAGE plpgsql
AS $fn$
BEGIN
    EXECUTE
        'SELECT coalesce(jsonb_object_agg(b.alias || ''#'' || b.key, to_jsonb(b)), ''{}''),
                coalesce(jsonb_object_agg(b.id, jsonb_build_object(
                    ''available'', b.available, ''on_hold'', b.on_hold, ''version'', b.version,
                    ''overdraft_used'', b.overdraft_used)), ''{}''),
                coalesce(array_agg(b.id), ''{}'')
           FROM (SELECT b.id, b.account_id, b.alias, b.key, b.asset_code, b.available,
                        b.on_hold, b.version, b.overdraft_used, b.account_type,
                        b.allow_sending, b.allow_receiving, b.direction, b.settings
                   FROM transactions_balance b
                  WHERE b.ledger_id = $1
                    AND b.alias = ANY ($2)
                    AND (b.alias || ''#'' || b.key = ANY ($3) OR b.key = ''overdraft'')
                    AND b.deleted_at IS NULL
                  ORDER BY b.id
                    FOR UPDATE) AS b'
        INTO o_index, o_state, o_ids
        USING p_ledger, p_aliases, p_pairs;
END;
$fn$;

-- One posting (the create path: the last three arguments left out). In a bulk,
-- midaz_post_bulk has locked every balance already and passes them:
-- p_index ("alias#key" -> balance row), p_pos (balance id -> its place in p_state) and p_state
-- (the state each balance is in after the bulk's earlier postings: an array, which the bulk
-- updates in place, where a jsonb map would be rebuilt whole for every posting). The posting is
-- then checked and computed against them and nothing is written but its head (transaction row,
-- idempotency record, event); the answer also carries "rows" (its operation rows) and "state"
-- (the new state of its balances), for the bulk to write once for all its postings.
CREATE OR REPLACE FUNCTION midaz_post(p_tx jsonb, p_legs jsonb, p_opts jsonb,
                                      p_index jsonb DEFAULT NULL, p_pos jsonb DEFAULT NULL,
                                      p_state jsonb[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_ledger uuid := (p_tx->>'ledger_id')::uuid;
    v_now timestamptz := (p_opts->>'now')::timestamptz;
    v_apply boolean := coalesce((p_opts->>'apply')::boolean, true);
    v_check boolean := coalesce((p_opts->>'check_rules')::boolean, true);
    v_pending boolean := coalesce((p_opts->>'pending')::boolean, false);
    v_idem jsonb := p_opts->'idem';
    v_soft boolean := coalesce((p_opts->>'soft')::boolean, false);
    v_record record;
    v_leg jsonb;
    v_state jsonb := '{}'::jsonb;   -- balance id -> {available, on_hold, version, ...}
    v_index jsonb := '{}'::jsonb;   -- "alias#key" -> balance row as jsonb
    -- While the legs are applied, the state of the posting's balances is an array (v_st,
    -- the place of each balance in v_at) and the operations are an array too (v_ops): an
    -- element is replaced or appended in place, where a change to a jsonb value copies it
    -- whole, which made a posting quadratic in its legs. Both become jsonb once, at the end.
    v_at jsonb;                     -- balance id -> its place in v_st
    v_st jsonb[];
    v_pos_b int;
    v_pos_c int;
    v_cur jsonb;
    v_b jsonb;
    v_amount numeric;
    v_avail numeric;
    v_hold numeric;
    v_new_avail numeric;
    v_new_hold numeric;
    v_sign numeric;
    v_ops jsonb[] := '{}';
    v_rows jsonb;
    v_snapshots jsonb := '[]'::jsonb;
    v_settings jsonb;
    v_aliases text[];
    v_pairs text[];
    v_ids uuid[];
    v_in_bulk boolean := p_index IS NOT NULL;
    v_routes boolean := coalesce((p_opts->>'routes')::boolean, false);
    v_od numeric;
    v_new_od numeric;
    v_od_delta numeric;
    v_limit numeric;
    v_rec_amount numeric;
    v_comp jsonb;
    v_comp_cur jsonb;
    v_rubric jsonb;
    v_credit_dir boolean;
BEGIN
    -- 0. The ledger exists in the organization; the skip flags need its overrides.
    SELECT settings INTO v_settings FROM onboarding_ledger
     WHERE id = v_ledger AND organization_id = (p_tx->>'organization_id')::uuid
       AND deleted_at IS NULL;
    IF NOT FOUND THEN
        RETURN midaz_refuse('0037', v_soft, 'The ledger was not found.');
    END IF;
    IF (coalesce((p_opts->>'skip_fees')::boolean, false)
            AND NOT coalesce((v_settings->'overrides'->>'allowFeeSkip')::boolean, false))
        OR (coalesce((p_opts->>'skip_tracer')::boolean, false)
            AND NOT coalesce((v_settings->'overrides'->>'allowTracerSkip')::boolean, false)) THEN
        RETURN midaz_refuse('0490', v_soft, 'This ledger does not permit skipping fees or the tracer.');
    END IF;

    -- 1. Idempotency: one request per key at a time (0084), replay of a stored answer.
    IF v_idem IS NOT NULL AND jsonb_typeof(v_idem) = 'object' THEN
        IF NOT pg_try_advisory_xact_lock(
            hashtextextended(v_ledger::text || ':' || (v_idem->>'key'), 7)) THEN
            RETURN midaz_refuse('0084', v_soft, 'The idempotency key is in use by a request in flight.');
        END IF;
        SELECT * INTO v_record FROM transactions_idempotencyrecord
         WHERE ledger_id = v_ledger AND key = v_idem->>'key';
        IF FOUND THEN
            IF v_record.expires_at > v_now THEN
                IF v_record.request_hash <> v_idem->>'hash' THEN
                    RETURN midaz_refuse('0084', v_soft, 'The idempotency key was already used with a different request.');
                END IF;
                RETURN jsonb_build_object('replay', jsonb_build_object(
                    'transaction_id', v_record.transaction_id,
                    'answer_status', v_record.answer_status));
            END IF;
            DELETE FROM transactions_idempotencyrecord WHERE id = v_record.id;
        END IF;
    END IF;

    -- The rows that need no balance lock are written before any is taken, and every
    -- constraint is checked as its statement ends, not at commit: a hot balance stays
    -- locked only for its own arithmetic, its operations and its update.
    SET CONSTRAINTS ALL IMMEDIATE;
    IF p_opts ? 'accept' THEN
        -- Asynchronous (DESIGN.md §5): the accepted row and its queue entry, one statement.
        PERFORM midaz_write_head(p_tx, p_opts, v_ledger, v_now);
        INSERT INTO transactions_queuedposting (transaction_id, ledger_id, tx, legs, opts, created_at)
        VALUES ((p_tx->>'id')::uuid, v_ledger,
                p_tx || jsonb_build_object('status', p_opts->'accept'->>'status',
                                           'status_description', p_opts->'accept'->>'status'),
                p_legs, p_opts->'accept'->'opts', v_now);
        RETURN jsonb_build_object('accepted', true);
    END IF;
    IF NOT v_soft THEN
        PERFORM midaz_write_head(p_tx, p_opts, v_ledger, v_now);
    END IF;

    -- 2. Every involved balance, locked in id order (midaz_lock_balances); in a bulk, taken
    --    from what the bulk locked, with the state its earlier postings left.
    SELECT array_agg(DISTINCT l->>'alias'), array_agg(DISTINCT (l->>'alias') || '#' || (l->>'key'))
      INTO v_aliases, v_pairs
      FROM jsonb_array_elements(p_legs) AS l;
    IF v_in_bulk THEN
        SELECT coalesce(jsonb_object_agg(k, p_index->k), '{}') INTO v_index
          FROM (SELECT unnest(v_pairs) AS k
                UNION SELECT DISTINCT (l->>'alias') || '#overdraft'
                        FROM jsonb_array_elements(p_legs) AS l) AS wanted
         WHERE p_index ? k;
        SELECT coalesce(jsonb_object_agg(b->>'id', p_state[(p_pos->>(b->>'id'))::int]), '{}')
          INTO v_state
          FROM jsonb_each(v_index) AS e(k, b);
    ELSE
        SELECT * INTO v_index, v_state, v_ids FROM midaz_lock_balances(v_ledger, v_aliases, v_pairs);
    END IF;
    IF NOT v_index ?& v_pairs THEN
        RETURN midaz_refuse('0019', v_soft, (
            SELECT 'No balance found for ' || string_agg(DISTINCT (l->>'alias') || ' (' || (l->>'key') || ')', ', ')
              FROM jsonb_array_elements(p_legs) AS l
             WHERE NOT v_index ? ((l->>'alias') || '#' || (l->>'key'))));
    END IF;
    SELECT coalesce(jsonb_object_agg(key, n), '{}'), coalesce(array_agg(value ORDER BY n), '{}')
      INTO v_at, v_st
      FROM jsonb_each(v_state) WITH ORDINALITY AS e(key, value, n);

    -- 3. Rules and arithmetic, leg by leg in application order.
    FOR v_leg IN SELECT * FROM jsonb_array_elements(p_legs) LOOP
        v_b := v_index -> ((v_leg->>'alias') || '#' || (v_leg->>'key'));
        -- A settlement or a reversal names the balance its original moved: the alias may
        -- since have passed to another account (deleted, then opened again), whose balance
        -- was never part of the transaction.
        IF v_leg ? 'balance_id' AND v_b->>'id' <> v_leg->>'balance_id' THEN
            RETURN midaz_refuse('0019', v_soft, format(
                'The balance %s (%s) that the transaction moved no longer exists; the alias '
                'now names another account''s balance.', v_b->>'alias', v_b->>'key'));
        END IF;
        v_amount := (v_leg->>'amount')::numeric;
        IF v_check THEN
            IF v_b->>'asset_code' <> coalesce(v_leg->>'asset', p_tx->>'asset_code') THEN
                RETURN midaz_refuse('0034', v_soft, format(
                    'The balance %s (%s) holds %s, not %s.', v_b->>'alias', v_b->>'key',
                    v_b->>'asset_code', coalesce(v_leg->>'asset', p_tx->>'asset_code')));
            END IF;
            IF coalesce(v_b->'settings'->>'balanceScope', '') = 'internal' THEN
                RETURN midaz_refuse('0168', v_soft, format(
                    'The balance %s (%s) is internal and cannot be used directly.',
                    v_b->>'alias', v_b->>'key'));
            END IF;
            IF (v_leg->>'source')::boolean THEN
                IF NOT (v_b->>'allow_sending')::boolean THEN
                    RETURN midaz_refuse('0024', v_soft, format(
                        'The balance %s (%s) is not allowed to send.', v_b->>'alias', v_b->>'key'));
                END IF;
                IF v_pending AND v_b->>'account_type' = 'external' THEN
                    RETURN midaz_refuse('0098', v_soft, format(
                        'The external account %s cannot be the source of a pending transaction.',
                        v_b->>'alias'));
                END IF;
            ELSIF NOT (v_b->>'allow_receiving')::boolean THEN
                RETURN midaz_refuse('0024', v_soft, format(
                    'The balance %s (%s) is not allowed to receive.', v_b->>'alias', v_b->>'key'));
            END IF;
        END IF;

        v_pos_b := (v_at->>(v_b->>'id'))::int;
        v_cur := v_st[v_pos_b];
        v_avail := (v_cur->>'available')::numeric;
        v_hold := (v_cur->>'on_hold')::numeric;
        v_od := (v_cur->>'overdraft_used')::numeric;
        -- A debit-direction balance (external accounts) grows with debits.
        v_credit_dir := v_b->>'direction' <> 'debit';
        v_sign := CASE WHEN v_credit_dir THEN 1 ELSE -1 END;
        v_new_avail := v_avail;
        v_new_hold := v_hold;
        v_new_od := v_od;
        v_od_delta := 0;  -- > 0: drawn from overdraft; < 0: overdraft repaid
        IF v_apply THEN
            CASE v_leg->>'kind'
                WHEN 'debit' THEN v_new_avail := v_avail - v_sign * v_amount;
                WHEN 'credit' THEN v_new_avail := v_avail + v_sign * v_amount;
                WHEN 'hold' THEN
                    v_new_avail := v_avail - v_sign * v_amount;
                    v_new_hold := v_hold + v_amount;
                WHEN 'settle' THEN v_new_hold := v_hold - v_amount;
                WHEN 'onhold' THEN v_new_hold := v_hold + v_amount;  -- split hold, second half
                WHEN 'check' THEN NULL;  -- rules only (a pending destination)
                WHEN 'release' THEN
                    v_new_hold := v_hold - v_amount;
                    v_new_avail := v_avail + v_sign * v_amount;
                ELSE RAISE EXCEPTION 'unknown leg kind %', v_leg->>'kind';
            END CASE;
            IF v_credit_dir AND v_b->>'account_type' <> 'external' THEN
                IF v_leg->>'kind' IN ('debit', 'hold') AND v_new_avail < 0
                        AND v_new_avail < v_avail
                        AND coalesce((v_b->'settings'->>'allowOverdraft')::boolean, false) THEN
                    -- The debit split: available gives what it has, overdraft the rest.
                    v_od_delta := v_amount - least(greatest(v_avail, 0), v_amount);
                    v_new_avail := v_avail - (v_amount - v_od_delta);
                    v_new_od := v_od + v_od_delta;
                    IF coalesce((v_b->'settings'->>'overdraftLimitEnabled')::boolean, false) THEN
                        v_limit := (v_b->'settings'->>'overdraftLimit')::numeric;
                        IF v_new_od > v_limit THEN
                            RETURN midaz_refuse('0167', v_soft, format(
                                'The balance %s (%s) would use %s of overdraft, above its limit of %s.',
                                v_b->>'alias', v_b->>'key', v_new_od, v_limit));
                        END IF;
                    END IF;
                ELSIF v_leg->>'kind' IN ('credit', 'release') AND v_od > 0 THEN
                    -- Repayment: overdraft in use is paid back before available grows. A leg
                    -- that gives back a hold repays only what that hold drew ('repay').
                    v_od_delta := -least(v_amount, v_od,
                                         coalesce((v_leg->>'repay')::numeric,
                                                  CASE WHEN v_leg->>'kind' = 'credit'
                                                       THEN v_amount ELSE 0 END));
                    v_new_avail := v_new_avail + v_od_delta;
                    v_new_od := v_od + v_od_delta;
                END IF;
            END IF;
            IF v_new_avail < 0 AND v_new_avail < v_avail AND v_b->>'account_type' <> 'external' THEN
                RETURN midaz_refuse('0018', v_soft, format(
                    'The balance %s (%s) has insufficient funds.', v_b->>'alias', v_b->>'key'));
            END IF;
            IF v_new_hold < 0 THEN
                RETURN midaz_refuse('0018', v_soft, format(
                    'The balance %s (%s) holds less than the amount to settle.',
                    v_b->>'alias', v_b->>'key'));
            END IF;
        END IF;

        IF v_apply AND v_new_avail = v_avail AND v_new_hold = v_hold AND v_new_od = v_od THEN
            CONTINUE;  -- a leg that moves nothing is a no-op: no version bump, no operation
        END IF;
        IF v_apply THEN
            v_st[v_pos_b] := jsonb_build_object(
                'available', v_new_avail, 'on_hold', v_new_hold,
                'version', (v_cur->>'version')::bigint + 1, 'overdraft_used', v_new_od,
                'updated_at', v_now);
            -- What moved on this balance; the companion records the rest of the amount.
            v_rec_amount := least(v_amount, greatest(abs(v_new_avail - v_avail),
                                                     abs(v_new_hold - v_hold)));
        ELSE
            v_rec_amount := v_amount;
        END IF;

        v_ops := array_append(v_ops, jsonb_build_object(
            'id', v_leg->>'op',
            'organization_id', p_tx->>'organization_id',
            'ledger_id', v_ledger,
            'transaction_id', p_tx->>'id',
            'description', v_leg->>'description',
            'type', v_leg->>'type',
            'direction', v_leg->>'direction',
            'asset_code', coalesce(v_leg->>'asset', p_tx->>'asset_code'),
            'chart_of_accounts', v_leg->>'chart_of_accounts',
            'amount', v_rec_amount,
            'available_before', CASE WHEN v_apply THEN v_avail ELSE 0 END,
            'on_hold_before', CASE WHEN v_apply THEN v_hold ELSE 0 END,
            'version_before', CASE WHEN v_apply THEN (v_cur->>'version')::bigint ELSE 0 END,
            'overdraft_used_before', CASE WHEN v_apply THEN v_od ELSE 0 END,
            'available_after', CASE WHEN v_apply THEN v_new_avail ELSE 0 END,
            'on_hold_after', CASE WHEN v_apply THEN v_new_hold ELSE 0 END,
            'version_after', CASE WHEN v_apply THEN (v_cur->>'version')::bigint + 1 ELSE 0 END,
            'overdraft_used_after', CASE WHEN v_apply THEN v_new_od ELSE 0 END,
            'account_id', v_b->>'account_id',
            'account_alias', v_b->>'alias',
            'balance_id', v_b->>'id',
            'balance_key', v_b->>'key',
            'balance_affected', v_apply,
            'route', v_leg->>'route',
            'route_id', v_leg->>'route_id',
            'route_code', v_leg->>'route_code',
            'route_description', v_leg->>'route_description',
            'metadata', coalesce(v_leg->'metadata', '{}'::jsonb),
            'rate', v_leg->'rate',
            'created_at', p_tx->>'created_at',
            'updated_at', v_now));

        IF v_od_delta <> 0 THEN
            -- The overdraft companion: a debit-direction balance, so a draw (DEBIT) raises its
            -- available and a repayment (CREDIT) lowers it; it always equals the overdraft in
            -- use on the account's balances.
            v_comp := v_index -> ((v_b->>'alias') || '#overdraft');
            IF v_comp IS NULL THEN
                RETURN midaz_refuse('0018', v_soft, format(
                    'The balance %s (%s) has no overdraft balance to draw from or repay.',
                    v_b->>'alias', v_b->>'key'));
            END IF;
            v_rubric := v_leg->'od_rubric'->(CASE WHEN v_od_delta > 0 THEN 'debit' ELSE 'credit' END);
            IF v_routes AND (v_rubric IS NULL OR jsonb_typeof(v_rubric) <> 'object') THEN
                RETURN midaz_refuse('0492', v_soft, format(
                    'The route of %s defines no overdraft %s entry.', v_b->>'alias',
                    CASE WHEN v_od_delta > 0 THEN 'debit' ELSE 'credit' END));
            END IF;
            v_pos_c := (v_at->>(v_comp->>'id'))::int;
            v_comp_cur := v_st[v_pos_c];
            v_st[v_pos_c] := jsonb_build_object(
                'available', (v_comp_cur->>'available')::numeric + v_od_delta,
                'on_hold', (v_comp_cur->>'on_hold')::numeric,
                'version', (v_comp_cur->>'version')::bigint + 1,
                'overdraft_used', (v_comp_cur->>'overdraft_used')::numeric,
                'updated_at', v_now);
            v_ops := array_append(v_ops, jsonb_build_object(
                'id', v_leg->>'od_op',
                'companion_of', v_leg->>'op',
                'organization_id', p_tx->>'organization_id',
                'ledger_id', v_ledger,
                'transaction_id', p_tx->>'id',
                'description', v_leg->>'description',
                'type', 'OVERDRAFT',
                'direction', CASE WHEN v_od_delta > 0 THEN 'debit' ELSE 'credit' END,
                'asset_code', coalesce(v_leg->>'asset', p_tx->>'asset_code'),
                'chart_of_accounts', v_leg->>'chart_of_accounts',
                'amount', abs(v_od_delta),
                'available_before', (v_comp_cur->>'available')::numeric,
                'on_hold_before', (v_comp_cur->>'on_hold')::numeric,
                'version_before', (v_comp_cur->>'version')::bigint,
                'overdraft_used_before', (v_comp_cur->>'overdraft_used')::numeric,
                'available_after', (v_comp_cur->>'available')::numeric + v_od_delta,
                'on_hold_after', (v_comp_cur->>'on_hold')::numeric,
                'version_after', (v_comp_cur->>'version')::bigint + 1,
                'overdraft_used_after', (v_comp_cur->>'overdraft_used')::numeric,
                'account_id', v_comp->>'account_id',
                'account_alias', v_comp->>'alias',
                'balance_id', v_comp->>'id',
                'balance_key', v_comp->>'key',
                'balance_affected', true,
                'route', v_leg->>'route',
                'route_id', v_leg->>'route_id',
                'route_code', v_rubric->>'code',
                'route_description', v_rubric->>'description',
                'metadata', '{}'::jsonb,
                'created_at', p_tx->>'created_at',
                'updated_at', v_now));
        END IF;
    END LOOP;
    SELECT coalesce(jsonb_object_agg(key, v_st[n::int]), '{}') INTO v_state
      FROM jsonb_each_text(v_at) AS e(key, n);
    v_rows := to_jsonb(v_ops);

    -- 4. Write what needed the locks: the operations and the balances (in soft mode, the
    --    transaction row and the idempotency record too, now that every rule has passed).
    -- A hold keeps the balances it resolved (alias#key -> id), so that its commit credits
    -- those and no balance that took the alias later.
    -- (An accepted asynchronous hold has its row already: the worker updates it.)
    IF v_pending AND v_apply AND jsonb_typeof(p_tx->'body') = 'object' THEN
        v_cur := jsonb_build_object('balanceIds', (
            SELECT coalesce(jsonb_object_agg(k, v_index->k->>'id'), '{}')
              FROM unnest(v_pairs) AS k));
        IF v_soft AND coalesce(p_opts->>'mode', 'insert') = 'insert' THEN
            p_tx := jsonb_set(p_tx, '{body}', (p_tx->'body') || v_cur);
        ELSE
            UPDATE transactions_transaction SET body = body || v_cur
             WHERE id = (p_tx->>'id')::uuid;
        END IF;
    END IF;
    IF v_soft THEN
        PERFORM midaz_write_head(p_tx, p_opts, v_ledger, v_now);
    END IF;
    IF NOT v_in_bulk THEN
        INSERT INTO transactions_operation
        SELECT * FROM jsonb_populate_recordset(NULL::transactions_operation, v_rows);
        IF v_apply THEN
            PERFORM midaz_write_balances(v_state, v_ids, v_now);
        END IF;
    END IF;

    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', o->>'id',
               'balance_id', o->>'balance_id', 'account_id', o->>'account_id',
               'account_alias', o->>'account_alias', 'balance_key', o->>'balance_key',
               -- amounts travel as text: a JSON number would reach Python as a float
               'amount', o->>'amount',
               'available_before', o->>'available_before', 'on_hold_before', o->>'on_hold_before',
               'version_before', o->'version_before', 'available_after', o->>'available_after',
               'on_hold_after', o->>'on_hold_after', 'version_after', o->'version_after',
               'overdraft_used_before', o->>'overdraft_used_before',
               'overdraft_used_after', o->>'overdraft_used_after')
               -- what the caller cannot know of an overdraft companion: what it is
               || CASE WHEN o ? 'companion_of' THEN jsonb_build_object(
                      'companion_of', o->>'companion_of', 'type', o->>'type',
                      'direction', o->>'direction', 'route_code', o->>'route_code',
                      'route_description', o->>'route_description')
                  ELSE '{}'::jsonb END
               ORDER BY n), '[]')
      INTO v_snapshots FROM unnest(v_ops) WITH ORDINALITY AS e(o, n);
    IF v_in_bulk THEN
        RETURN jsonb_build_object('ops', v_snapshots, 'rows', v_rows, 'state', v_state);
    END IF;
    RETURN jsonb_build_object('ops', v_snapshots);
END;
$fn$;

-- The new state of balances (from midaz_post), written once; p_ids are the locked
-- balances (an index condition), and only those whose version moved are written, each with
-- the time of the posting that last moved it.
CREATE OR REPLACE FUNCTION midaz_write_balances(p_state jsonb, p_ids uuid[], p_now timestamptz)
RETURNS void
LANGUAGE plpgsql  -- not sql: PL/pgSQL keeps the plan of the UPDATE from call to call
AS $fn$
BEGIN
    UPDATE transactions_balance AS b
       SET available = (s.value->>'available')::numeric,
           on_hold = (s.value->>'on_hold')::numeric,
           version = (s.value->>'version')::bigint,
           overdraft_used = (s.value->>'overdraft_used')::numeric,
           updated_at = coalesce((s.value->>'updated_at')::timestamptz, p_now)
      FROM jsonb_each(p_state) AS s
     WHERE b.id = ANY (p_ids) AND b.id = s.key::uuid
       AND b.version <> (s.value->>'version')::bigint;
END;
$fn$;


-- Many postings in the caller's database transaction (POST .../transactions/bulk, and the
-- batches of asynchronous postings that a worker applies).
-- p_items [{tx, legs, opts}], each as for midaz_post, run in soft mode in the order given.
-- Every balance any item names is locked first, in id order, so that a bulk never deadlocks
-- with another bulk or with single postings (which lock in id order too). Each posting is
-- checked and computed against the state the earlier ones left; the operations of all of
-- them are inserted in one statement and each balance is written once, at the end (a hot
-- balance moved by 500 postings is one row update, not 500).
-- returns [{"ops": ...} | {"replay": ...} | {"error": ...}] in item order. With p_atomic the
-- loop stops at the first refusal (the caller rolls everything back).
CREATE OR REPLACE FUNCTION midaz_post_bulk(p_ledger uuid, p_items jsonb, p_atomic boolean)
RETURNS jsonb
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_item jsonb;
    v_result jsonb;
    v_results jsonb[] := '{}';
    v_rows jsonb[] := '{}';
    v_index jsonb;
    v_locked jsonb;
    v_ids uuid[];
    v_pos jsonb;
    v_state jsonb[];
    v_moved jsonb;
    v_key text;
    v_value jsonb;
BEGIN
    SELECT b.* INTO v_index, v_locked, v_ids
      FROM (SELECT array_agg(DISTINCT l->>'alias') AS aliases,
                   array_agg(DISTINCT (l->>'alias') || '#' || (l->>'key')) AS pairs
              FROM jsonb_array_elements(p_items) AS i, jsonb_array_elements(i->'legs') AS l) AS a,
           midaz_lock_balances(p_ledger, a.aliases, a.pairs) AS b;
    SELECT coalesce(jsonb_object_agg(key, n), '{}'), coalesce(array_agg(value ORDER BY n), '{}')
      INTO v_pos, v_state
      FROM jsonb_each(v_locked) WITH ORDINALITY AS e(key, value, n);
    FOR v_item IN SELECT * FROM jsonb_array_elements(p_items) LOOP
        v_result := midaz_post(v_item->'tx', v_item->'legs',
                               (v_item->'opts') || '{"soft": true}'::jsonb,
                               v_index, v_pos, v_state);
        IF v_result ? 'rows' THEN
            v_rows := array_append(v_rows, v_result->'rows');
            FOR v_key, v_value IN SELECT * FROM jsonb_each(v_result->'state') LOOP
                v_state[(v_pos->>v_key)::int] := v_value;
            END LOOP;
            v_result := v_result - 'rows' - 'state';
        END IF;
        v_results := array_append(v_results, v_result);
        IF p_atomic AND v_result ? 'error' THEN
            RETURN to_jsonb(v_results);  -- the caller rolls everything back: nothing to write
        END IF;
    END LOOP;
    INSERT INTO transactions_operation
    SELECT o.* FROM unnest(v_rows) AS r(rows),
                    jsonb_populate_recordset(NULL::transactions_operation, r.rows) AS o;
    SELECT jsonb_object_agg(key, v_state[n]) INTO v_moved
      FROM jsonb_each(v_locked) WITH ORDINALITY AS e(key, value, n)
     WHERE (v_state[n]->>'version')::bigint <> (value->>'version')::bigint;
    IF v_moved IS NOT NULL THEN
        PERFORM midaz_write_balances(v_moved, v_ids, now());
    END IF;
    RETURN to_jsonb(v_results);
END;
$fn$;
