#!/usr/bin/env bash
# The source-naming benchmark (issue 11). Not a test: ctest never calls it.
#
#   1. builds dmarcsift (Release) into build-bench, and gen_reports;
#   2. starts a throwaway PostgreSQL and the local DNS server (unbound on a
#      loopback port, fixtures/dns/zone.conf; nothing leaves the machine);
#   3. resolve throughput: one report with BENCH_IPS distinct sources
#      (198.18.0.0/15, RFC 2544's benchmarking range: the local server
#      answers NXDOMAIN for their PTR and origin names, plus the fixtures'
#      named sources), ingested with --no-resolve, then
#      `dmarcsift sources resolve`: lookups/s and DNS queries/s;
#   4. source marking: a report of BENCH_RECORDS records (gen_reports),
#      ingested with --no-resolve, then `sources resolve --no-lookup` (the
#      marking step alone: org domains, services, forwarded), per million
#      records, beside a bare per-source aggregation of the same records
#      (SELECT tenant_id, source_ip, sum(count) ... GROUP BY) as the floor;
#   5. prints the figures with the machine and the date.
#
# Environment: BENCH_IPS (default 20000), BENCH_RECORDS (default 1000000),
# BENCH_BUILD_DIR (default <repo>/build-bench), BENCH_TMPDIR (default /tmp).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
n_ips=${BENCH_IPS:-20000}
n_records=${BENCH_RECORDS:-1000000}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

say() { printf '== %s\n' "$*" >&2; }
fail() {
	printf 'bench_sources: %s\n' "$*" >&2
	exit 1
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
json_num() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }

say "building dmarcsift (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null || fail "cmake configure failed"
cmake --build "$build" -j"$jobs" --target dmarcsift >/dev/null || fail "build failed"
bin=$build/dmarcsift
mkdir -p "$build/bench"
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE "$root/tests/bench/gen_reports.c" \
	-o "$build/bench/gen_reports" $(pkg-config --cflags --libs libarchive zlib) ||
	fail "cannot build gen_reports"

tmp=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/dmarcsift-bench-sources.XXXXXX")
chmod 755 "$tmp"
cleanup() {
	"$root/scripts/dns-test-server.sh" stop "$tmp/dns" >/dev/null 2>&1 || true
	"$root/scripts/pg-test-server.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

say "starting PostgreSQL and the local DNS server"
conn=$("$root/scripts/pg-test-server.sh" start "$tmp/pg")
dns=$("$root/scripts/dns-test-server.sh" start "$tmp/dns")
export DMARCSIFT_DNS_SERVERS=$dns
sql() { psql "$1" -X -q -v ON_ERROR_STOP=1 -At -c "$2"; }
newdb() {
	sql "$conn" "CREATE DATABASE $1" >/dev/null
	printf '%s dbname=%s' "$conn" "$1"
}

# --- 3. resolve throughput ---------------------------------------------------
say "resolve: $n_ips distinct sources against $dns"
awk -v n="$n_ips" 'BEGIN {
	print "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>bench.example</org_name>"
	print "<report_id>bench-sources</report_id><date_range><begin>1700000000</begin>"
	print "<end>1700086399</end></date_range></report_metadata><policy_published>"
	print "<domain>example.com</domain><p>none</p></policy_published>"
	for (i = 0; i < n; i++) {
		ip = sprintf("198.%d.%d.%d", 18 + int(i / 65536) % 2, int(i / 256) % 256, i % 256)
		printf "<record><row><source_ip>%s</source_ip><count>1</count><policy_evaluated>", ip
		print "<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>"
		print "<identifiers><header_from>example.com</header_from></identifiers><auth_results>"
		print "<spf><domain>example.com</domain><result>pass</result></spf></auth_results></record>"
	}
	print "</feedback>"
}' >"$tmp/ips.xml"
db1=$(newdb bench_resolve)
# fixtures/sources: a few named sources. Not fixtures/reports, whose zone
# that never answers would add a fixed timeout to the figure.
DMARCSIFT_DB=$db1 "$bin" ingest --quiet --no-resolve "$tmp/ips.xml" "$root/fixtures/sources" \
	>/dev/null || fail "ingest failed"
DMARCSIFT_DB=$db1 "$bin" sources resolve --json >"$tmp/resolve.json" || fail "resolve failed"
resolved=$(json_num resolved <"$tmp/resolve.json")
queries=$(json_num queries <"$tmp/resolve.json")
lookup_s=$(json_num lookup_seconds <"$tmp/resolve.json")
left=$(json_num left <"$tmp/resolve.json")
named=$(sql "$db1" "SELECT count(*) FROM dmarcsift.v_sources WHERE service IS NOT NULL")
# The same run again: everything cached, nothing asked.
t0=$(now)
DMARCSIFT_DB=$db1 "$bin" sources resolve --json >"$tmp/resolve2.json" || fail "resolve failed"
t1=$(now)
cached_s=$(calc '%.2f' "$t1 - $t0")
stale2=$(json_num stale <"$tmp/resolve2.json")

# --- 4. marking ----------------------------------------------------------------
say "marking: $n_records records"
"$build/bench/gen_reports" big "$tmp/big.xml" "$tmp/big.xml.gz" "$tmp/big.tsv" "$n_records" >/dev/null
rm -f "$tmp/big.xml.gz" "$tmp/big.tsv"
db2=$(newdb bench_mark)
DMARCSIFT_DB=$db2 "$bin" ingest --quiet --no-resolve "$tmp/big.xml" >/dev/null || fail "ingest failed"
rm -f "$tmp/big.xml"
records=$(sql "$db2" "SELECT count(*) FROM dmarcsift.records")
sources=$(sql "$db2" "SELECT count(DISTINCT source_ip) FROM dmarcsift.records")
sql "$db2" "VACUUM ANALYZE" >/dev/null
t0=$(now)
sql "$db2" "SELECT count(*) FROM (SELECT tenant_id, source_ip, sum(count) FROM dmarcsift.records GROUP BY 1, 2) s" >/dev/null
t1=$(now)
floor_s=$(calc '%.3f' "$t1 - $t0")
# First run: organisational domains of every record domain, then marks.
DMARCSIFT_DB=$db2 "$bin" sources resolve --no-lookup --json >"$tmp/mark1.json" || fail "marking failed"
# Second run: marks only (domains known).
t0=$(now)
DMARCSIFT_DB=$db2 "$bin" sources resolve --no-lookup --json >"$tmp/mark2.json" || fail "marking failed"
t1=$(now)
mark1=$(json_num mark_seconds <"$tmp/mark1.json")
mark2=$(json_num mark_seconds <"$tmp/mark2.json")
whole2=$(calc '%.3f' "$t1 - $t0")
per_m() { calc '%.2f' "$1 * 1000000 / $records"; }

printf '\nsource naming, %s, %s\n' "$(date -u +%Y-%m-%d)" "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1 /proc/loadavg)"
printf '| measurement | figure | baseline (same run) |\n|---|---:|---:|\n'
printf '| resolve, %s sources (local unbound) | %s lookups/s (%s DNS queries/s; %s named, %s left) | |\n' \
	"$resolved" "$(calc '%.0f' "$resolved / $lookup_s")" "$(calc '%.0f' "$queries / $lookup_s")" "$named" "$left"
printf '| resolve again, all cached | %s s, %s stale | |\n' "$cached_s" "$stale2"
printf '| source marking, %s records / %s sources, first run (with org domains) | %s s per million records | bare GROUP BY %s s per million |\n' \
	"$records" "$sources" "$(per_m "$mark1")" "$(per_m "$floor_s")"
printf '| source marking, second run | %s s per million records (whole command %s s) | bare GROUP BY %s s per million |\n' \
	"$(per_m "$mark2")" "$whole2" "$(per_m "$floor_s")"
