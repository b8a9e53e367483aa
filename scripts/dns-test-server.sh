#!/usr/bin/env bash
# A throwaway DNS server (Debian's unbound) on a free loopback port serving
# our zone data (fixtures/dns/zone.conf) and nothing else: '.' is a static
# zone, so no query ever leaves the machine. Everything lives under DIR.
# Used by scripts/test.sh (the source-naming tests) and scripts/setup.sh
# (the bundled fixtures' sources get their names from it).
#
#   scripts/dns-test-server.sh start DIR   -> prints "127.0.0.1:PORT"
#   scripts/dns-test-server.sh stop DIR
#   scripts/dns-test-server.sh resume DIR  (start again on the same port)
#   scripts/dns-test-server.sh status DIR  (exit 0 when running; prints the address)
# The zone data served: fixtures/dns/zone.conf (reverse DNS, ASN, blocklists)
# and fixtures/dns/records.conf (the test domains' DMARC/SPF/DKIM/MTA-STS/
# TLS-RPT records, dns check). DNS_TEST_ZONE=FILE[:FILE...] serves those
# files instead (tests of records that change between two runs:
# fixtures/dns/zone-later.conf, fixtures/dns/records-later.conf).
set -euo pipefail
cmd=${1:?start|stop|resume|status}
dir=${2:?directory}
root=$(cd "$(dirname "$0")/.." && pwd)

free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		# A TCP probe: unbound listens on UDP and TCP on the same port.
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	echo "dns-test-server: no free port found" >&2
	return 1
}

running() {
	[ -f "$dir/unbound.pid" ] && kill -0 "$(cat "$dir/unbound.pid")" 2>/dev/null
}

includes() {
	local files f
	IFS=: read -r -a files <<<"${DNS_TEST_ZONE:-$root/fixtures/dns/zone.conf:$root/fixtures/dns/records.conf}"
	for f in "${files[@]}"; do
		printf '\tinclude: "%s"\n' "$f"
	done
}

launch() {
	local port=$1
	cat >"$dir/unbound.conf" <<CONF
server:
	interface: 127.0.0.1@$port
	port: $port
	do-ip6: no
	do-daemonize: yes
	pidfile: "$dir/unbound.pid"
	username: ""
	chroot: ""
	directory: "$dir"
	logfile: "$dir/unbound.log"
	use-syslog: no
	verbosity: 1
	num-threads: 1
	access-control: 127.0.0.0/8 allow
	module-config: "iterator"
	do-not-query-localhost: yes
	local-zone: "." static
$(includes)
remote-control:
	control-enable: no
CONF
	unbound-checkconf "$dir/unbound.conf" >/dev/null
	unbound -c "$dir/unbound.conf"
	for _ in $(seq 1 50); do
		running && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "dns-test-server: unbound did not come up (see $dir/unbound.log)" >&2
	return 1
}

case "$cmd" in
start)
	command -v unbound >/dev/null || { echo "dns-test-server: unbound is not installed (apt-get install unbound)" >&2; exit 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if running; then
		echo "127.0.0.1:$(cat "$dir/port")"
		exit 0
	fi
	port=$(free_port)
	echo "$port" >"$dir/port"
	launch "$port"
	echo "127.0.0.1:$port"
	;;
resume)
	dir=$(cd "$dir" && pwd)
	running || launch "$(cat "$dir/port")"
	echo "127.0.0.1:$(cat "$dir/port")"
	;;
status)
	running && echo "127.0.0.1:$(cat "$dir/port")"
	;;
stop)
	if running; then
		pid=$(cat "$dir/unbound.pid")
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$dir/unbound.pid"
	;;
*)
	echo "dns-test-server: unknown command $cmd" >&2
	exit 2
	;;
esac
