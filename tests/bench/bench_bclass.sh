#!/bin/sh
# Bounce classification throughput: generates a Postfix log (10 million lines
# by default), then prints lines/s per core for a bare line-splitting loop
# and `wc -l` (the baselines, same run, same file), the Postfix parser alone,
# and parser + classifier. Target: > 1,000,000 lines/s/core classified.
# Then bounce messages per second beside it: RFC 3464 DSNs and plain-text
# notices (the fixtures in fixtures/bounces/ and fixtures/bounces/notices/),
# parsed and classified on one core.
# usage: tests/bench/bench_bclass.sh [BUILD_DIR] [LINES]
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
lines=${2:-10000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench_bclass.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

for lib in core/libdscore.a ingest/libdsingest.a; do
	[ -f "$build/$lib" ] || { echo "bench_bclass: build first ($build/$lib missing)" >&2; exit 2; }
done
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$src" \
	"$src/tests/bench/bench_bclass.c" "$build/ingest/libdsingest.a" "$build/core/libdscore.a" \
	$(pkg-config --cflags --libs gmime-3.0 libarchive libxml-2.0 zlib json-c libcurl) \
	-o "$work/bench_bclass"

echo "generating $lines lines ..."
"$work/bench_bclass" gen "$work/postfix.log" "$lines"
ls -l "$work/postfix.log" | awk '{printf "log: %.1f MiB\n", $5 / 1048576}'

pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
wc -l "$work/postfix.log" >/dev/null # warm the cache
t0=$(date +%s.%N)
wc -l <"$work/postfix.log" >/dev/null
t1=$(date +%s.%N)
awk -v l="$lines" -v a="$t0" -v b="$t1" \
	'BEGIN { printf "%-40s %10d lines %7.3f s %12.0f lines/s\n", "baseline: wc -l", l, b - a, l / (b - a) }'
$pin "$work/bench_bclass" run "$work/postfix.log"
f=$src/fixtures/bounces
$pin "$work/bench_bclass" mail "mail: RFC 3464 DSNs" "$f/dsn_postfix_headers.eml" "$f/dsn_multi.eml" \
	"$f/notices/dsn_forwarded.eml" "$f/notices/dsn_x000.eml" "$f/notices/dsn_broken.eml"
# shellcheck disable=SC2046
$pin "$work/bench_bclass" mail "mail: plain-text notices" $(ls "$f"/notices/*.eml | grep -v '/dsn_\|/ses_\|/arf\|/autoreply')
