#!/usr/bin/env bash
# The small-report benchmark (issue 14, "Small reports"). Not a test: ctest
# never runs it and it gates nothing. In one run, on one throwaway
# PostgreSQL, with the steps interleaved (floor, .xml.gz, duplicates, .eml;
# then again, BENCH_REPEAT times) so that a neighbour's load hits all alike:
#
#   floor       one psql session: for each report BEGIN; \copy of its rows
#               into dmarcsift.records; COMMIT (the parent report rows
#               inserted beforehand, untimed), into a freshly migrated database;
#   .xml.gz     `dmarcsift ingest --quiet --no-resolve` of BENCH_N five-record
#               .xml.gz files (--no-resolve: the DNS look-ups that follow an
#               ingest are not the ingest, and wait on DNS servers)
#               into a freshly migrated database;
#   duplicates  the same command again on that database: every file known;
#   .eml        the same reports as mails (the .xml.gz attached, base64) into
#               a freshly migrated database.
#
# Each ingest is checked to have stored exactly BENCH_N x BENCH_RECORDS
# records (and the re-ingest to have added none). Prints per step the median,
# min and max seconds, reports/s at the median and the ratio to the floor's
# median time.
#
# The server is scripts/pg-test-server.sh's (unix socket), with fsync on
# (PG_TEST_FSYNC; BENCH_FSYNC=on, the default; "off" as the other benchmarks
# run) and synchronous_commit on: a commit waits for its WAL flush, as in
# production.
#
# Environment: BENCH_N (2000), BENCH_RECORDS (5), BENCH_REPEAT (3),
# BENCH_FSYNC (on), BENCH_BIN (a dmarcsift binary; default: build one,
# Release, in BENCH_BUILD_DIR = <repo>/build-bench), BENCH_TMPDIR (/tmp),
# BENCH_KEEP=1 keeps the corpus. Exit status 1 when a step failed.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
n=${BENCH_N:-2000}
nrec=${BENCH_RECORDS:-5}
repeat=${BENCH_REPEAT:-3}
fsync=${BENCH_FSYNC:-on}

say() { printf '== %s\n' "$*" >&2; }
fail() {
	printf 'bench_small: %s\n' "$*" >&2
	exit 1
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

for tool in cmake cc pkg-config psql awk sort; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

if [ -n "${BENCH_BIN:-}" ]; then
	bin=$BENCH_BIN
else
	say "building dmarcsift (Release) in $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null ||
		fail "cmake configure failed"
	cmake --build "$build" -j2 --target dmarcsift >/dev/null || fail "build failed"
	bin=$build/dmarcsift
fi
[ -x "$bin" ] || fail "no dmarcsift binary at $bin"

tmp=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/dmarcsift-small.XXXXXX")
chmod 755 "$tmp"
pgdir=$tmp/pg
pg_started=0
cleanup() {
	if [ "$pg_started" = 1 ]; then
		"$root/scripts/pg-test-server.sh" stop "$pgdir" || true
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "corpus kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

warn="-std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes
      -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wvla -Wundef -Wwrite-strings
      -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
# shellcheck disable=SC2086,SC2046 # flag lists are meant to split
cc -O2 $warn "$root/tests/bench/gen_reports.c" -o "$tmp/gen_reports" \
	$(pkg-config --cflags --libs libarchive zlib) || fail "cannot build gen_reports"

say "generating $n reports of $nrec records in $tmp"
mkdir -p "$tmp/gz" "$tmp/eml" "$tmp/rows"
"$tmp/gen_reports" fixed "$tmp/gz" "$tmp/eml" "$n" "$nrec" "$tmp/rows.tsv" >/dev/null ||
	fail "gen_reports failed"
# The floor's input: one file per report, and the psql script that loads
# each in its own transaction.
cols="tenant_id, report_pk, seq, source_ip, count, disposition, dkim, spf, header_from,"
cols="$cols envelope_from, envelope_to, reasons, dkim_auth, spf_auth, extra"
awk -F'\t' -v d="$tmp/rows" '{ f = d "/" $2 ".tsv"; print >> f; close(f) }' "$tmp/rows.tsv"
for i in $(seq "$n"); do
	printf 'BEGIN;\n\\copy dmarcsift.records (%s) FROM %s\nCOMMIT;\n' "$cols" \
		"'$tmp/rows/$i.tsv'"
done >"$tmp/floor.sql"

say "starting a throwaway PostgreSQL (fsync=$fsync)"
pg_started=1
conn=$(PG_TEST_FSYNC=$fsync "$root/scripts/pg-test-server.sh" start "$pgdir")
db() { printf '%s dbname=%s' "$conn" "$1"; }
sql() { psql "$1" -X -q -v ON_ERROR_STOP=1 -At -c "$2"; }
[ "$(sql "$conn dbname=postgres" "SHOW fsync")" = "$fsync" ] || fail "fsync is not $fsync"
[ "$(sql "$conn dbname=postgres" "SHOW synchronous_commit")" = on ] || fail "synchronous_commit is off"

seq_db=0
newdb() {
	seq_db=$((seq_db + 1))
	dbname=bench_small_$seq_db
	sql "$conn dbname=postgres" "CREATE DATABASE $dbname" >/dev/null
	"$bin" db migrate --db "$(db "$dbname")" >/dev/null || fail "db migrate failed"
}
dropdb() { sql "$conn dbname=postgres" "DROP DATABASE $1" >/dev/null; }
records() { sql "$(db "$1")" "SELECT count(*) FROM dmarcsift.records"; }
ready() { sql "$(db "$1")" "CHECKPOINT" >/dev/null; }

declare -A times
add() { times[$1]="${times[$1]:-} $2"; }

ingest() { # DB DIR -> prints seconds
	local t0 t1
	t0=$(now)
	"$bin" ingest --quiet --no-resolve --db "$(db "$1")" "$2" >"$tmp/ingest.out" 2>&1 ||
		{ cat "$tmp/ingest.out" >&2; fail "ingest of $2 failed"; }
	t1=$(now)
	calc '%.4f' "$t1 - $t0"
}

want=$((n * nrec))
for r in $(seq "$repeat"); do
	say "round $r of $repeat"
	# floor
	newdb
	sql "$(db "$dbname")" "INSERT INTO dmarcsift.reports (id, tenant_id, org_name, report_id,
	    policy_domain, begin_at, end_at, schema) OVERRIDING SYSTEM VALUE SELECT i, 0, 'o', i::text, 'd.example',
	    now(), now(), 'rfc7489' FROM generate_series(1, $n) i" >/dev/null
	ready "$dbname"
	t0=$(now)
	psql "$(db "$dbname")" -X -q -v ON_ERROR_STOP=1 -f "$tmp/floor.sql" >/dev/null ||
		fail "floor \\copy failed"
	t1=$(now)
	[ "$(records "$dbname")" = "$want" ] || fail "floor stored $(records "$dbname") records"
	add floor "$(calc '%.4f' "$t1 - $t0")"
	dropdb "$dbname"
	# .xml.gz, then the same again as duplicates
	newdb
	ready "$dbname"
	add gz "$(ingest "$dbname" "$tmp/gz")"
	[ "$(records "$dbname")" = "$want" ] || fail ".xml.gz stored $(records "$dbname") records"
	ready "$dbname"
	add dup "$(ingest "$dbname" "$tmp/gz")"
	[ "$(records "$dbname")" = "$want" ] || fail "re-ingest changed the records"
	dropdb "$dbname"
	# .eml
	newdb
	ready "$dbname"
	add eml "$(ingest "$dbname" "$tmp/eml")"
	[ "$(records "$dbname")" = "$want" ] || fail ".eml stored $(records "$dbname") records"
	dropdb "$dbname"
done

# stats NAME -> "median min max"
stats() {
	# shellcheck disable=SC2086
	printf '%s\n' ${times[$1]} | sort -g | awk '{ v[NR] = $1 }
	  END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
	        printf "%.3f %.3f %.3f", m, v[1], v[NR] }'
}
read -r fm fmin fmax <<<"$(stats floor)"
printf '\n%s, %s cores, load %s, PostgreSQL %s, fsync=%s, synchronous_commit=on\n' \
	"$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
	"$(sql "$conn dbname=postgres" "SHOW server_version")" "$fsync"
printf '%d reports of %d records, %d rounds interleaved; median (min-max) seconds\n\n' \
	"$n" "$nrec" "$repeat"
printf '%-44s %22s %12s %8s\n' "step" "seconds" "reports/s" "ratio"
line() { # LABEL NAME
	local m lo hi
	read -r m lo hi <<<"$(stats "$2")"
	printf '%-44s %8s (%s-%s) %12s %8s\n' "$1" "$m" "$lo" "$hi" \
		"$(calc '%.0f' "$n / $m")" "$(calc '%.2f' "$m / $fm")"
}
line "floor: \\copy + COMMIT per report (psql)" floor
line "ingest .xml.gz" gz
line "ingest .eml" eml
line "re-ingest .xml.gz (all duplicates)" dup
