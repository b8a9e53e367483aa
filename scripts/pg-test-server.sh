#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for the test suite, on a unix
# socket inside DIR only (no TCP port, so parallel runs never collide).
# PostgreSQL refuses to run as root; as root the server runs as the
# unprivileged `postgres` account (Debian's server package creates it).
#   scripts/pg-test-server.sh start DIR   -> prints the libpq connection string
#   scripts/pg-test-server.sh stop DIR
# fsync is off unless PG_TEST_FSYNC=on (tests/bench/bench_small.sh).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "pg-test-server: no PostgreSQL server installed (postgresql-15)" >&2; exit 1; }

as_server_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case "$cmd" in
start)
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		echo "pg-test-server: running as root, so PostgreSQL runs as the unprivileged 'postgres' user" >&2
		chown postgres: "$dir"
		chmod 755 "$dir"
	fi
	as_server_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	as_server_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=${PG_TEST_FSYNC:-off} -c max_connections=200 -c shared_buffers=256MB" start >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
	echo "host=$dir port=5432 user=postgres dbname=postgres"
	;;
stop)
	[ -d "$dir/data" ] && as_server_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
