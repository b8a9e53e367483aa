#!/usr/bin/env bash
# clang-tidy over the program's sources, with the checks in .clang-tidy.
#
#   scripts/tidy.sh [BUILD_DIR]      (default: build)
#
# BUILD_DIR must be a configured CMake build directory: CMakeLists.txt turns on
# CMAKE_EXPORT_COMPILE_COMMANDS, and clang-tidy reads compile_commands.json
# from there to get each file's flags. Build it first so generated headers
# exist. Checks every git-tracked .c file under core ingest db cli reports app senders checks
# (all .c files there when this is not a git checkout), two files at a time.
#
# Prints every diagnostic; exits 1 when clang-tidy printed any warning or
# error, 2 on a usage or setup problem, 0 when the tree is clean.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
if [ ! -f "$build/compile_commands.json" ]; then
	echo "tidy: no $build/compile_commands.json; configure first:" >&2
	echo "  cmake -S . -B $build && cmake --build $build" >&2
	exit 2
fi
if ! command -v clang-tidy >/dev/null; then
	echo "tidy: clang-tidy not found (Debian: apt-get install clang-tidy)" >&2
	exit 2
fi

dirs="core ingest db cli reports app senders checks"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	files=$(git ls-files -- $dirs | grep '\.c$' || true)
else
	# shellcheck disable=SC2086
	files=$(find $dirs -name '*.c' | sort)
fi
# Tracked but deleted in the work tree: nothing to check.
existing=""
for f in $files; do
	[ -f "$f" ] && existing="$existing $f"
done
if [ -z "$existing" ]; then
	echo "tidy: no .c files found under $dirs" >&2
	exit 2
fi

jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

out=$(mktemp -d /tmp/dmarcsift-tidy.XXXXXX)
trap 'rm -rf "$out"' EXIT

# One output file per source so parallel runs do not interleave. clang-tidy's
# own exit status is kept too: it is non-zero when a file does not compile.
# shellcheck disable=SC2086,SC2016 # word splitting wanted; $1.. belong to sh -c
printf '%s\n' $existing | xargs -P "$jobs" -I{} sh -c '
	f=$1 build=$2 out=$3
	o="$out/$(printf %s "$f" | tr / _)"
	clang-tidy -p "$build" --quiet "$f" >"$o.log" 2>&1 || echo "$f" >"$o.failed"
' sh {} "$build" "$out"

status=0
for f in $existing; do
	o="$out/$(printf %s "$f" | tr / _)"
	# "N warnings generated." counts the diagnostics clang-tidy filtered out
	# (system headers, checks that are off); it is not a finding.
	grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$o.log" >"$o.show" || true
	if [ -s "$o.show" ]; then
		cat "$o.show"
	fi
	if grep -qE ': (warning|error):' "$o.show" || [ -f "$o.failed" ]; then
		echo "tidy: $f is not clean" >&2
		status=1
	fi
done
n=$(echo "$existing" | wc -w)
if [ "$status" -eq 0 ]; then
	echo "tidy: $n files clean"
fi
exit "$status"
