#!/usr/bin/env bash
# The whole test suite — the README's second command, and what .ci/run calls.
#
#   1. installs missing Debian packages (as root; otherwise says what to install)
#   2. checks formatting and banned functions (and, after the first build,
#      runs clang-tidy over the sources)
#   3. starts a throwaway PostgreSQL (unix socket in a temp dir; as root it runs
#      as the unprivileged 'postgres' user, because PostgreSQL refuses root),
#      a throwaway Dovecot on a loopback port with TLS, and a throwaway DNS
#      server (unbound on a loopback port, serving only fixtures/dns/zone.conf),
#      for the integration tests
#   4. builds and runs every test (unit, integration, fuzz-corpus replay) with
#      ctest, then builds again with AddressSanitizer + UndefinedBehaviorSanitizer
#      and runs the same suite
#   5. builds the Release configuration (-O3: build only, so every build type
#      the README mentions compiles; its warnings differ from -O2's)
#   6. builds the Debian package in a copy of the tree (scripts/deb-test.sh)
#      and, as root, installs it with dpkg -i, checks the installed files and
#      purges it again
#   7. builds the fuzz configuration (clang, libFuzzer, ASan+UBSan, the
#      project's libraries with coverage instrumentation) and runs each fuzz
#      target: its seed corpus, then DMARCSIFT_FUZZ_SECONDS (default 10) of
#      fuzzing; new inputs go to a temporary directory, a crash fails the run
#      and its input is kept in build-fuzz/tests/fuzz-artifacts/
#   8. stops the servers, whatever happened
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/deps.sh
ensure_packages $DMARCSIFT_PACKAGES $DMARCSIFT_TEST_PACKAGES

jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

echo "== static checks"
banned=$(grep -nE '\b(sprintf|strcpy|strcat|gets|strtok|atoi|sscanf)\s*\(' \
	$(git ls-files '*.c' '*.h' 2>/dev/null || find core ingest db reports cli tests -name '*.[ch]') | grep -v '^tests/fuzz/driver.c' || true)
if [ -n "$banned" ]; then
	echo "banned functions in use (use snprintf, core/buf.h, strtoll):" >&2
	echo "$banned" >&2
	exit 1
fi
if command -v clang-format >/dev/null; then
	unformatted=""
	for f in $(git ls-files '*.c' '*.h' 2>/dev/null); do
		[ -f "$f" ] || continue
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || unformatted="$unformatted $f"
	done
	if [ -n "$unformatted" ]; then
		echo "not clang-formatted (run clang-format -i):$unformatted" >&2
		exit 1
	fi
fi

tmp=$(mktemp -d /tmp/dmarcsift-test.XXXXXX)
chmod 755 "$tmp"
cleanup() {
	[ -x scripts/dovecot-test-server.sh ] && scripts/dovecot-test-server.sh stop "$tmp/dovecot" >/dev/null 2>&1 || true
	scripts/dns-test-server.sh stop "$tmp/dns" >/dev/null 2>&1 || true
	scripts/pg-test-server.sh stop "$tmp/pg" || true
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== starting PostgreSQL for the tests"
DMARCSIFT_TEST_DB=$(scripts/pg-test-server.sh start "$tmp/pg")
export DMARCSIFT_TEST_DB
export DMARCSIFT_TEST_TMP="$tmp"
if [ -x scripts/dovecot-test-server.sh ]; then
	echo "== starting Dovecot for the tests"
	scripts/dovecot-test-server.sh start "$tmp/dovecot" >"$tmp/dovecot.env"
	DMARCSIFT_TEST_IMAP=$(cat "$tmp/dovecot.env")
	export DMARCSIFT_TEST_IMAP
	export DMARCSIFT_TEST_IMAP_DIR="$tmp/dovecot"
fi
echo "== starting the DNS server for the tests (unbound, loopback, our zone data)"
DMARCSIFT_TEST_DNS=$(scripts/dns-test-server.sh start "$tmp/dns")
export DMARCSIFT_TEST_DNS
export DMARCSIFT_TEST_DNS_DIR="$tmp/dns"
# Nothing the tests run may ask a real resolver. Tests about naming sources
# point the binary at the local server themselves; for every other ingest the
# DNS is a loopback port nobody listens on (refused at once: the naming step
# gives up quickly and says so).
export DMARCSIFT_DNS_SERVERS="127.0.0.1:1"
# Tests must never touch the user's own embedded cluster or config.
export XDG_DATA_HOME="$tmp/xdg-data" XDG_CONFIG_HOME="$tmp/xdg-config"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
chmod 755 "$XDG_DATA_HOME"
unset DMARCSIFT_DB

run_suite() {
	local dir=$1
	shift
	echo "== building $dir"
	cmake -S "$root" -B "$root/$dir" "$@" >/dev/null
	cmake --build "$root/$dir" -j"$jobs" >/dev/null
	echo "== testing $dir"
	ctest --test-dir "$root/$dir" --output-on-failure -j"$jobs"
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== clang-tidy"
scripts/tidy.sh build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
LSAN_OPTIONS=suppressions="$root/tests/lsan.supp":print_suppressions=0 \
	run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DDMARCSIFT_SANITIZE=ON

echo "== building build-release (Release, -O3; built, not run again)"
cmake -S "$root" -B "$root/build-release" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build-release" -j"$jobs" >/dev/null

echo "== building and installing the .deb (dpkg-buildpackage in a copy of the tree, dpkg -i, checks, dpkg --purge)"
scripts/deb-test.sh

echo "== building build-fuzz (libFuzzer; the project's code carries coverage instrumentation)"
CC=clang cmake -S "$root" -B "$root/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DDMARCSIFT_LIBFUZZER=ON -DDMARCSIFT_SANITIZE=ON >/dev/null
cmake --build "$root/build-fuzz" -j"$jobs" --target fuzz >/dev/null
echo "== fuzzing: each target's seeds, then ${DMARCSIFT_FUZZ_SECONDS:-10}s each (DMARCSIFT_FUZZ_SECONDS)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
LSAN_OPTIONS=suppressions="$root/tests/lsan.supp":print_suppressions=0 \
	ctest --test-dir "$root/build-fuzz" --output-on-failure -j"$jobs" -L fuzz
echo "== all tests passed (RelWithDebInfo and ASan+UBSan builds, the .deb, fuzzing; Release builds)"
