#!/usr/bin/env bash
# The ingest benchmark (design.md "Performance"; issue 2 "Benchmark").
# Not a test: it never gates CI and ctest never calls it. It prints figures
# beside baselines measured in the same run, on the same bytes and rows:
#
#   1. builds dmarcsift (Release) into build-bench, and the two bench tools
#      (gen_reports, parse_only) next to it;
#   2. generates a corpus in a temporary directory: BENCH_SMALL small reports
#      (1..50 records, mixed .xml/.xml.gz/.zip) and one report of BENCH_BIG
#      records as .xml and .xml.gz, plus the same rows as COPY text (TSV);
#   3. parse only: aggr_parse with no-op handlers over the big XML, beside
#      `xmllint --stream --noout` (libxml2's own streaming reader);
#   4. ingest into a throwaway PostgreSQL (scripts/pg-test-server.sh, stopped
#      on exit): `dmarcsift ingest --quiet` of the small corpus and of the big
#      report, beside a bare `\copy` of the same rows into the same, freshly
#      migrated dmarcsift.records table (same PK, indexes, FK);
#   5. peak RSS of `dmarcsift ingest` for the big report, .xml and .xml.gz
#      (when the .xml.gz is refused by the unpacker's decompressed-size cap,
#      the script says so and measures the .xml.gz path on the largest
#      report of the same records that fits, with its own COPY baseline);
#   6. a table of all figures with the machine and the date.
#
# Aims: parse within 2x of xmllint --stream, ingest within 2x of bare COPY,
# peak RSS under 64 MiB. A missed aim is marked MISSED; the exit status is 0
# whenever the measurements themselves worked (1 when a step failed).
#
# Environment: BENCH_SMALL (default 2000), BENCH_BIG (default 1000000),
# BENCH_BUILD_DIR (default <repo>/build-bench), BENCH_TMPDIR (default /tmp),
# BENCH_REPEAT (runs of every timed step, best time taken; default 2),
# BENCH_KEEP=1 keeps the corpus directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
n_small=${BENCH_SMALL:-2000}
n_big=${BENCH_BIG:-1000000}
repeat=${BENCH_REPEAT:-2}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

say() { printf '== %s\n' "$*" >&2; }
fail() {
	printf 'bench_ingest: %s\n' "$*" >&2
	exit 1
}
now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic (awk), printed with the given format.
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
# min CURRENT NEW: the smaller, CURRENT may be empty.
min() { if [ -z "$1" ]; then echo "$2"; else calc '%s' "($2 < $1) ? \"$2\" : \"$1\""; fi; }

for tool in cmake cc pkg-config xmllint psql awk; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
[ -x /usr/bin/time ] || fail "/usr/bin/time is required (apt-get install time)"

# --- 1. build --------------------------------------------------------------
say "building dmarcsift (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build.cmake.log" 2>&1 ||
	{ cat "$build.cmake.log" >&2; fail "cmake configure failed"; }
cmake --build "$build" -j"$jobs" --target dmarcsift >"$build.build.log" 2>&1 ||
	{ tail -40 "$build.build.log" >&2; fail "build failed"; }
rm -f "$build.cmake.log" "$build.build.log"
bin=$build/dmarcsift

# The repo's warnings (cmake/Warnings.cmake) apply to the bench tools too.
warn="-std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes
      -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wvla -Wundef -Wwrite-strings
      -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
mkdir -p "$build/bench"
# shellcheck disable=SC2086,SC2046 # flag lists are meant to split
cc -O2 $warn "$root/tests/bench/gen_reports.c" -o "$build/bench/gen_reports" \
	$(pkg-config --cflags --libs libarchive zlib) || fail "cannot build gen_reports"
# shellcheck disable=SC2086,SC2046
cc -O2 $warn -I"$root" "$root/tests/bench/parse_only.c" -o "$build/bench/parse_only" \
	"$build/ingest/libdsingest.a" "$build/core/libdscore.a" \
	$(pkg-config --libs libxml-2.0 libarchive zlib gmime-3.0 json-c libcurl libpsl libcrypto) ||
	fail "cannot build parse_only"

# --- 2. corpus -------------------------------------------------------------
tmp=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/dmarcsift-bench.XXXXXX")
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

say "generating $n_small small reports and one report of $n_big records in $tmp"
mkdir -p "$tmp/small"
t0=$(now)
"$build/bench/gen_reports" small "$tmp/small" "$n_small" "$tmp/small.tsv" >"$tmp/small.count"
"$build/bench/gen_reports" big "$tmp/big.xml" "$tmp/big.xml.gz" "$tmp/big.tsv" "$n_big" \
	>"$tmp/big.count"
t1=$(now)
small_records=$(awk '$1 == "records" { print $2 }' "$tmp/small.count")
big_bytes=$(stat -c %s "$tmp/big.xml")
big_gz_bytes=$(stat -c %s "$tmp/big.xml.gz")
small_bytes=$(du -sb "$tmp/small" | cut -f1)
say "corpus ready in $(calc '%.1f' "$t1 - $t0") s: small $n_small reports/$small_records records" \
	"($small_bytes bytes), big $big_bytes bytes XML, $big_gz_bytes bytes gzip"

# --- 3. parse only ---------------------------------------------------------
say "parse only: aggr_parse vs xmllint --stream (best of $repeat)"
cat "$tmp/big.xml" >/dev/null # both read from the page cache
best_xmllint=""
best_parse=""
for _ in $(seq "$repeat"); do
	t0=$(now)
	xmllint --stream --noout "$tmp/big.xml" || fail "xmllint rejected the generated report"
	t1=$(now)
	s=$(calc '%.6f' "$t1 - $t0")
	best_xmllint=$(min "$best_xmllint" "$s")

	"$build/bench/parse_only" "$tmp/big.xml" >"$tmp/parse.out" || fail "parse_only failed"
	got=$(awk '$1 == "records" { print $2 }' "$tmp/parse.out")
	[ "$got" = "$n_big" ] || fail "parse_only saw $got records, expected $n_big"
	s=$(awk '$1 == "seconds" { print $2 }' "$tmp/parse.out")
	best_parse=$(min "$best_parse" "$s")
done

# --- 4./5. PostgreSQL ------------------------------------------------------
say "starting a throwaway PostgreSQL in $pgdir"
pg_started=1
conn=$("$root/scripts/pg-test-server.sh" start "$pgdir")
db() { printf '%s dbname=%s' "$conn" "$1"; }
sql() { psql "$1" -X -q -v ON_ERROR_STOP=1 -At -c "$2"; }
newdb() {
	sql "$conn" "CREATE DATABASE $1" >/dev/null
	"$bin" db migrate --db "$(db "$1")" >/dev/null || fail "dmarcsift db migrate failed on $1"
}

# ingest NAME DB PATH NRECORDS [RUNS]: runs dmarcsift ingest under
# /usr/bin/time RUNS times (default BENCH_REPEAT), each into a fresh database
# (dropped afterwards), and checks that every generated record arrived. Sets
# ing_s (best seconds) and ing_rss (highest peak RSS, KiB). Sets ing_cap (the
# cap in bytes) instead when the input was refused for exceeding the
# unpacker's decompressed-size cap.
ingest() {
	local name=$1 dbname=$2 path=$3 expect=$4 runs=${5:-$repeat} i stored s rss
	ing_cap="" ing_s="" ing_rss=0
	for i in $(seq "$runs"); do
		say "ingest: $name (run $i of $runs)"
		newdb "$dbname"
		sql "$conn" "CHECKPOINT" >/dev/null
		if ! /usr/bin/time -f '%e %M' -o "$tmp/time.$name" "$bin" ingest \
			--db "$(db "$dbname")" --quiet "$path" >"$tmp/ingest.$name" 2>&1; then
			# The reason is in the quarantine (--quiet prints none).
			sql "$(db "$dbname")" "SELECT stage || ': ' || reason
				FROM dmarcsift.v_failures" >>"$tmp/ingest.$name" || true
			ing_cap=$(grep -o 'exceeds the cap of [0-9]* bytes' "$tmp/ingest.$name" |
				awk '{ print $5 }' || true)
			if [ -n "$ing_cap" ]; then
				say "$name: refused by the decompressed-size cap ($ing_cap bytes)"
				sql "$conn" "DROP DATABASE $dbname" >/dev/null
				return 0
			fi
			cat "$tmp/ingest.$name" >&2
			fail "dmarcsift ingest $name failed"
		fi
		stored=$(sql "$(db "$dbname")" "SELECT count(*) FROM dmarcsift.records")
		[ "$stored" = "$expect" ] ||
			fail "$name: $stored records stored, expected $expect ($(cat "$tmp/ingest.$name"))"
		sql "$conn" "DROP DATABASE $dbname" >/dev/null
		read -r s rss <"$tmp/time.$name"
		ing_s=$(min "$ing_s" "$s")
		if [ "$rss" -gt "$ing_rss" ]; then ing_rss=$rss; fi
	done
}

# copy NAME DB TSV NREPORTS: the baseline, BENCH_REPEAT times into a fresh
# database each: parent report rows first (not timed), then one timed \copy
# of the rows into dmarcsift.records. Sets copy_s (best seconds).
copy() {
	local name=$1 dbname=$2 tsv=$3 nreports=$4 i t0 t1
	# \copy takes the rest of its line: keep it on one.
	local cols="tenant_id, report_pk, seq, source_ip, count, disposition, dkim, spf"
	cols="$cols, header_from, envelope_from, envelope_to, reasons, dkim_auth, spf_auth, extra"
	copy_s=""
	for i in $(seq "$repeat"); do
		say "bare COPY: $name (run $i of $repeat)"
		newdb "$dbname"
		sql "$(db "$dbname")" "INSERT INTO dmarcsift.reports (tenant_id, id, org_name,
			report_id, policy_domain, begin_at, end_at, schema) OVERRIDING SYSTEM VALUE
			SELECT 0, g, 'bench', g::text, 'bench.example', now(), now(), 'rfc7489'
			FROM generate_series(1, $nreports) g" >/dev/null
		sql "$conn" "CHECKPOINT" >/dev/null
		t0=$(now)
		sql "$(db "$dbname")" "\\copy dmarcsift.records ($cols) FROM '$tsv'" >/dev/null ||
			fail "\\copy $name failed"
		t1=$(now)
		sql "$conn" "DROP DATABASE $dbname" >/dev/null
		copy_s=$(min "$copy_s" "$(calc '%.3f' "$t1 - $t0")")
	done
}

ingest small bench_small "$tmp/small" "$small_records"
small_s=$ing_s small_rss=$ing_rss
copy small bench_copy_small "$tmp/small.tsv" "$n_small"
small_copy_s=$copy_s
copy big bench_copy_big "$tmp/big.tsv" 1
big_copy_s=$copy_s
ingest big.xml bench_big_xml "$tmp/big.xml" "$n_big"
big_s=$ing_s big_rss=$ing_rss
ingest big.xml.gz bench_big_gz "$tmp/big.xml.gz" "$n_big" 1
gz_s=$ing_s gz_rss=$ing_rss gz_records=$n_big gz_copy_s=$big_copy_s gz_note=""
if [ -n "$ing_cap" ]; then
	# A report this size does not fit the default decompressed-size cap
	# when compressed. Measure the .xml.gz path on the largest report of
	# the same records that fits (90 % of the cap), with its own baseline.
	cap=$ing_cap
	gz_records=$(calc '%d' "int($cap * 0.9 / ($big_bytes / $n_big))")
	say "generating a report of $gz_records records that fits the cap"
	"$build/bench/gen_reports" big /dev/null "$tmp/fit.xml.gz" "$tmp/fit.tsv" "$gz_records" \
		>/dev/null
	copy fit bench_copy_fit "$tmp/fit.tsv" 1
	gz_copy_s=$copy_s
	ingest fit.xml.gz bench_fit_gz "$tmp/fit.xml.gz" "$gz_records"
	[ -z "$ing_cap" ] || fail "fit.xml.gz was refused by the cap too"
	gz_s=$ing_s gz_rss=$ing_rss
	gz_note=" (the $n_big-record .xml.gz was REFUSED: over the unpack cap of $(calc '%d' "$cap / 1048576") MiB decompressed)"
fi

# --- 6. figures ------------------------------------------------------------
mb() { calc '%.1f' "$1 / 1e6 / $2"; }
rps() { calc '%.0f' "$1 / $2"; }
verdict() { calc '%s' "($1 <= $2) ? \"ok\" : \"MISSED\""; }
parse_ratio=$(calc '%.2f' "$best_parse / $best_xmllint")
small_ratio=$(calc '%.2f' "$small_s / $small_copy_s")
big_ratio=$(calc '%.2f' "$big_s / $big_copy_s")
gz_ratio=$(calc '%.2f' "$gz_s / $gz_copy_s")
gz_xml_bytes=$(calc '%.0f' "$big_bytes / $n_big * $gz_records")
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

echo
echo "dmarcsift ingest benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, ${cpu:-unknown CPU}," \
	"$(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo) RAM," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $(sql "$conn" 'SHOW server_version_num')," \
	"fsync=off (scripts/pg-test-server.sh)"
echo "corpus: big report $n_big records, $(mb "$big_bytes" 1) MB XML / $(mb "$big_gz_bytes" 1) MB gzip;" \
	"small: $n_small reports, $small_records records, $(mb "$small_bytes" 1) MB"
echo
row() { printf '%-36s %10s %11s %8s %7s %s\n' "$@"; }
row "measurement" "seconds" "records/s" "MB/s" "ratio" "aim"
row "parse: xmllint --stream" "$best_xmllint" "$(rps "$n_big" "$best_xmllint")" \
	"$(mb "$big_bytes" "$best_xmllint")" "1.00" "baseline"
row "parse: aggr_parse, no-op handler" "$best_parse" "$(rps "$n_big" "$best_parse")" \
	"$(mb "$big_bytes" "$best_parse")" "$parse_ratio" "<= 2x: $(verdict "$parse_ratio" 2)"
row "COPY: $n_big rows" "$big_copy_s" "$(rps "$n_big" "$big_copy_s")" "-" "1.00" "baseline"
row "ingest: $n_big-record .xml" "$big_s" "$(rps "$n_big" "$big_s")" \
	"$(mb "$big_bytes" "$big_s")" "$big_ratio" "<= 2x: $(verdict "$big_ratio" 2)"
if [ "$gz_records" != "$n_big" ]; then
	row "COPY: $gz_records rows" "$gz_copy_s" "$(rps "$gz_records" "$gz_copy_s")" "-" "1.00" \
		"baseline"
fi
row "ingest: $gz_records-record .xml.gz" "$gz_s" "$(rps "$gz_records" "$gz_s")" \
	"$(mb "$gz_xml_bytes" "$gz_s")" "$gz_ratio" "<= 2x: $(verdict "$gz_ratio" 2)$gz_note"
row "COPY: small corpus rows" "$small_copy_s" "$(rps "$small_records" "$small_copy_s")" "-" \
	"1.00" "baseline"
row "ingest: small corpus, $n_small files" "$small_s" "$(rps "$small_records" "$small_s")" \
	"$(mb "$small_bytes" "$small_s")" "$small_ratio" \
	"info: $(calc '%.0f' "$n_small / $small_s") reports/s, one transaction each"
echo
row "peak RSS of dmarcsift ingest" "MiB" "" "" "" "aim"
for r in "$n_big-record .xml:$big_rss" "$gz_records-record .xml.gz:$gz_rss" \
	"small corpus:$small_rss"; do
	mib=$(calc '%.1f' "${r##*:} / 1024")
	row "${r%:*}" "$mib" "" "" "" "< 64: $(verdict "$mib" 63.999)"
done
