#!/usr/bin/env bash
# A/B of the apply step alone: this checkout's midaz_post against the one of git revision REV,
# on the benchmark database that `make bench` left (its seed: @hot and @acct0000..0999), with
# pgbench calling each function directly (hot account: @hot pays a random account), rounds
# alternating so that the shared machine's drift hits both alike.
#
#   bench/ab_function.sh REV [ROUNDS] [SECONDS]
# AB_OPTS adds options to both calls, e.g. AB_OPTS='{"events": true}'.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/ab_function.sh REV [ROUNDS] [SECONDS]}
rounds=${2:-3}
seconds=${3:-8}
db=midaz_bench
psql_() { psql -h 127.0.0.1 -U midaz -d "$db" -v ON_ERROR_STOP=1 -Atq "$@"; }

# The old function under another name (its helpers are shared with this checkout's).
git show "$rev:transactions/sql/midaz_post.sql" | .venv/bin/python -c '
import sys
s = sys.stdin.read()
start = s.index("CREATE OR REPLACE FUNCTION midaz_post(p_tx jsonb")
end = s.index("CREATE OR REPLACE FUNCTION midaz_post_bulk")
sys.stdout.write(s[start:end].replace("FUNCTION midaz_post(", "FUNCTION midaz_post_ab_base("))
' | psql_
read -r ledger org < <(psql_ -F ' ' -c "SELECT ledger_id, organization_id FROM transactions_balance
                                        WHERE alias = '@hot' AND deleted_at IS NULL LIMIT 1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for fn in midaz_post_ab_base midaz_post; do
    cat >"$work/$fn.sql" <<SQL
\set n random(0, 999)
SELECT $fn(
  jsonb_build_object('id', gen_random_uuid(), 'created_at', now(), 'updated_at', now(),
    'metadata', '{}'::jsonb, 'organization_id', '$org', 'ledger_id', '$ledger',
    'status', 'APPROVED', 'status_description', 'APPROVED', 'amount', '0.01',
    'asset_code', 'USD', 'source', '{"@hot"}', 'destination', '{"@acct0000"}',
    'fees_skipped', false, 'tracer_skipped', false),
  jsonb_build_array(
    jsonb_build_object('op', gen_random_uuid(), 'od_op', gen_random_uuid(), 'alias', '@hot',
      'key', 'default', 'amount', '0.01', 'source', true, 'kind', 'debit', 'type', 'DEBIT',
      'direction', 'debit', 'metadata', '{}'::jsonb),
    jsonb_build_object('op', gen_random_uuid(), 'od_op', gen_random_uuid(),
      'alias', '@acct' || lpad(:n::text, 4, '0'), 'key', 'default', 'amount', '0.01',
      'source', false, 'kind', 'credit', 'type', 'CREDIT', 'direction', 'credit',
      'metadata', '{}'::jsonb)),
  jsonb_build_object('mode', 'insert', 'check_rules', true, 'now', now()) || '${AB_OPTS:-{\}}'::jsonb);
SQL
done
for round in $(seq "$rounds"); do
    for fn in midaz_post_ab_base midaz_post; do
        tps=$(pgbench -h 127.0.0.1 -U midaz -n -c 8 -j 2 -T "$seconds" -f "$work/$fn.sql" "$db" \
              | awk '/^tps/ {print int($3)}')
        label=$([ "$fn" = midaz_post ] && echo "this checkout" || echo "$rev")
        echo "round $round  $label: $tps postings/s (hot account, 8 clients)"
    done
done
psql_ -c "DROP FUNCTION midaz_post_ab_base(jsonb, jsonb, jsonb)"
