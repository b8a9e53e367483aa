#!/usr/bin/env bash
# One big aggregate report against its floor (issue 14). Not a test: ctest
# never runs it and it gates nothing. In BENCH_ROUNDS interleaved rounds
# (every step once per round, so a neighbour's load hits all of them alike;
# medians printed) it times:
#
#   floor      xmllint --stream --noout of the .xml, plus a bare \copy of the
#              same rows into a plain table: 16 text/number columns, two
#              non-unique btree indexes, no key, no trigger;
#   records    a bare \copy of the same rows into dmarcsift.records of a
#              freshly migrated database (its parent report inserted first,
#              untimed), the same with the foreign keys to reports that 0032
#              replaced by triggers put back, and with one part of the schema
#              taken away at a time, to show what each costs: each of the two
#              rollup triggers; then a table of its own with the
#              same columns (no trigger, no foreign key), with text instead of
#              jsonb/inet, and without the primary key;
#   ingest     dmarcsift ingest --quiet --no-resolve --no-correlate (the
#              storing alone; naming sources and correlating come after) of
#              the report as .xml and as .xml.gz, each into a fresh database,
#              with its peak RSS; every run must store exactly BENCH_BIG
#              records. The two run back to back, in turns first, and
#              .xml / .xml.gz is the median of the rounds' paired ratios.
#
# Then the bounce benchmark (tests/bench/bench_bounce_ingest.sh) when
# BENCH_BOUNCES=1.
#
# Environment: BENCH_BIG (200000 records), BENCH_ROUNDS (3), BENCH_BUILD_DIR
# (<repo>/build-bench, Release), BENCH_BIN (a dmarcsift binary to time
# instead of building one), BENCH_TMPDIR (/tmp), BENCH_KEEP=1.
# Exit status 1 when a step failed, 0 otherwise (aims missed or not).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
n_big=${BENCH_BIG:-200000}
rounds=${BENCH_ROUNDS:-3}

say() { printf '== %s\n' "$*" >&2; }
fail() {
	printf 'bench_big: %s\n' "$*" >&2
	exit 1
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

for tool in cmake cc pkg-config xmllint psql awk sort; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
[ -x /usr/bin/time ] || fail "/usr/bin/time is required (apt-get install time)"

# --- build -----------------------------------------------------------------
mkdir -p "$build/bench"
if [ -n "${BENCH_BIN:-}" ]; then
	bin=$BENCH_BIN
else
	say "building dmarcsift (Release) in $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build/cmake.log" 2>&1 ||
		{ cat "$build/cmake.log" >&2; fail "cmake configure failed"; }
	cmake --build "$build" -j2 --target dmarcsift >"$build/build.log" 2>&1 ||
		{ tail -40 "$build/build.log" >&2; fail "build failed"; }
	bin=$build/dmarcsift
fi
warn="-std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes
      -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wvla -Wundef -Wwrite-strings
      -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
# shellcheck disable=SC2086,SC2046 # flag lists are meant to split
cc -O2 $warn "$root/tests/bench/gen_reports.c" -o "$build/bench/gen_reports" \
	$(pkg-config --cflags --libs libarchive zlib) || fail "cannot build gen_reports"

# --- corpus ----------------------------------------------------------------
tmp=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/dmarcsift-bbig.XXXXXX")
chmod 755 "$tmp"
pgdir=$tmp/pg
pg_started=0
cleanup() {
	[ "$pg_started" = 1 ] && { "$root/scripts/pg-test-server.sh" stop "$pgdir" || true; }
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "corpus kept in $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
say "generating one report of $n_big records"
"$build/bench/gen_reports" big "$tmp/big.xml" "$tmp/big.xml.gz" "$tmp/big.tsv" "$n_big" \
	>/dev/null || fail "gen_reports failed"
xml_bytes=$(stat -c %s "$tmp/big.xml")
gz_bytes=$(stat -c %s "$tmp/big.xml.gz")
cat "$tmp/big.xml" "$tmp/big.xml.gz" "$tmp/big.tsv" >/dev/null # page cache

# --- server ----------------------------------------------------------------
pg_started=1
conn=$("$root/scripts/pg-test-server.sh" start "$pgdir")
db() { printf '%s dbname=%s' "$conn" "$1"; }
export PGOPTIONS="-c client_min_messages=warning"
sql() { psql "$1" -X -q -v ON_ERROR_STOP=1 -At -c "$2"; }
sql "$conn" "CREATE DATABASE tpl" >/dev/null
"$bin" db migrate --db "$(db tpl)" >/dev/null || fail "dmarcsift db migrate failed"
fresh() {
	sql "$conn" "DROP DATABASE IF EXISTS $1" >/dev/null
	sql "$conn" "CREATE DATABASE $1 TEMPLATE tpl" >/dev/null
}
cols="tenant_id, report_pk, seq, source_ip, count, disposition, dkim, spf, header_from"
cols="$cols, envelope_from, envelope_to, reasons, dkim_auth, spf_auth, extra"
parent="INSERT INTO dmarcsift.reports (tenant_id, id, org_name, report_id, policy_domain,
	begin_at, end_at, schema) OVERRIDING SYSTEM VALUE
	VALUES (0, 1, 'bench', '1', 'bench.example', now(), now(), 'rfc7489')"
declare -A setup
setup[plain]="CREATE TABLE plain (tenant_id integer, report_pk bigint, seq integer,
	source_ip text, count bigint, disposition text, dkim text, spf text, header_from text,
	envelope_from text, envelope_to text, reasons text, dkim_auth text, spf_auth text,
	extra text, note text);
	CREATE INDEX ON plain (report_pk, seq); CREATE INDEX ON plain (source_ip)"
setup[records]="$parent"
# The foreign keys to reports that 0032 replaced by triggers on reports, put back.
setup[records_fk]="$parent;
	ALTER TABLE dmarcsift.records ADD FOREIGN KEY (tenant_id, report_pk)
		REFERENCES dmarcsift.reports (tenant_id, id) ON DELETE CASCADE ON UPDATE CASCADE;
	ALTER TABLE dmarcsift.record_sources ADD FOREIGN KEY (tenant_id, report_pk)
		REFERENCES dmarcsift.reports (tenant_id, id) ON DELETE CASCADE ON UPDATE CASCADE"
setup[records_nodaily]="$parent; ALTER TABLE dmarcsift.records DISABLE TRIGGER daily_rollup_ins"
setup[records_nosources]="$parent; ALTER TABLE dmarcsift.records DISABLE TRIGGER records_rollup"
# The same columns, key and index in a table of their own: no foreign key, no trigger.
setup[records_nofk_notrig]="CREATE TABLE r (LIKE dmarcsift.records INCLUDING DEFAULTS
	INCLUDING CONSTRAINTS INCLUDING INDEXES)"
setup[records_text]="CREATE TABLE r (tenant_id integer NOT NULL, report_pk bigint NOT NULL,
	seq integer NOT NULL, source_ip text NOT NULL, count bigint NOT NULL, disposition text,
	dkim text, spf text, header_from text, envelope_from text, envelope_to text,
	reasons text NOT NULL, dkim_auth text NOT NULL, spf_auth text NOT NULL, extra text,
	PRIMARY KEY (tenant_id, report_pk, seq));
	CREATE INDEX ON r (tenant_id, source_ip)"
setup[records_nopk]="CREATE TABLE r (tenant_id integer NOT NULL, report_pk bigint NOT NULL,
	seq integer NOT NULL, source_ip text NOT NULL, count bigint NOT NULL, disposition text,
	dkim text, spf text, header_from text, envelope_from text, envelope_to text,
	reasons text NOT NULL, dkim_auth text NOT NULL, spf_auth text NOT NULL, extra text);
	CREATE INDEX ON r (tenant_id, report_pk, seq); CREATE INDEX ON r (tenant_id, source_ip)"
target() {
	case $1 in
	plain) echo plain ;;
	records_nofk_notrig | records_text | records_nopk) echo r ;;
	*) echo dmarcsift.records ;;
	esac
}

variants="records_fk records_nodaily records_nosources"
variants="$variants records_nofk_notrig records_text records_nopk"
declare -A t
add() { t[$1]="${t[$1]:-} $2"; }
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
last() { tr ' ' '\n' <<<"${t[$1]}" | grep . | tail -1; }
range() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }

copy_step() {
	local name=$1 t0 t1
	fresh b_copy
	sql "$(db b_copy)" "${setup[$name]}" >/dev/null
	sql "$conn" CHECKPOINT >/dev/null
	t0=$(now)
	sql "$(db b_copy)" "\\copy $(target "$name") ($cols) FROM '$tmp/big.tsv'" >/dev/null ||
		fail "\\copy into $name failed"
	t1=$(now)
	add "copy_$name" "$(calc '%.3f' "$t1 - $t0")"
}

ingest_step() {
	local name=$1 path=$2 s rss stored
	fresh b_ing
	sql "$conn" CHECKPOINT >/dev/null
	/usr/bin/time -f '%e %M' -o "$tmp/time" "$bin" ingest --db "$(db b_ing)" --quiet --no-resolve --no-correlate "$path" \
		>"$tmp/ingest.out" 2>&1 || { cat "$tmp/ingest.out" >&2; fail "ingest of $name failed"; }
	stored=$(sql "$(db b_ing)" "SELECT count(*) FROM dmarcsift.records")
	[ "$stored" = "$n_big" ] || fail "$name: $stored records stored, expected $n_big"
	read -r s rss <"$tmp/time"
	add "ingest_$name" "$s"
	add "rss_$name" "$(calc '%.1f' "$rss / 1024")"
}

for r in $(seq "$rounds"); do
	say "round $r of $rounds"
	t0=$(now)
	xmllint --stream --noout "$tmp/big.xml" || fail "xmllint rejected the report"
	t1=$(now)
	add xmllint "$(calc '%.3f' "$t1 - $t0")"
	copy_step plain
	copy_step records
	# The two ingests back to back, their order alternating: each round's
	# .xml / .xml.gz is one paired ratio, which this machine's drift from
	# one minute to the next does not move as it moves the medians.
	if [ $((r % 2)) = 1 ]; then
		ingest_step xml "$tmp/big.xml"
		ingest_step gz "$tmp/big.xml.gz"
	else
		ingest_step gz "$tmp/big.xml.gz"
		ingest_step xml "$tmp/big.xml"
	fi
	add xml_gz "$(calc '%.3f' "$(last ingest_xml) / $(last ingest_gz)")"
	for v in $variants; do copy_step "$v"; done
done

# --- figures ---------------------------------------------------------------
m() { median "${t[$1]}"; }
floor=$(calc '%.3f' "$(m xmllint) + $(m copy_plain)")
plain=$(m copy_plain)
verdict() { calc '%s' "($1 <= $2) ? \"ok\" : \"MISSED\""; }
row() { printf '%-58s %8s %13s %7s %s\n' "$@"; }
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "dmarcsift: one $n_big-record report against its floor — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, ${cpu:-unknown CPU}, load average $(cut -d' ' -f1-3 /proc/loadavg);" \
	"PostgreSQL $(sql "$conn" 'SHOW server_version'), fsync=off; $rounds interleaved rounds, medians (range)"
echo "report: $(calc '%.1f' "$xml_bytes / 1e6") MB .xml, $(calc '%.1f' "$gz_bytes / 1e6") MB .xml.gz"
echo
row "step" "seconds" "range" "ratio" "aim"
row "xmllint --stream --noout" "$(m xmllint)" "$(range "${t[xmllint]}")" "" ""
row "bare \\copy into the plain table" "$plain" "$(range "${t[copy_plain]}")" "" ""
row "floor: the two above" "$floor" "" "1.00" "baseline"
for k in xml gz; do
	ratio=$(calc '%.2f' "$(m "ingest_$k") / $floor")
	row "dmarcsift ingest, .${k/gz/xml.gz}" "$(m "ingest_$k")" "$(range "${t[ingest_$k]}")" \
		"$ratio" "<= 1.3x floor: $(verdict "$ratio" 1.3)"
done
ratio=$(calc '%.2f' "$(m xml_gz)")
row "  .xml / .xml.gz, median of the rounds' pairs" "" "$(range "${t[xml_gz]}")" "$ratio" \
	"<= 1: $(verdict "$ratio" 1.0)"
echo
row "bare \\copy of the same rows" "seconds" "range" "/plain" ""
declare -A label=(
	[records]="into dmarcsift.records, as migrated"
	[records_fk]="  with the foreign keys to reports (before 0032)"
	[records_nodaily]="  without the daily_rollup/domain_rollup trigger"
	[records_nosources]="  without the record_sources trigger"
	[records_nofk_notrig]="  without foreign key and triggers (a table of its own)"
	[records_text]="  and jsonb/inet columns as text"
	[records_nopk]="  and the primary key as a plain index"
)
for v in records $variants; do
	ratio=$(calc '%.2f' "$(m "copy_$v") / $plain")
	aim=""
	[ "$v" = records ] && aim="<= 1.3x plain: $(verdict "$ratio" 1.3)"
	row "${label[$v]}" "$(m "copy_$v")" "$(range "${t[copy_$v]}")" "$ratio" "$aim"
done
echo
for k in xml gz; do
	mib=$(median "${t[rss_$k]}")
	row "peak RSS of dmarcsift ingest, .${k/gz/xml.gz} (MiB)" "$mib" "" "" "< 64: $(verdict "$mib" 63.999)"
done
if [ "${BENCH_BOUNCES:-0}" = 1 ]; then
	echo
	BENCH_BUILD_DIR=$build "$root/tests/bench/bench_bounce_ingest.sh"
fi
