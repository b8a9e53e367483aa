#!/usr/bin/env bash
# Bounce ingest throughput (issue 4 "Benchmark"): `dmarcsift bounces ingest`
# of a generated Postfix log into PostgreSQL, beside a bare COPY of the very
# same rows into the same, freshly migrated dmarcsift.bounces table, in the
# same run. Not a test: ctest never runs it and it gates nothing.
#
#   1. builds dmarcsift (Release) into build-bbench unless BENCH_BUILD_DIR has
#      one, and tests/bench/bench_bclass.c next to it;
#   2. `bench_bclass gen-mix` writes the log (BENCH_LINES lines, ~half of them
#      delivery events: six senders of four tenants plus one nobody owns,
#      recurring recipients, retries, 11 providers and 200 gateways);
#   3. starts a throwaway PostgreSQL (scripts/pg-test-server.sh; stopped on
#      exit), creates two databases, migrates both and adds the same tenants;
#   4. times `dmarcsift bounces ingest --input-format postfix` (with
#      /usr/bin/time -v: wall time and peak RSS), then the same command again
#      (the idempotent re-ingest: must add nothing);
#   5. `bench_bclass tsv` prints the rows the ingest stores (same parser,
#      classifier, and the store's own row builder, bounce_store_row, with
#      the tenant map given here), and a bare
#      psql \copy loads them into the other database's dmarcsift.bounces;
#      the two tables are then compared (every stored column but id and
#      ingested_at), so the baseline really loads the same rows;
#   6. prints the figures, and the server-side duration of each statement of
#      the ingest transaction (log_min_duration_statement = 0 on the ingest
#      database), which is where its time goes.
#
# Environment: BENCH_LINES (1000000), BENCH_BUILD_DIR (<repo>/build-bbench),
# BENCH_TMPDIR (/tmp), BENCH_KEEP=1 keeps the work directory, BENCH_REPEAT=N
# (1) runs the ingest and the bare COPY N-1 more times in turns, each into a
# fresh database, and prints the median of the N pairs' ratios.
# Exit status: 0 when every step worked, 1 when one failed (build, ingest,
# row counts, the rows of ingest and baseline differ, a re-ingest added rows).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bbench}
lines=${BENCH_LINES:-1000000}

say() { printf '== %s\n' "$*" >&2; }
fail() {
	printf 'bench_bounce_ingest: %s\n' "$*" >&2
	exit 1
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

for tool in cmake cc pkg-config psql awk md5sum; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
[ -x /usr/bin/time ] || fail "/usr/bin/time is required (apt-get install time)"

work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/bench_bounce_ingest.XXXXXX")
chmod 755 "$work" # the server (user postgres, when run as root) lives in $work/pg
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

# --- 1. build --------------------------------------------------------------
if [ ! -x "$build/dmarcsift" ] || [ ! -f "$build/core/libdscore.a" ] ||
	[ ! -f "$build/ingest/libdsingest.a" ] || [ ! -f "$build/db/libdsdb.a" ]; then
	say "building dmarcsift (Release) in $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 ||
		{ cat "$work/cmake.log" >&2; fail "cmake configure failed"; }
fi
# Always bring the binary and the two libraries up to date (a no-op when they are).
cmake --build "$build" -j2 --target dmarcsift >"$work/build.log" 2>&1 ||
	{ tail -40 "$work/build.log" >&2; fail "build failed"; }
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" ||
	say "warning: $build is not a Release build; figures will be low"
bin=$build/dmarcsift
warn="-std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes
      -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wvla -Wundef -Wwrite-strings
      -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
mkdir -p "$build/bench"
# shellcheck disable=SC2046,SC2086
cc -O2 $warn -I"$root" "$root/tests/bench/bench_bclass.c" -o "$build/bench/bench_bclass" \
	"$build/db/libdsdb.a" "$build/ingest/libdsingest.a" "$build/core/libdscore.a" \
	$(pkg-config --cflags --libs gmime-3.0 libarchive libxml-2.0 zlib json-c libcurl libpsl libcrypto \
		libpq libidn2) ||
	fail "cannot build bench_bclass"
bb=$build/bench/bench_bclass

# --- 2. the log --------------------------------------------------------------
log=$work/postfix.log
say "generating $lines lines"
"$bb" gen-mix "$log" "$lines" || fail "generation failed"
mib=$(calc '%.1f' "$(stat -c %s "$log") / 1048576")

# --- 3. server, databases, tenants ---------------------------------------------
say "starting PostgreSQL in $pgdir"
conn=$("$root/scripts/pg-test-server.sh" start "$pgdir" 2>"$work/pg.err") ||
	{ cat "$work/pg.err" >&2; fail "cannot start PostgreSQL"; }
# The generator's senders: tenant name and its domain; letters.shop.example
# and mail.bank.example belong to shop / bank by their organisational
# domain, nobody-owns.example to nobody (tenant 0, unassigned).
tenants="example:example.org shop:shop.example bank:bank.example saas:saas.example"
setup_db() { # NAME
	psql "$conn" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $1" >/dev/null || return 1
	"$bin" db migrate --db "${conn/dbname=postgres/dbname=$1}" >/dev/null || return 1
	for t in $tenants; do
		"$bin" tenant add "${t%%:*}" "${t#*:}" --db "${conn/dbname=postgres/dbname=$1}" \
			>/dev/null || return 1
	done
}
setup_db ingest || fail "cannot set up database ingest"
setup_db baseline || fail "cannot set up database baseline"
# The repeats' databases are copies of an untouched one.
repeat=${BENCH_REPEAT:-1}
if [ "$repeat" -gt 1 ]; then
	setup_db tmpl || fail "cannot set up database tmpl"
fi
cin=${conn/dbname=postgres/dbname=ingest}
cbase=${conn/dbname=postgres/dbname=baseline}
tid() { psql "$1" -qAt -c "SELECT tenant_id FROM dmarcsift.tenants WHERE name = '$2'"; }
map=""
for t in example:example.org shop:shop.example shop:letters.shop.example bank:mail.bank.example \
	saas:saas.example; do
	a=$(tid "$cin" "${t%%:*}")
	b=$(tid "$cbase" "${t%%:*}")
	if [ -z "$a" ] || [ "$a" != "$b" ]; then fail "tenant ${t%%:*} has different ids ($a, $b)"; fi
	map="$map ${t#*:}=$a"
done
count() { psql "$1" -qAt -c "SELECT count(*) FROM dmarcsift.bounces"; }
checkpoint() { psql "$1" -qAt -c "CHECKPOINT" >/dev/null; }
# The ingest database logs every statement with its duration (the phases).
psql "$conn" -qAt -c "ALTER DATABASE ingest SET log_min_duration_statement = 0" >/dev/null
srvlog=$pgdir/server.log

# --- 4. dmarcsift bounces ingest, twice -----------------------------------------
# timed CMD... : runs CMD under /usr/bin/time -v; sets rss (KiB).
timed() {
	/usr/bin/time -v -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" ||
		{ cat "$work/err.txt" "$work/out.txt" >&2; return 1; }
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")
}
checkpoint "$cin"
log_from=$(stat -c %s "$srvlog")
say "dmarcsift bounces ingest"
t0=$(now)
timed "$bin" bounces ingest --db "$cin" --input-format postfix --no-resolve --no-correlate "$log" || fail "ingest failed"
t1=$(now)
ing_wall=$(calc '%.3f' "$t1 - $t0")
ing_rss=$rss
ing_out=$(cat "$work/out.txt")
events=$(awk '/events from/ { print $1; exit }' "$work/out.txt")
stored=$(count "$cin")
[ "$stored" = "$events" ] || fail "ingest stored $stored rows for $events events"
log_to=$(stat -c %s "$srvlog")

checkpoint "$cin"
say "dmarcsift bounces ingest (again: idempotent re-ingest)"
t0=$(now)
timed "$bin" bounces ingest --db "$cin" --input-format postfix --no-resolve --no-correlate "$log" || fail "re-ingest failed"
t1=$(now)
re_wall=$(calc '%.3f' "$t1 - $t0")
re_rss=$rss
re_added=$(awk '/^stored:/ { print $2; exit }' "$work/out.txt")
if [ "$(count "$cin")" != "$stored" ] || [ "$re_added" != 0 ]; then
	fail "the re-ingest added rows ($re_added added, $(count "$cin") stored)"
fi

# --- 5. the bare COPY baseline ---------------------------------------------------
say "writing the same rows as COPY text"
t0=$(now)
# shellcheck disable=SC2086
"$bb" tsv "$log" $map >"$work/rows.tsv" 2>"$work/tsv.err" || { cat "$work/tsv.err" >&2; fail "tsv failed"; }
t1=$(now)
tsv_wall=$(calc '%.3f' "$t1 - $t0")
rows=$(wc -l <"$work/rows.tsv")
[ "$rows" = "$events" ] || fail "tsv wrote $rows rows for $events events"
cols=$("$bb" columns)
checkpoint "$cbase"
cat "$work/rows.tsv" >/dev/null # page cache
say "bare \\copy into dmarcsift.bounces"
t0=$(now)
psql "$cbase" -qAt -v ON_ERROR_STOP=1 \
	-c "\\copy dmarcsift.bounces ($cols) FROM '$work/rows.tsv'" >/dev/null || fail "\\copy failed"
t1=$(now)
copy_wall=$(calc '%.3f' "$t1 - $t0")
[ "$(count "$cbase")" = "$rows" ] || fail "the baseline table does not hold $rows rows"

# Same rows? Every stored column but id and ingested_at, in event-key order.
digest() {
	psql "$1" -qAt -v ON_ERROR_STOP=1 -c "COPY (SELECT $cols, provider_key, code_family
		FROM dmarcsift.bounces ORDER BY tenant_id, event_key) TO STDOUT" | md5sum | cut -d' ' -f1
}
d_in=$(digest "$cin")
d_base=$(digest "$cbase")
[ "$d_in" = "$d_base" ] || fail "ingest and baseline rows differ ($d_in vs $d_base)"
supp=$(psql "$cin" -qAt -c "SELECT count(*) FROM dmarcsift.suppressions WHERE lifted_at IS NULL")
esc=$(psql "$cin" -qAt -c "SELECT count(*) FROM dmarcsift.escalations WHERE status = 'open'")

# --- 5b. repeats: ingest and bare COPY in turns, each into a fresh copy -----------
# On a shared machine one pair of runs says little; the median of the
# pairs' ratios (each pair run back to back, their order alternating) says
# more.
ratios=$(calc '%.3f' "$ing_wall / $copy_wall")
reps="1: $ing_wall s / $copy_wall s"
for i in $(seq 2 "$repeat"); do
	for d in ri ci; do
		psql "$conn" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $d TEMPLATE tmpl" >/dev/null ||
			fail "cannot copy tmpl"
	done
	cri=${conn/dbname=postgres/dbname=ri}
	cci=${conn/dbname=postgres/dbname=ci}
	run_ingest() {
		checkpoint "$cri"
		t0=$(now)
		timed "$bin" bounces ingest --db "$cri" --input-format postfix --no-resolve \
			--no-correlate "$log" || fail "ingest failed (repeat $i)"
		t1=$(now)
		w_ing=$(calc '%.3f' "$t1 - $t0")
	}
	run_copy() {
		checkpoint "$cci"
		t0=$(now)
		psql "$cci" -qAt -v ON_ERROR_STOP=1 \
			-c "\\copy dmarcsift.bounces ($cols) FROM '$work/rows.tsv'" >/dev/null ||
			fail "\\copy failed (repeat $i)"
		t1=$(now)
		w_copy=$(calc '%.3f' "$t1 - $t0")
	}
	say "repeat $i of $repeat"
	if [ $((i % 2)) = 0 ]; then
		run_copy
		run_ingest
	else
		run_ingest
		run_copy
	fi
	[ "$(count "$cri")" = "$events" ] || fail "repeat $i stored $(count "$cri") rows"
	psql "$conn" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE ri" -c "DROP DATABASE ci" >/dev/null ||
		fail "cannot drop the repeat's databases"
	ratios="$ratios $(calc '%.3f' "$w_ing / $w_copy")"
	reps="$reps; $i: $w_ing s / $w_copy s"
done
# shellcheck disable=SC2086 # the ratios are words
median=$(printf '%s\n' $ratios | sort -n | awk '{ a[NR] = $1 } END {
	print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')

# --- 6. figures -------------------------------------------------------------
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "bounce ingest benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($cpu),"
echo "load $(cut -d' ' -f1-3 /proc/loadavg), PostgreSQL $(psql "$conn" -qAt -c 'SHOW server_version')"
echo "log: $lines lines, $mib MiB, $events delivery events; $supp active suppressions and"
echo "$esc open escalations after the ingest; ingest and baseline rows identical (md5 $d_in)"
echo
printf '%-44s %9s %12s %10s\n' "step" "time s" "rows/s" "peak RSS"
printf '%-44s %9.3f %12.0f %7.1f MiB\n' "dmarcsift bounces ingest" "$ing_wall" \
	"$(calc '%f' "$events / $ing_wall")" "$(calc '%f' "$ing_rss / 1024")"
printf '%-44s %9.3f %12.0f %10s\n' "baseline: psql \\copy of the same rows" "$copy_wall" \
	"$(calc '%f' "$rows / $copy_wall")" "-"
printf '%-44s %9.2fx\n' "ratio ingest / baseline" "$(calc '%f' "$ing_wall / $copy_wall")"
if [ "$repeat" -gt 1 ]; then
	printf '%-44s %9.2fx  (ratios: %s)\n' "median ratio of $repeat pairs" "$median" "$ratios"
	printf '  pairs (ingest / bare COPY): %s\n' "$reps"
fi
printf '%-44s %9.3f %12s %7.1f MiB  (%s added)\n' "re-ingest of the same log" "$re_wall" "-" \
	"$(calc '%f' "$re_rss / 1024")" "$re_added"
printf '%-44s %9.3f %12.0f %10s\n' "(untimed) bench_bclass tsv: parse+classify+rows" \
	"$tsv_wall" "$(calc '%f' "$rows / $tsv_wall")" "-"
echo
echo "where the first ingest's time goes (server-side statement durations; the"
echo "COPY statement lasts from its start to PQputCopyEnd, so it spans the client's"
echo "parsing and classification):"
{ tail -c +"$((log_from + 1))" "$srvlog" || true; } | head -c "$((log_to - log_from))" | awk '
	/duration: [0-9.]+ ms +(statement|execute)/ {
		match($0, /duration: [0-9.]+ ms/)
		ms = substr($0, RSTART + 10, RLENGTH - 13) + 0
		k = "other"
		if ($0 ~ /COPY pg_temp.bounce_staging/) k = "COPY into staging"
		else if ($0 ~ /COPY dmarcsift.bounces/) k = "COPY into bounces (direct blocks)"
		else if ($0 ~ /COPY pg_temp.bounce_new/) k = "COPY into bounce_new"
		else if ($0 ~ /SAVEPOINT/) k = "savepoints"
		else if ($0 ~ /tenant_domains|tenant_of_domain|FROM dmarcsift.tenant/) k = "tenant look-ups and lock"
		else if ($0 ~ /INSERT INTO dmarcsift.bounces|-- bounce_insert/) k = "INSERT ... SELECT into bounces"
		else if ($0 ~ /ANALYZE pg_temp.bounce_new/) k = "ANALYZE bounce_new"
		else if ($0 ~ /ANALYZE dmarcsift.bounces/) k = "ANALYZE bounces (its columns)"
		else if ($0 ~ /INSERT INTO dmarcsift.suppressions|-- bounce_suppress/) k = "suppressions recomputation"
		else if ($0 ~ /INSERT INTO dmarcsift.escalations|-- bounce_escalate/) k = "escalations recomputation"
		else if ($0 ~ /COMMIT/) k = "COMMIT"
		t[k] += ms; n[k]++; total += ms
	}
	END {
		for (k in t) printf "%9.3f s  %-36s (%d statement%s)\n", t[k] / 1000, k, n[k], n[k] == 1 ? "" : "s"
	}' | sort -rn | sed 's/^/  /'
echo
echo "dmarcsift's summary of the first ingest:"
printf '%s\n' "$ing_out" | sed 's/^/  /'
