#!/usr/bin/env bash
# The Debian package, built and tried: called by scripts/test.sh after the
# Release build, and runnable on its own.
#
#   1. copies the tree (tracked and new files, not build output) to a
#      temporary directory, since dpkg-buildpackage writes ../*.deb, and runs
#      `dpkg-buildpackage -us -uc -b` there (no tests: DEB_BUILD_OPTIONS=nocheck)
#   2. as root: `dpkg -i` the .deb, checks what it installed — the binary
#      (--version says the changelog's version), `man dmarcsift-ingest`, the
#      dmarcsift user and its home from sysusers.d/tmpfiles.d, the conffile,
#      the units naming /usr/bin/dmarcsift, bash completion — then
#      `dpkg --purge dmarcsift`, and removes the user and its home when this
#      run created them, so the machine is left as it was
#
# usage: scripts/deb-test.sh            (DMARCSIFT_DEB_KEEP=DIR keeps the .deb there)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

work=$(mktemp -d /tmp/dmarcsift-deb.XXXXXX)
installed=0
user_existed=1
home_existed=1
base_existed=1
cleanup() {
	if [ "$installed" = 1 ]; then
		dpkg --purge dmarcsift >"$work/purge.log" 2>&1 || cat "$work/purge.log" >&2
	fi
	if [ "$user_existed" = 0 ] && getent passwd dmarcsift >/dev/null; then
		userdel dmarcsift 2>/dev/null || true
		getent group dmarcsift >/dev/null && groupdel dmarcsift 2>/dev/null || true
	fi
	[ "$home_existed" = 0 ] && rm -rf /var/lib/dmarcsift/home
	[ "$base_existed" = 0 ] && rmdir /var/lib/dmarcsift 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "deb-test: $*" >&2
	exit 1
}

version=$(sed -n 's/^project(dmarcsift VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
changelog=$(dpkg-parsechangelog -l debian/changelog -SVersion)
[ "$changelog" = "$version" ] ||
	fail "debian/changelog is at $changelog, CMakeLists.txt at $version: add a changelog entry (dch -v $version)"

# Build-Depends keeps up with the -dev packages the build needs (scripts/deps.sh).
. scripts/deps.sh
for p in $DMARCSIFT_PACKAGES; do
	case $p in *-dev) ;; *) continue ;; esac
	grep -qE "^[[:space:]]*(Build-Depends:)?[[:space:]]*$p([ ,]|\$)" debian/control ||
		fail "debian/control's Build-Depends lacks $p (in scripts/deps.sh)"
done

mkdir "$work/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | tar -x -C "$work/src"
else
	tar -c --exclude='./build*' --exclude='./obj-*' --exclude='./debian/dmarcsift' . | tar -x -C "$work/src"
fi

start=$(date +%s)
(cd "$work/src" && DEB_BUILD_OPTIONS="nocheck parallel=$jobs" dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1 || {
	tail -40 "$work/build.log" >&2
	fail "dpkg-buildpackage failed (the end of its log is above)"
}
deb=$work/dmarcsift_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "dpkg-buildpackage made no $deb: $(ls "$work")"
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB) in $(($(date +%s) - start)) s"
if [ -n "${DMARCSIFT_DEB_KEEP:-}" ]; then
	mkdir -p "$DMARCSIFT_DEB_KEEP"
	cp "$work"/*.deb "$DMARCSIFT_DEB_KEEP"/
fi

if [ "$(id -u)" != 0 ]; then
	echo "not root: the .deb was built, but installing it (dpkg -i) needs root: not tried"
	exit 0
fi
if dpkg-query -W -f='${Status}' dmarcsift 2>/dev/null | grep -q 'installed'; then
	fail "a dmarcsift package is installed on this machine already; this check would replace and purge it"
fi
getent passwd dmarcsift >/dev/null || user_existed=0
[ -e /var/lib/dmarcsift/home ] || home_existed=0
[ -e /var/lib/dmarcsift ] || base_existed=0

installed=1
dpkg -i "$deb" >"$work/install.log" 2>&1 || {
	cat "$work/install.log" >&2
	fail "dpkg -i failed"
}

# Nothing here may start or reach a database.
export DMARCSIFT_DB="host=$work/no-server"
first=$(/usr/bin/dmarcsift --version | head -1)
case $first in
"dmarcsift $version"*) ;;
*) fail "/usr/bin/dmarcsift --version says '$first', expected dmarcsift $version" ;;
esac
page=$(MANWIDTH=80 man dmarcsift-ingest 2>"$work/man.err") || fail "man dmarcsift-ingest failed: $(cat "$work/man.err")"
[ ! -s "$work/man.err" ] || fail "man dmarcsift-ingest: $(cat "$work/man.err")"
grep -A1 '^NAME' <<<"$page" | grep -q 'dmarcsift-ingest *- ingest aggregate reports' ||
	fail "man dmarcsift-ingest shows: $(head -5 <<<"$page")"
[ -f /usr/lib/sysusers.d/dmarcsift.conf ] || fail "no /usr/lib/sysusers.d/dmarcsift.conf"
[ -f /usr/lib/tmpfiles.d/dmarcsift.conf ] || fail "no /usr/lib/tmpfiles.d/dmarcsift.conf"
getent passwd dmarcsift | grep -q ':/var/lib/dmarcsift/home:/usr/sbin/nologin$' ||
	fail "postinst did not create the dmarcsift user: $(getent passwd dmarcsift || echo none)"
[ "$(stat -c '%U:%G %a' /var/lib/dmarcsift/home 2>/dev/null)" = "dmarcsift:dmarcsift 750" ] ||
	fail "/var/lib/dmarcsift/home: $(stat -c '%U:%G %a' /var/lib/dmarcsift/home 2>&1)"
runuser -u dmarcsift -- /usr/bin/dmarcsift --help >/dev/null || fail "the dmarcsift user cannot run /usr/bin/dmarcsift"
dpkg-query -W -f='${Conffiles}\n' dmarcsift | grep -q '^ /etc/dmarcsift/dmarcsift.conf ' ||
	fail "/etc/dmarcsift/dmarcsift.conf is not a conffile"
/usr/bin/dmarcsift config check --config /etc/dmarcsift/dmarcsift.conf >"$work/cc" 2>&1 ||
	fail "config check of the shipped /etc/dmarcsift/dmarcsift.conf: $(cat "$work/cc")"
for s in /lib/systemd/system/dmarcsift-poll.service /lib/systemd/system/dmarcsift-prune.service \
	/lib/systemd/system/dmarcsift-report@.service; do
	grep -q '^ExecStart=.*/usr/bin/dmarcsift ' "$s" || fail "$s does not run /usr/bin/dmarcsift"
done
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify /lib/systemd/system/dmarcsift-poll.{service,timer} /lib/systemd/system/dmarcsift-prune.{service,timer} \
		>"$work/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$work/verify")"
fi
bash --norc -c '. /usr/share/bash-completion/completions/dmarcsift && complete -p dmarcsift' >/dev/null ||
	fail "the installed bash completion does not load"

dpkg --purge dmarcsift >"$work/purge.log" 2>&1 || {
	cat "$work/purge.log" >&2
	fail "dpkg --purge failed"
}
installed=0
[ ! -e /usr/bin/dmarcsift ] || fail "/usr/bin/dmarcsift left after purge"
[ ! -e /etc/dmarcsift/dmarcsift.conf ] || fail "/etc/dmarcsift/dmarcsift.conf left after purge"
echo "installed, checked and purged $(basename "$deb") in $(($(date +%s) - start)) s in all"
