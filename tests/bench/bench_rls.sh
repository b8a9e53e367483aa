#!/usr/bin/env bash
# The row-level security benchmark (issue 9 "Benchmark"). Not a test: it
# never gates CI. On a throwaway PostgreSQL (scripts/pg-test-server.sh,
# stopped on exit) it:
#   1. migrates a database with the dmarcsift binary (BENCH_BIN, default
#      <repo>/build/dmarcsift) and fills it with BENCH_RECORDS records
#      (default 10,000,000) in reports of 1,000 records, spread over
#      BENCH_TENANTS tenants (default 50) and 365 days, by SQL (no parsing:
#      this measures the read side);
#   2. runs one tenant's daily rollup over 90 days through v_daily, as a
#      login role granted that tenant (row-level security decides), beside the
#      same query as the owner (no RLS, tenant chosen by a WHERE clause);
#   3. does the same with the alternative policy — pg_has_role() evaluated
#      against the mapping in the policy itself — and prints both ratios.
# Each timing is the best of BENCH_REPEAT (default 3) runs, warm cache.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BENCH_BIN:-$root/build/dmarcsift}
n=${BENCH_RECORDS:-10000000}
tenants=${BENCH_TENANTS:-50}
repeat=${BENCH_REPEAT:-3}
dir=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/dmarcsift-bench-rls.XXXXXX")
chmod 755 "$dir"
trap '"$root/scripts/pg-test-server.sh" stop "$dir/pg"; rm -rf "$dir"' EXIT

[ -x "$bin" ] || { echo "bench_rls: build dmarcsift first ($bin)" >&2; exit 1; }
server=$("$root/scripts/pg-test-server.sh" start "$dir/pg")
psql_su() { psql "$server" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_su -c "CREATE DATABASE bench"
db="$server dbname=bench"
"$bin" db migrate --db "$db" >/dev/null

echo "== generating $n records for $tenants tenants"
reports=$(( (n + 999) / 1000 ))
psql "$db" -X -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO dmarcsift.tenants (name) SELECT 't' || g FROM generate_series(1, $tenants) g;
INSERT INTO dmarcsift.tenant_domains (tenant_id, domain)
  SELECT tenant_id, name || '.example' FROM dmarcsift.tenants WHERE tenant_id > 0;
INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, begin_at, end_at,
                               schema, records, messages)
  SELECT 1 + g % $tenants, 'reporter' || (g % 7), 'r' || g, 't' || (1 + g % $tenants) || '.example',
         timestamptz '2026-01-01' + ((g / $tenants) % 365) * interval '1 day',
         timestamptz '2026-01-01' + ((g / $tenants) % 365) * interval '1 day' + interval '1 day',
         'rfc7489', 1000, 1000
  FROM generate_series(1, $reports) g;
INSERT INTO dmarcsift.records (tenant_id, report_pk, seq, source_ip, count, disposition, dkim, spf)
  SELECT r.tenant_id, r.id, s, ('10.' || (s % 200) || '.' || (r.id % 250) || '.1')::inet, 1 + s % 5,
         'none', CASE WHEN s % 10 = 0 THEN 'fail' ELSE 'pass' END,
         CASE WHEN s % 4 = 0 THEN 'fail' ELSE 'pass' END
  FROM dmarcsift.reports r, generate_series(0, 999) s;
VACUUM ANALYZE dmarcsift.reports;
VACUUM ANALYZE dmarcsift.records;
SQL
psql_su -c "CREATE ROLE bench_reader LOGIN" -c "CREATE ROLE bench_msp LOGIN IN ROLE dmarcsift_msp" 2>/dev/null || true
"$bin" tenant grant --db "$db" t7 bench_reader >/dev/null

query="SELECT day, sum(messages) AS messages, sum(dmarc_pass) AS pass FROM dmarcsift.v_daily
 WHERE day >= date '2026-03-01' AND day < date '2026-05-30' AND tenant = 't7' GROUP BY day ORDER BY day"
reader_query="SELECT day, sum(messages) AS messages, sum(dmarc_pass) AS pass FROM dmarcsift.v_daily
 WHERE day >= date '2026-03-01' AND day < date '2026-05-30' GROUP BY day ORDER BY day"

# Best wall time in ms of `repeat` runs of SQL as USER (psql \timing).
best_ms() {
	local user=$1 sql=$2 best=""
	for _ in $(seq "$repeat"); do
		t=$(psql "$db user=$user" -X -q -c '\timing on' -c "$sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
	done
	echo "$best"
}
rows() { psql "$db user=$1" -X -At -c "SELECT count(*), sum(messages) FROM ($2) q"; }

owner_rows=$(rows postgres "$query")
reader_rows=$(rows bench_reader "$reader_query")
[ "$owner_rows" = "$reader_rows" ] || { echo "bench_rls: the reader sees $reader_rows, the owner $owner_rows" >&2; exit 1; }
owner=$(best_ms postgres "$query")
definer=$(best_ms bench_reader "$reader_query")

# The alternative: pg_has_role() against the mapping, inside the policy.
psql "$db" -X -q -v ON_ERROR_STOP=1 <<'SQL'
GRANT SELECT ON dmarcsift.tenant_roles TO dmarcsift_reader;
DO $$
DECLARE t regclass;
BEGIN
	FOREACH t IN ARRAY ARRAY['dmarcsift.reports', 'dmarcsift.records', 'dmarcsift.tenants']::regclass[] LOOP
		EXECUTE format('ALTER POLICY tenant_by_role ON %s USING ('
		  'pg_has_role(current_user, ''dmarcsift_msp'', ''MEMBER'') OR EXISTS ('
		  'SELECT 1 FROM dmarcsift.tenant_roles m WHERE m.tenant_id = %s.tenant_id'
		  ' AND pg_has_role(current_user, m.role, ''MEMBER'')))', t, t);
	END LOOP;
END $$;
SQL
reader_rows2=$(rows bench_reader "$reader_query")
[ "$owner_rows" = "$reader_rows2" ] || { echo "bench_rls: pg_has_role variant sees $reader_rows2" >&2; exit 1; }
has_role=$(best_ms bench_reader "$reader_query")

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
echo
echo "== a tenant's 90-day daily rollup (v_daily), $n records, $tenants tenants, best of $repeat"
echo "   $(date -u +%F) $(nproc) cores, $(uname -m), $(psql "$server" -XAt -c 'SHOW server_version')"
printf '%-52s %10s %8s\n' "query" "ms" "ratio"
printf '%-52s %10s %8s\n' "owner, WHERE tenant = (no RLS; baseline)" "$owner" "1.00"
printf '%-52s %10s %8s\n' "reader, RLS: SECURITY DEFINER STABLE functions" "$definer" "$(ratio "$definer" "$owner")"
printf '%-52s %10s %8s\n' "reader, RLS: pg_has_role() per row in the policy" "$has_role" "$(ratio "$has_role" "$owner")"
