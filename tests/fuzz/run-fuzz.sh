#!/usr/bin/env bash
# Runs one libFuzzer target of the fuzz configuration (DMARCSIFT_LIBFUZZER):
#   run-fuzz.sh TARGET SEED_CORPUS ARTIFACT_DIR
#  1. replays the seed corpus and checks that the fuzzer sees the project's
#     code: libFuzzer's coverage report (-print_coverage, symbolized by
#     llvm-symbolizer) must name functions outside tests/fuzz/. Without
#     -fsanitize=fuzzer-no-link on the libraries only the harness is
#     instrumented, and the fuzzer is blind to what the parser does;
#  2. fuzzes for DMARCSIFT_FUZZ_SECONDS (default 10; 0 replays only).
# New inputs go to a temporary directory that is removed afterwards: the
# seed corpus in the repository is only read. A crash, leak, timeout or
# sanitizer report fails the test, and the input that caused it is kept in
# ARTIFACT_DIR (in the build directory) to reproduce it with
#   TARGET ARTIFACT_DIR/NAME-crash-...
set -euo pipefail
target=${1:?target}
seeds=${2:?seed corpus}
artifacts=${3:?artifact directory}
seconds=${DMARCSIFT_FUZZ_SECONDS:-10}
name=$(basename "$target")

case "$seconds" in '' | *[!0-9]*)
	echo "$name: DMARCSIFT_FUZZ_SECONDS must be a whole number of seconds" >&2
	exit 2
	;;
esac
[ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ] || {
	echo "$name: no seed inputs in $seeds (an empty corpus is a defect)" >&2
	exit 1
}
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/dmarcsift-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/new"
log=$work/log

# -timeout: one input taking this long is a finding; -rss_limit_mb likewise.
common=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/$name-" -print_final_stats=1)

status=0
"$target" "${common[@]}" -runs=0 -print_coverage=1 "$work/new" "$seeds" >"$log" 2>&1 || status=$?
if [ "$status" != 0 ]; then
	cat "$log" >&2
	echo "$name: replaying the seed corpus failed (exit $status); the input is in $artifacts/" >&2
	exit 1
fi
cov=$(sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$log" | head -1)
funcs=$(grep '^COVERED_FUNC: ' "$log" | grep ' /' | grep -vc '/tests/fuzz/' || true)
if [ "$funcs" = 0 ]; then
	grep '^COVERED_FUNC: ' "$log" >&2 || true
	echo "$name: over the seeds the fuzzer saw no function of the project outside the" \
		"harness: the libraries carry no coverage instrumentation (the fuzz configuration" \
		"adds -fsanitize=fuzzer-no-link to them), or llvm-symbolizer is missing" >&2
	exit 1
fi
echo "$name: seeds replayed: $cov coverage edges, $funcs of the project's functions reached"
[ "$seconds" = 0 ] && exit 0

"$target" "${common[@]}" -max_total_time="$seconds" "$work/new" "$seeds" >"$log" 2>&1 || status=$?
tail -n 12 "$log"
if [ "$status" != 0 ]; then
	cat "$log" >&2
	echo "$name: the fuzzer found a failure (exit $status); the input is in $artifacts/" >&2
	exit 1
fi
echo "$name: fuzzed for ${seconds}s, $(find "$work/new" -type f | wc -l) new inputs (discarded)," \
	"$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' "$log" | tail -1) coverage edges"
