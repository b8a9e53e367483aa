#!/usr/bin/env bash
# Benchmark: removing one month of aggregate data out of ~13 months, three
# ways, to choose how `dmarcsift prune` works (see tests/bench/README.md,
# "Retention"). Not run in CI.
#
# Generates its data straight into a throwaway PostgreSQL, into the real
# schema (`dmarcsift db migrate`): TENANTS tenants x 395 days x REPORTERS
# reports a day, RECORDS in all. The reports are inserted with triggers off
# (session_replication_role = replica; the test server's user is a
# superuser); each tenant's records in one statement with them on, so the
# statement triggers build the derived tables (daily_rollup, domain_rollup,
# record_sources) as at ingest, in one pass per tenant.
#
# Then:
#   A. on tenant t1's month MONTH, the schema as it is: batched DELETE FROM reports (records
#      and record_sources follow by ON DELETE CASCADE, the
#      per-row rollup trigger subtracts each report), timed on a few batches
#      and extrapolated;
#   B. `dmarcsift prune --tenant t2` of t2's oldest month: per batch of
#      reports (at most BATCH_RECORDS records, one transaction each) the
#      rollups are subtracted in one statement, then record_sources and
#      records are deleted by (tenant_id, report_pk),
#      then the reports (db/sql/prune_reports_*.sql);
#   C. a partitioned copy of records (PARTITION BY RANGE on the month of the
#      report, the month in the primary key): DETACH PARTITION then DROP TABLE
#      of December 2025, every tenant's.
# Every step prints its wall time and the longest single transaction.
#   tests/bench/bench_prune.sh [BUILD_DIR] [RECORDS]
# Environment: TENANTS (4), REPORTERS (60), BATCH_RECORDS (records per
# batch in B, 50000), MONTH (A's month: 0 = the oldest, Nov 2025), PHASES
# ("A B C"), A_BATCH (reports per A batch, 50), A_RUNS (3), RAW=1 (give
# every report a 4 KiB raw message, which prune then deletes too); BENCH_KEEP=1 leaves the server running with the data, and
# BENCH_DB=CONN reuses such a server (the generation is skipped; the
# binary's migrations are applied first, so one data set can be measured
# before and after a migration).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
total=${2:-10000000}
tenants=${TENANTS:-4}
reporters=${REPORTERS:-60}
batch=${BATCH_RECORDS:-50000}
phases=${PHASES:-A B C}
month=${MONTH:-0}
days=395
bin="$build/dmarcsift"
[ -x "$bin" ] || { echo "build first: $bin" >&2; exit 2; }
q() { psql -X -Atq -v ON_ERROR_STOP=1 "$db" "$@"; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
if [ -n "${BENCH_DB:-}" ]; then
	db=$BENCH_DB
	export DMARCSIFT_DB="$db"
	"$bin" db migrate >/dev/null
	fresh=0
else
	tmp=$(mktemp -d /tmp/dmarcsift-bench-prune.XXXXXX)
	chmod 755 "$tmp"
	db=
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		trap 'echo "kept: $tmp (server: $db)" >&2' EXIT
	else
		trap 'scripts/pg-test-server.sh stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
	fi
	server=$(scripts/pg-test-server.sh start "$tmp/pg")
	psql -X -q "$server" -c "CREATE DATABASE bench"
	db=$(printf '%s' "$server" | sed 's/dbname=[^ ]*/dbname=bench/')
	export DMARCSIFT_DB="$db"
	"$bin" db migrate >/dev/null
	for t in $(seq -w 1 "$tenants"); do
		"$bin" tenant add "t$t" "t$t.example" >/dev/null
	done
	fresh=1
fi
per_report=$(( total / (tenants * days * reporters) ))

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$fresh" = 1 ]; then
	echo "== generating $((tenants * days * reporters)) reports x $per_report records"
	start=$(date +%s%N)
	q <<-SQL
	SET session_replication_role = replica;
	INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, begin_at, end_at,
	                               schema, p, pct, records, messages, raw_sha256)
	SELECT t.tenant_id, 'reporter' || r || '.example', 'b-' || d || '-' || r, t.name || '.example',
	       timestamptz '2025-11-01' + d * interval '1 day',
	       timestamptz '2025-11-01' + d * interval '1 day' + interval '86399 seconds',
	       'rfc7489', 'none', 100, $per_report, 0,
	       encode(sha256(convert_to(t.tenant_id || '-' || d || '-' || r, 'UTF8')), 'hex')
	FROM dmarcsift.tenants t, generate_series(0, $days - 1) d, generate_series(1, $reporters) r
	WHERE t.tenant_id > 0
	ORDER BY d, t.tenant_id, r;
	SQL
	for t in $(seq -w 1 "$tenants"); do
		q <<-SQL
	INSERT INTO dmarcsift.records (tenant_id, report_pk, seq, source_ip, count, disposition, dkim, spf,
	                               header_from, dkim_auth, spf_auth)
	SELECT r.tenant_id, r.id, g, '198.18.0.0'::inet + (r.tenant_id * 4096 + (g * 7 + r.id) % 3000),
	       1 + g % 5, 'none',
	       CASE WHEN g % 10 = 0 THEN 'fail' ELSE 'pass' END,
	       CASE WHEN g % 20 = 0 THEN 'fail' ELSE 'pass' END, r.policy_domain,
	       CASE WHEN g % 10 = 0 THEN jsonb_build_array(jsonb_build_object('domain', r.policy_domain,
	            'selector', 's1', 'result', 'fail')) ELSE '[]' END,
	       CASE WHEN g % 20 = 0 THEN jsonb_build_array(jsonb_build_object('domain', r.policy_domain,
	            'result', 'softfail')) ELSE '[]' END
	FROM dmarcsift.reports r, generate_series(0, $per_report - 1) g
	WHERE r.tenant_id = (SELECT tenant_id FROM dmarcsift.tenants WHERE name = 't$t');
	SQL
	done
	if [ "${RAW:-0}" = 1 ]; then
		# every report's raw message, 4 KiB (stored EXTERNAL, like the real ones)
		q <<-'SQL'
		INSERT INTO dmarcsift.raw_messages (sha256, received_at, size, data, status)
		SELECT raw_sha256, end_at + interval '2 hours', 4096,
		       decode(repeat(md5(raw_sha256), 256), 'hex'), 'ok'
		FROM dmarcsift.reports;
		SQL
	fi
	gen=$(ms "$start")
	start=$(date +%s%N)
	q -c "VACUUM ANALYZE"
	derive=$(ms "$start")
fi
records=$(q -c "SELECT count(*) FROM dmarcsift.records")
size=$(q -c "SELECT pg_size_pretty(pg_total_relation_size('dmarcsift.records'))")
rollup=$(q -c "SELECT count(*) FROM dmarcsift.daily_rollup")
srcs=$(q -c "SELECT count(*) FROM dmarcsift.record_sources")
echo "records: $records ($size); daily_rollup: $rollup; record_sources: $srcs"
[ "$fresh" = 1 ] && echo "generated (with the derived tables) in $((gen / 1000)) s, vacuumed in $((derive / 1000)) s"

# A: the schema as it is, DELETE FROM reports in small batches, on tenant
# t1's month MONTH; a few batches, extrapolated to the month.
m0=$(date -u -d "2025-11-01 +$month month" +%F)
m1=$(date -u -d "2025-11-01 +$((month + 1)) month" +%F)
month_of() { # $1 tenant name -> "reports records" of month MONTH
	q -F' ' -c "SELECT count(*), coalesce(sum(r.records), 0) FROM dmarcsift.reports r
	            JOIN dmarcsift.tenants t ON t.tenant_id = r.tenant_id
	            WHERE t.name = '$1' AND r.begin_at >= '$m0' AND r.end_at < '$m1'"
}
if [[ " $phases " == *" A "* ]]; then
	read -r a_reports a_records < <(month_of t1)
	echo "== A: t1, $m0: $a_reports reports, $a_records records"
	a_batch=${A_BATCH:-50}
	a_runs=${A_RUNS:-3}
	a_max=0 a_total=0 a_n=0
	while [ "$a_n" -lt "$a_runs" ]; do
		s=$(date +%s%N)
		q -c "DELETE FROM dmarcsift.reports WHERE (tenant_id, id) IN (
		      SELECT r.tenant_id, r.id FROM dmarcsift.reports r JOIN dmarcsift.tenants t USING (tenant_id)
		      WHERE t.name = 't1' AND r.begin_at >= '$m0' AND r.end_at < '$m1' ORDER BY r.id LIMIT $a_batch)" >/dev/null
		t=$(ms "$s")
		a_total=$((a_total + t)); a_n=$((a_n + 1)); [ "$t" -gt "$a_max" ] && a_max=$t
	done
	a_month=$(( a_total * a_reports / (a_n * a_batch) ))
	echo "A: DELETE FROM reports (per-row rollup trigger), $a_n batches of $a_batch reports: $a_total ms," \
	     "longest $a_max ms; extrapolated to the month ($a_reports reports): $((a_month / 1000)) s"
fi

# B: `dmarcsift prune` of tenant t2's oldest month: the window ends between
# the end of 2025-11-30's reports and the end of 2025-12-01's.
if [[ " $phases " == *" B "* ]]; then
	month=0 m0=2025-11-01 m1=2025-12-01
	read -r b_reports b_records < <(month_of t2)
	window=$(( ($(date -u +%s) - $(date -u -d 2025-12-01T00:00:00Z +%s)) / 86400 ))
	echo "== B: dmarcsift prune --tenant t2 --older-than ${window}d: $b_reports reports, $b_records records"
	s=$(date +%s%N)
	"$bin" prune --tenant t2 --older-than "${window}d" --batch-records "$batch"
	echo "B: prune, batches of about $batch records: $(ms "$s") ms in all"
	left=$(month_of t2)
	check=$(q -c "SELECT count(*) FROM (
		(SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, messages, records FROM dmarcsift.domain_rollup
		 EXCEPT
		 SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date, r.policy_domain,
		        coalesce(lower(x.dkim) = 'pass', false), coalesce(lower(x.spf) = 'pass', false),
		        sum(x.count), count(*)
		 FROM dmarcsift.records x JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
		 GROUP BY 1, 2, 3, 4, 5)
		UNION ALL
		(SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date, r.policy_domain,
		        coalesce(lower(x.dkim) = 'pass', false), coalesce(lower(x.spf) = 'pass', false),
		        sum(x.count), count(*)
		 FROM dmarcsift.records x JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
		 GROUP BY 1, 2, 3, 4, 5
		 EXCEPT
		 SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, messages, records FROM dmarcsift.domain_rollup)) d")
	echo "   left of the month: $left (reports records); domain_rollup rows differing from a recomputation: $check"
fi

# C: a partitioned copy of records (by the month of its report, which the
# primary key must then include), and one month dropped from it.
if [[ " $phases " == *" C "* ]]; then
	start=$(date +%s%N)
	q <<'SQL'
DROP TABLE IF EXISTS dmarcsift.records_p;
CREATE TABLE dmarcsift.records_p (LIKE dmarcsift.records INCLUDING DEFAULTS,
	month date NOT NULL,
	PRIMARY KEY (tenant_id, report_pk, seq, month)) PARTITION BY RANGE (month);
DO $$
DECLARE m date;
BEGIN
	FOR m IN SELECT generate_series(date '2025-11-01', date '2026-12-01', interval '1 month')::date LOOP
		EXECUTE format('CREATE TABLE dmarcsift.records_p_%s PARTITION OF dmarcsift.records_p
		                FOR VALUES FROM (%L) TO (%L)', to_char(m, 'YYYYMM'), m, m + interval '1 month');
	END LOOP;
END $$;
CREATE INDEX ON dmarcsift.records_p (tenant_id, source_ip);
INSERT INTO dmarcsift.records_p
SELECT x.*, date_trunc('month', r.begin_at AT TIME ZONE 'UTC')::date
FROM dmarcsift.records x JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk;
ANALYZE dmarcsift.records_p;
SQL
	copy=$(ms "$start")
	part=$(q -c "SELECT count(*) FROM dmarcsift.records_p_202512")
	s=$(date +%s%N)
	q -c "ALTER TABLE dmarcsift.records_p DETACH PARTITION dmarcsift.records_p_202512" >/dev/null
	c_detach=$(ms "$s")
	s=$(date +%s%N)
	q -c "DROP TABLE dmarcsift.records_p_202512" >/dev/null
	c_drop=$(ms "$s")
	s=$(date +%s%N)
	q -c "DELETE FROM dmarcsift.records_p WHERE month = '2026-01-01'" >/dev/null
	c_del=$(ms "$s")
	echo "C: partitioned copy built in $((copy / 1000)) s; month 2025-12 (every tenant, $part records):" \
	     "DETACH $c_detach ms, DROP $c_drop ms; for comparison, one DELETE of month 2026-01 from the" \
	     "partitioned copy (no triggers, no foreign keys): $c_del ms"
	q -c "DROP TABLE dmarcsift.records_p" >/dev/null
fi
