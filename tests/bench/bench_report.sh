#!/usr/bin/env bash
# Benchmark: a tenant report and the MSP overview over 10 million aggregate
# records, read from the daily rollups (aim: under a second each). Not run
# in CI. Generates its data straight into a throwaway PostgreSQL (the
# parser's speed is bench_ingest.sh's business): 10 tenants x 30 days x 20
# reporters, each report ~1,667 records over 3,000 sending addresses per
# tenant, a tenth failing DKIM and a twentieth failing both. Prints the data
# size and, as baselines from the same run, a bare count(*) over the records
# and the tenant summary computed from the records instead of the rollup.
# Every tenant gets a reading role (tenant grant), so the reports are read
# as they are in use: as the tenant's role, through row-level security.
#   tests/bench/bench_report.sh [BUILD_DIR] [RECORDS]
# BENCH_KEEP=1 leaves the server running with the data (its connection
# string is printed; stop it with scripts/pg-test-server.sh stop DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
total=${2:-10000000}
bin="$build/dmarcsift"
[ -x "$bin" ] || { echo "build first: $bin" >&2; exit 2; }
tmp=$(mktemp -d /tmp/dmarcsift-bench-report.XXXXXX)
chmod 755 "$tmp"
if [ "${BENCH_KEEP:-0}" = 1 ]; then
	trap 'echo "kept: $tmp (server: $db)" >&2' EXIT
else
	trap 'scripts/pg-test-server.sh stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
fi
db=
server=$(scripts/pg-test-server.sh start "$tmp/pg")
psql -X -q "$server" -c "CREATE DATABASE bench"
db=$(printf '%s' "$server" | sed 's/dbname=[^ ]*/dbname=bench/')
export DMARCSIFT_DB="$db"
"$bin" db migrate >/dev/null
tenants=10 days=30 reporters=20
per_report=$(( total / (tenants * days * reporters) ))
for t in $(seq -w 1 $tenants); do
	"$bin" tenant add "t$t" "t$t.example" >/dev/null
	"$bin" tenant grant "t$t" "t${t}_ro" >/dev/null
done
echo "== generating $((tenants * days * reporters)) reports x $per_report records"
start=$(date +%s)
psql -X -q "$db" <<SQL
INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, begin_at, end_at,
                               schema, p, pct, records, messages)
SELECT t.tenant_id, 'reporter' || r || '.example', 'b-' || d || '-' || r, t.name || '.example',
       timestamptz '2026-11-01' + d * interval '1 day',
       timestamptz '2026-11-01' + d * interval '1 day' + interval '86399 seconds',
       'rfc7489', 'none', 100, $per_report, 0
FROM dmarcsift.tenants t, generate_series(0, $days - 1) d, generate_series(1, $reporters) r
WHERE t.tenant_id > 0;
SQL
for t in $(seq 1 $tenants); do
	psql -X -q "$db" <<SQL
INSERT INTO dmarcsift.records (tenant_id, report_pk, seq, source_ip, count, disposition, dkim, spf, header_from)
SELECT r.tenant_id, r.id, g, '198.18.0.0'::inet + (r.tenant_id * 4096 + (g * 7 + r.id) % 3000),
       1 + g % 5, 'none',
       CASE WHEN g % 10 = 0 THEN 'fail' ELSE 'pass' END,
       CASE WHEN g % 20 = 0 THEN 'fail' ELSE 'pass' END, r.policy_domain
FROM dmarcsift.reports r, generate_series(0, $per_report - 1) g
WHERE r.tenant_id = (SELECT tenant_id FROM dmarcsift.tenants WHERE name = 't$(printf %02d "$t")');
SQL
done
psql -X -q "$db" -c "VACUUM ANALYZE"
echo "generated in $(( $(date +%s) - start )) s"
records=$(psql -X -Atq "$db" -c "SELECT count(*) FROM dmarcsift.records")
rollup=$(psql -X -Atq "$db" -c "SELECT count(*) FROM dmarcsift.daily_rollup")
size=$(psql -X -Atq "$db" -c "SELECT pg_size_pretty(pg_total_relation_size('dmarcsift.records'))")
echo "records: $records ($size); daily_rollup rows: $rollup"

best() { # best wall time of 3 runs, in ms
	local b=999999 s e ms
	for _ in 1 2 3; do
		s=$(date +%s%N)
		"$@" >/dev/null
		e=$(date +%s%N)
		ms=$(( (e - s) / 1000000 ))
		[ "$ms" -lt "$b" ] && b=$ms
	done
	echo "$b"
}
period=(--since 2026-11-01 --until 2026-11-30)
tr=$(best "$bin" report --tenant t01 "${period[@]}")
trh=$(best "$bin" report --tenant t01 "${period[@]}" --format html)
ov=$(best "$bin" report --all-tenants "${period[@]}")
cnt=$(best psql -X -Atq "$db" -c "SELECT count(*) FROM dmarcsift.records")
raw=$(best psql -X -Atq "$db" -c "SELECT sum(x.count), sum(x.count) FILTER (WHERE x.dkim = 'pass' OR x.spf = 'pass') FROM dmarcsift.records x JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk WHERE x.tenant_id = (SELECT tenant_id FROM dmarcsift.tenants WHERE name = 't01') AND r.begin_at >= '2026-11-01' AND r.begin_at < '2026-12-01'")
echo
printf '%-58s %8s\n' "measurement ($records records, best of 3)" "ms"
printf '%-58s %8d\n' "tenant report, text (t01: 1/10 of the records)" "$tr"
printf '%-58s %8d\n' "tenant report, html" "$trh"
printf '%-58s %8d\n' "MSP overview, all 10 tenants" "$ov"
printf '%-58s %8d\n' "baseline: SELECT count(*) FROM records (all)" "$cnt"
printf '%-58s %8d\n' "baseline: t01's summary alone from the records" "$raw"
