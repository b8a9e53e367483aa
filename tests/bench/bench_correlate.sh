#!/usr/bin/env bash
# Correlation speed (issue 8 "Incremental and fast"): `dmarcsift correlate`
# over 10 million aggregate records and 1 million bounce events, full and
# incremental (one new day), beside a plain `SELECT count(*)` over the same
# tables as the floor, in the same run. Not a test: ctest never runs it.
#
#   1. builds dmarcsift (Release) into build-cbench unless BENCH_BUILD_DIR
#      has one;
#   2. starts a throwaway PostgreSQL (scripts/pg-test-server.sh; stopped on
#      exit), creates a database and migrates it;
#   3. generates the data server-side (generate_series, deterministic):
#      20 tenants x 5 domains, 6 reporting providers, BENCH_DAYS days of
#      daily reports (records spread so the total is BENCH_RECORDS), each
#      report's records inserted the way ingest does (one statement per
#      report batch, so the rollup trigger runs as at ingest), and
#      BENCH_BOUNCES bounce events over the same days (60 % deliveries,
#      ~20 % policy-class rejects, 10 % of them without a sending IP);
#   4. times the floors: count(*) over records and over bounces;
#   5. times `dmarcsift correlate --full` (twice: the second is the warm
#      figure) and then one new day — a day of reports and bounces — and
#      the incremental `dmarcsift correlate` that follows;
#   6. checks that a full run after the incremental one changes no flag
#      (the incremental run left what recomputing everything gives);
#   7. also times that new day's records insert against the same insert
#      into a plain copy of the table without triggers (the rollup's cost
#      at ingest).
#
# Environment: BENCH_RECORDS (10000000), BENCH_BOUNCES (1000000),
# BENCH_DAYS (60), BENCH_BUILD_DIR (<repo>/build-cbench), BENCH_TMPDIR
# (/tmp), BENCH_KEEP=1 keeps the work directory, BENCH_CONN (a libpq string
# for dbname=postgres on a server of your own: no throwaway server; the
# database "bench" is dropped and created there, and kept), BENCH_BIN (a
# dmarcsift binary to time instead of building one), BENCH_SNAPSHOT=NAME
# (with BENCH_CONN: the generated data is kept as database NAME and the next
# run with the same NAME copies it instead of generating again, then
# migrates it with the binary's migrations: before/after on the same rows).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-cbench}
nrec=${BENCH_RECORDS:-10000000}
nbounce=${BENCH_BOUNCES:-1000000}
days=${BENCH_DAYS:-60}

say() { printf '== %s\n' "$*" >&2; }
fail() {
	printf 'bench_correlate: %s\n' "$*" >&2
	exit 1
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

for tool in cmake psql awk; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/bench_correlate.XXXXXX")
chmod 755 "$work"
pgdir=$work/pg
cleanup() {
	"$root/scripts/pg-test-server.sh" stop "$pgdir" >/dev/null 2>&1 || true
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. build ----------------------------------------------------------------
if [ -n "${BENCH_BIN:-}" ]; then
	bin=$BENCH_BIN
	[ -x "$bin" ] || fail "BENCH_BIN $bin is not executable"
elif [ ! -x "$build/dmarcsift" ]; then
	say "building dmarcsift (Release) in $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 ||
		{ cat "$work/cmake.log" >&2; fail "cmake configure failed"; }
fi
if [ -z "${BENCH_BIN:-}" ]; then
	cmake --build "$build" -j2 --target dmarcsift >"$work/build.log" 2>&1 ||
		{ tail -40 "$work/build.log" >&2; fail "build failed"; }
	bin=$build/dmarcsift
fi

# --- 2. server, database --------------------------------------------------------
if [ -n "${BENCH_CONN:-}" ]; then # a server of your own (dbname=postgres)
	conn=$BENCH_CONN
	psql "$conn" -qAt -c "DROP DATABASE IF EXISTS bench" >/dev/null
else
	say "starting PostgreSQL in $pgdir"
	conn=$("$root/scripts/pg-test-server.sh" start "$pgdir" 2>"$work/pg.err") ||
		{ cat "$work/pg.err" >&2; fail "cannot start PostgreSQL"; }
fi
snap=${BENCH_SNAPSHOT:-}
[ -z "$snap" ] || [ -n "${BENCH_CONN:-}" ] || fail "BENCH_SNAPSHOT needs BENCH_CONN"
have_snap=0
if [ -n "$snap" ] &&
	[ "$(psql "$conn" -qAt -c "SELECT count(*) FROM pg_database WHERE datname = '$snap'")" = 1 ]; then
	have_snap=1
	say "copying the data of database $snap"
	psql "$conn" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE bench TEMPLATE \"$snap\"" >/dev/null
else
	psql "$conn" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE bench" >/dev/null
fi
db=${conn/dbname=postgres/dbname=bench}
"$bin" db migrate --db "$db" >/dev/null || fail "migrate failed"
q() { psql "$db" -qAt -v ON_ERROR_STOP=1 "$@"; }

# --- 3. data -------------------------------------------------------------------
per_report=$(( (nrec + 20 * 5 * 6 * days - 1) / (20 * 5 * 6 * days) ))
t0=$(now)
if [ "$have_snap" = 0 ]; then
say "generating $((20 * 5 * 6 * days)) reports x $per_report records and $nbounce bounces over $days days"
q <<SQL || fail "generation failed"
INSERT INTO dmarcsift.tenants (tenant_id, name) SELECT t, 'bench' || t FROM generate_series(1, 20) t;
INSERT INTO dmarcsift.tenant_domains SELECT t, 'd' || d || '.t' || t || '.example'
FROM generate_series(1, 20) t, generate_series(1, 5) d;
CREATE TABLE public.bench_orgs (o int, org text, prov text, rdom text);
INSERT INTO public.bench_orgs VALUES (0, 'google.com', 'google', 'gmail.com'),
	(1, 'Enterprise Outlook', 'microsoft', 'outlook.com'), (2, 'Yahoo', 'yahoo', 'yahoo.com'),
	(3, 'Apple Inc.', 'apple', 'icloud.com'), (4, 'GMX', 'gmx', 'gmx.de'),
	(5, 'comcast.net', 'comcast', 'comcast.net');
-- a deterministic "random" number in [0, n) from a few integers
CREATE FUNCTION public.h(a bigint, b bigint, n int) RETURNS int LANGUAGE sql IMMUTABLE AS
\$\$ SELECT (abs(hashint8(a * 1000003 + b)) % n)::int \$\$;
CREATE FUNCTION public.bench_reports(d0 int, d1 int) RETURNS void LANGUAGE sql AS \$\$
INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, begin_at, end_at,
	schema, records, messages)
SELECT t, o.org, 'r-' || t || '-' || d || '-' || o.o || '-' || day, 'd' || d || '.t' || t || '.example',
       timestamptz '2026-09-01 00:00:00+00' + day * interval '1 day',
       timestamptz '2026-09-01 00:00:00+00' + (day + 1) * interval '1 day' - interval '1 second',
       'rfc7489', 0, 0
FROM generate_series(d0, d1) day, generate_series(1, 20) t, generate_series(1, 5) d,
     public.bench_orgs o
\$\$;
-- records of the reports of one day; IPs 198.18.T.1-2 are an ESP whose
-- DKIM is not aligned (~92 % fail), the others pass (~99 %)
CREATE FUNCTION public.bench_records(day int, per int) RETURNS SETOF dmarcsift.records
LANGUAGE sql AS \$\$
SELECT r.tenant_id, r.id, s, ('198.18.' || r.tenant_id || '.' || (s % 12 + 1))::inet,
       (1 + public.h(r.id, s, 40))::bigint, 'none', x.dkim, x.spf,
       CASE WHEN s % 10 = 0 THEN 'news.' || r.policy_domain ELSE r.policy_domain END,
       r.policy_domain, NULL::text, '[]'::jsonb,
       jsonb_build_array(jsonb_build_object('domain',
           CASE WHEN s % 12 < 2 THEN 'esp.example' ELSE r.policy_domain END,
           'selector', 's' || (s % 3), 'result', CASE WHEN x.dkim = 'pass' OR s % 12 < 2 THEN 'pass' ELSE 'fail' END)),
       jsonb_build_array(jsonb_build_object('domain',
           CASE WHEN s % 12 < 2 THEN 'bounce.esp.example' ELSE r.policy_domain END,
           'scope', 'mfrom', 'result', x.spf)), NULL::jsonb
FROM dmarcsift.reports r
CROSS JOIN generate_series(0, per - 1) s
CROSS JOIN LATERAL (SELECT CASE WHEN s % 12 < 2 THEN public.h(r.id, s, 100) >= 92
                                ELSE public.h(r.id, s, 100) >= 1 END AS ok) p
CROSS JOIN LATERAL (SELECT CASE WHEN p.ok THEN 'pass' ELSE 'fail' END AS dkim,
                           CASE WHEN p.ok AND s % 12 >= 2 THEN 'pass' ELSE 'fail' END AS spf) x
WHERE r.begin_at = timestamptz '2026-09-01 00:00:00+00' + day * interval '1 day'
\$\$;
-- bounce events with ids i0..i1 spread over days d0..d1
CREATE FUNCTION public.bench_bounces(i0 bigint, i1 bigint, d0 int, d1 int) RETURNS void
LANGUAGE sql AS \$\$
INSERT INTO dmarcsift.bounces (tenant_id, at, status, sending_ip, mail_from_domain,
	header_from_domain, recipient, recipient_domain, provider, reply_code, enhanced_code, class,
	severity, action, is_block, rule, text, source, event_key, ip_source, from_org_domain)
SELECT t, timestamptz '2026-09-01 00:00:00+00'
          + (d0 + public.h(i, 1, d1 - d0 + 1)) * interval '1 day'
          + public.h(i, 2, 86400) * interval '1 second',
       CASE WHEN k < 60 THEN 'delivered' WHEN k < 65 THEN 'deferred' ELSE 'bounced' END,
       CASE WHEN k >= 80 AND public.h(i, 3, 10) = 0 THEN NULL
            ELSE ('198.18.' || t || '.' || (public.h(i, 4, 12) + 1))::inet END,
       dom, dom, 'u' || public.h(i, 5, 200000) || '@' || o.rdom, o.rdom, o.prov,
       CASE WHEN k < 60 THEN 250 WHEN k < 65 THEN 421 ELSE 550 END,
       CASE WHEN k < 60 THEN '2.0.0' WHEN k < 65 THEN '4.7.0' WHEN k < 80 THEN '5.1.1'
            WHEN k < 88 THEN '5.7.26' ELSE '5.7.1' END,
       c.class, 'escalate', 'investigate', k >= 80,
       'bench.' || c.class, c.class || ' reject text ' || public.h(i, 6, 5), 'bench',
       md5(i::text) || md5((-i)::text),
       CASE WHEN k >= 80 AND public.h(i, 3, 10) = 0 THEN 'none' ELSE 'log' END,
       'd' || d || '.t' || t || '.example'
FROM generate_series(i0, i1) i
CROSS JOIN LATERAL (SELECT 1 + public.h(i, 7, 20) AS t, 1 + public.h(i, 8, 5) AS d,
                           public.h(i, 9, 100) AS k) z
CROSS JOIN LATERAL (SELECT 'd' || z.d || '.t' || z.t || '.example' AS dom) dd
JOIN public.bench_orgs o ON o.o = public.h(i, 10, 6)
CROSS JOIN LATERAL (SELECT CASE WHEN k < 60 THEN 'accepted' WHEN k < 65 THEN 'deferred'
                                WHEN k < 80 THEN 'invalid_recipient' WHEN k < 88 THEN 'auth_failure'
                                WHEN k < 93 THEN 'reputation' WHEN k < 96 THEN 'blocklisted'
                                WHEN k < 98 THEN 'content' ELSE 'policy' END AS class) c
\$\$;
SQL
t0=$(now)
q -c "SELECT public.bench_reports(0, $((days - 1)))" >/dev/null || fail "reports failed"
for ((day = 0; day < days; day++)); do
	q -c "INSERT INTO dmarcsift.records SELECT * FROM public.bench_records($day, $per_report)" \
		>/dev/null || fail "records of day $day failed"
	[ $((day % 10)) = 9 ] && say "  records: $((day + 1)) of $days days"
done
q -c "SELECT public.bench_bounces(1, $nbounce, 0, $((days - 1)))" >/dev/null || fail "bounces failed"
q -c "VACUUM ANALYZE" >/dev/null
if [ -n "$snap" ]; then
	say "keeping the data as database $snap"
	psql "$conn" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$snap\" TEMPLATE bench" >/dev/null
fi
fi
q -c "VACUUM ANALYZE" >/dev/null
t1=$(now)
gen_s=$(calc '%.0f' "$t1 - $t0")
nrecords=$(q -c "SELECT count(*) FROM dmarcsift.records")
nbounces=$(q -c "SELECT count(*) FROM dmarcsift.bounces")
npolicy=$(q -c "SELECT count(*) FROM dmarcsift.bounces WHERE status <> 'delivered' AND class IN ('auth_failure','policy','blocklisted','reputation','content')")
nrollup=$(q -c "SELECT count(*) FROM dmarcsift.record_sources")

# --- 4. floors -----------------------------------------------------------------
timeq() { # SQL -> seconds (best of 3)
	local best=""
	for _ in 1 2 3; do
		local a b
		a=$(now)
		q -c "$1" >/dev/null
		b=$(now)
		local s
		s=$(calc '%.3f' "$b - $a")
		if [ -z "$best" ] || awk "BEGIN { exit !($s < $best) }"; then best=$s; fi
	done
	echo "$best"
}
floor_rec=$(timeq "SELECT count(*) FROM dmarcsift.records")
floor_bnc=$(timeq "SELECT count(*) FROM dmarcsift.bounces")

# --- 5. correlate ----------------------------------------------------------------
corr() { # ARGS -> seconds; the summary line into $work/corr.txt
	local a b
	a=$(now)
	"$bin" correlate --db "$db" "$@" >"$work/corr.txt" || fail "correlate $* failed"
	b=$(now)
	calc '%.3f' "$b - $a"
}
say "correlate --full (cold: first run, builds the flags)"
full_cold=$(corr --full)
full_cold_line=$(cat "$work/corr.txt")
say "correlate --full (again: recomputes everything, changes nothing)"
full=$(corr --full)
full_line=$(cat "$work/corr.txt")
nflags=$(q -c "SELECT count(*) FROM dmarcsift.flags")

say "one new day: $((20 * 5 * 6)) reports x $per_report records, $((nbounce / days)) bounces"
# the rollup's cost at ingest: the same day's rows into a plain copy
q -c "SELECT public.bench_reports($days, $days)" >/dev/null
q -c "CREATE TABLE public.day_rows AS SELECT * FROM public.bench_records($days, $per_report)" >/dev/null
q -c "CREATE TABLE public.records_plain (LIKE dmarcsift.records INCLUDING ALL)" >/dev/null
a=$(now)
q -c "INSERT INTO public.records_plain SELECT * FROM public.day_rows" >/dev/null
b=$(now)
ins_plain=$(calc '%.3f' "$b - $a")
a=$(now)
q -c "INSERT INTO dmarcsift.records SELECT * FROM public.day_rows" >/dev/null
b=$(now)
ins_trig=$(calc '%.3f' "$b - $a")
day_records=$(q -c "SELECT count(*) FROM public.day_rows")
q -c "SELECT public.bench_bounces($((nbounce + 1)), $((nbounce + nbounce / days)), $days, $days)" >/dev/null
q -c "ANALYZE dmarcsift.bounces" >/dev/null
incr=$(corr)
incr_line=$(cat "$work/corr.txt")
noop=$(corr)
noop_line=$(cat "$work/corr.txt")
# the incremental run must have left what a full run computes
check=$(corr --full)
check_line=$(cat "$work/corr.txt")
case $check_line in
*" 0 new flags, 0 changed, 0 resolved"*) ;;
*) fail "a full run after the incremental one changed flags: $check_line" ;;
esac

# --- 6. figures --------------------------------------------------------------------
load=$(cut -d' ' -f1-3 /proc/loadavg)
cat <<EOF

dmarcsift correlation benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, load $load, $(psql "$db" -qAt -c 'SHOW server_version'))
data: $nrecords aggregate records in $((20 * 5 * 6 * (days + 1))) reports ($nrollup rollup rows), $nbounces bounce events ($npolicy policy-class rejects), 20 tenants, $days+1 days; generated in ${gen_s} s
  floor: SELECT count(*) FROM records     ${floor_rec} s
  floor: SELECT count(*) FROM bounces     ${floor_bnc} s
  correlate --full, first run             ${full_cold} s   ($full_cold_line)
  correlate --full, again                 ${full} s   ($full_line)
  flags                                   $nflags
  one new day, records insert with rollup ${ins_trig} s for $day_records records (same rows into a plain table: ${ins_plain} s)
  correlate (incremental, one new day)    ${incr} s   ($incr_line)
  correlate (incremental, nothing new)    ${noop} s   ($noop_line)
  check: correlate --full after them      ${check} s   ($check_line: the same flags)
EOF
