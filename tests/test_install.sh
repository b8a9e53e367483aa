#!/usr/bin/env bash
# The install tree: `cmake --install BUILD --prefix TMP`, then what an operator
# meets there. The installed binary runs (--version, --help, a command's
# --help); every subcommand that `dmarcsift --help` lists has a man page, and
# every long option its --help names is in that page (so a new command or
# option without documentation fails here); each page renders with `man -l`
# and groff without a warning; the systemd units name the installed binary
# and pass `systemd-analyze verify`; the sysusers.d and tmpfiles.d entries
# create the user and its home in a scratch root; the example configuration
# is clean for `config check` and knows only keys the parser knows; bash and
# zsh completion offer the subcommands and a command's options.
#
# usage: tests/test_install.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
tmp=$(mktemp -d /tmp/dmarcsift-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
bin=$prefix/bin/dmarcsift
mandir=$prefix/share/man/man1
doc=$prefix/share/doc/dmarcsift
[ -x "$bin" ] || { echo "FAIL: $bin not installed" >&2; exit 1; }

# Nothing here may reach a database or read the user's configuration.
export DMARCSIFT_DB="host=$tmp/no-server" XDG_CONFIG_HOME=$tmp/xdg-config XDG_DATA_HOME=$tmp/xdg-data
export MANWIDTH=80 LC_ALL=C.UTF-8
unset MANPATH

echo "== the installed binary"
"$bin" --version >"$tmp/version" || fail "dmarcsift --version exited $?"
head -1 "$tmp/version" | grep -qE '^dmarcsift [0-9]+\.[0-9]+\.[0-9]+' ||
	fail "--version's first line: $(head -1 "$tmp/version")"
"$bin" --help >"$tmp/help" || fail "dmarcsift --help exited $?"
"$bin" ingest --help >"$tmp/ingest-help" || fail "dmarcsift ingest --help exited $?"
grep -q '^usage: dmarcsift ingest' "$tmp/ingest-help" || fail "ingest --help has no usage line"

# The commands, as the binary lists them.
cmds=$(awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$tmp/help")
ncmds=$(wc -w <<<"$cmds")
[ "$ncmds" -ge 10 ] || fail "dmarcsift --help lists $ncmds commands: $cmds"

echo "== man pages ($ncmds commands)"
check_page() {
	local page=$1
	[ -f "$page" ] || { fail "no man page $page"; return; }
	local out err
	out=$(man --warnings -l "$page" 2>"$tmp/man.err") || fail "man -l $page exited $?"
	err=$(cat "$tmp/man.err")
	[ -z "$err" ] || fail "man --warnings -l $(basename "$page"): $err"
	[ -n "$out" ] || fail "man -l $(basename "$page") rendered nothing"
	err=$(groff -ww -man -z "$page" 2>&1) || fail "groff $page exited $?"
	[ -z "$err" ] || fail "groff -ww $(basename "$page"): $err"
	lexgrog "$page" >/dev/null 2>&1 || fail "$(basename "$page"): no NAME section whatis can read"
}
check_page "$mandir/dmarcsift.1"
awk '/^\.SH/ { on = ($0 ~ /COMMON OPTIONS/) } on' "$mandir/dmarcsift.1" >"$tmp/common-options"
for c in $cmds; do
	page=$mandir/dmarcsift-$c.1
	check_page "$page"
	[ -f "$page" ] || continue
	grep -q "^\.B.* $c\b\|^\.BR dmarcsift\\\\-$c (1)" "$mandir/dmarcsift.1" ||
		fail "dmarcsift(1) does not list $c"
	"$bin" "$c" --help >"$tmp/cmd-help" 2>&1 || fail "dmarcsift $c --help exited $?"
	# Every long option the command's help names is described in its page.
	for o in $(grep -oE -- '--[a-z][a-z0-9-]*' "$tmp/cmd-help" | sort -u); do
		[ "$o" = --help ] && continue
		# (an entry of its own: .B/.BI \-\-opt, not only the synopsis; an
		# option every command takes may have its entry in dmarcsift(1)'s
		# COMMON OPTIONS instead)
		re="^\.B[IR]? (\\\\-[a-zA-Z] \"?, \"? ?)?${o//-/\\\\-}( |,|\$)"
		grep -qE -- "$re" "$page" || grep -qE -- "$re" "$tmp/common-options" ||
			fail "dmarcsift-$c.1 does not describe $o"
	done
done
# ... and no page for a command that is gone.
for page in "$mandir"/dmarcsift-*.1; do
	c=$(basename "$page" .1)
	c=${c#dmarcsift-}
	grep -qx -- "$c" <<<"$cmds" || fail "man page for '$c', which dmarcsift --help does not list"
done

echo "== systemd units"
unitdir=$prefix/lib/systemd/system
for u in dmarcsift-poll.service dmarcsift-poll.timer dmarcsift-prune.service dmarcsift-prune.timer \
	dmarcsift-report@.service dmarcsift-report@.timer; do
	[ -f "$unitdir/$u" ] || fail "unit $u not installed"
done
for s in "$unitdir"/*.service; do
	[ -f "$s" ] || continue
	grep -q "^ExecStart=.*$bin " "$s" || fail "$(basename "$s"): ExecStart does not run $bin"
	if grep -E '^ExecStart=' "$s" | grep -oE '/[^ '\'']*/dmarcsift( |$)' | grep -vqx "$bin "; then
		fail "$(basename "$s") names another dmarcsift: $(grep '^ExecStart=' "$s")"
	fi
done
if command -v systemd-analyze >/dev/null; then
	mkdir "$tmp/units"
	cp "$unitdir"/dmarcsift-poll.* "$unitdir"/dmarcsift-prune.* "$tmp/units/"
	# a template is verified through an instance
	cp "$unitdir/dmarcsift-report@.service" "$tmp/units/dmarcsift-report@acme.service"
	cp "$unitdir/dmarcsift-report@.timer" "$tmp/units/dmarcsift-report@acme.timer"
	MANPATH=$prefix/share/man systemd-analyze verify "$tmp"/units/* >"$tmp/verify" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$tmp/verify")"
fi

echo "== sysusers.d and tmpfiles.d (in a scratch root)"
sysusers=$prefix/lib/sysusers.d/dmarcsift.conf
tmpfiles=$prefix/lib/tmpfiles.d/dmarcsift.conf
[ -f "$sysusers" ] || fail "sysusers file not installed"
[ -f "$tmpfiles" ] || fail "tmpfiles file not installed"
if [ -f "$sysusers" ] && command -v systemd-sysusers >/dev/null; then
	mkdir -p "$tmp/root/etc"
	systemd-sysusers --root="$tmp/root" "$sysusers" >/dev/null 2>&1 || fail "systemd-sysusers $sysusers"
	grep -q '^dmarcsift:x:[0-9]*:[0-9]*:[^:]*:/var/lib/dmarcsift/home:/usr/sbin/nologin$' "$tmp/root/etc/passwd" ||
		fail "no dmarcsift system user from $sysusers: $(cat "$tmp/root/etc/passwd" 2>/dev/null)"
	grep -q '^dmarcsift:' "$tmp/root/etc/group" || fail "no dmarcsift group from $sysusers"
	if [ -f "$tmpfiles" ] && [ "$(id -u)" = 0 ]; then
		systemd-tmpfiles --root="$tmp/root" --create "$tmpfiles" >/dev/null 2>&1 ||
			fail "systemd-tmpfiles --create $tmpfiles"
		uid=$(awk -F: '$1 == "dmarcsift" { print $3 }' "$tmp/root/etc/passwd")
		[ "$(stat -c '%u %a' "$tmp/root/var/lib/dmarcsift/home" 2>/dev/null)" = "$uid 750" ] ||
			fail "tmpfiles: /var/lib/dmarcsift/home not 0750 dmarcsift"
	fi
fi

echo "== the example configuration and the docs"
for f in README.md mailboxes.md dmarcsift.conf.example; do
	[ -f "$doc/$f" ] || fail "$doc/$f not installed"
done
if [ -f "$doc/dmarcsift.conf.example" ]; then
	# As shipped (everything commented out) it is valid.
	"$bin" config check --config "$doc/dmarcsift.conf.example" >"$tmp/cc" 2>&1 ||
		fail "config check of the example: $(cat "$tmp/cc")"
	# With every example setting switched on, the only complaints may be about
	# the example's files and variables not existing on this machine.
	# (a setting is ';[section]' or ';key = value'; other comments stay)
	sed -E 's/^;(\[|[a-z0-9_.-]+ *=)/\1/' "$doc/dmarcsift.conf.example" >"$tmp/all.conf"
	"$bin" config check --config "$tmp/all.conf" >"$tmp/cc" 2>&1 || true
	bad=$(grep -E "^$tmp/all.conf:[0-9]+:" "$tmp/cc" | grep -vE 'cannot be read|is not set' || true)
	[ -z "$bad" ] || fail "the example's settings: $bad"
	grep -q "^$tmp/all.conf: [0-9]* problems\?\|: ok$" "$tmp/cc" ||
		fail "config check of the example's settings said: $(cat "$tmp/cc")"
fi

echo "== bash completion"
bashcomp=$prefix/share/bash-completion/completions/dmarcsift
if [ -f "$bashcomp" ]; then
	out=$(PATH="$prefix/bin:$PATH" bash --norc --noprofile -c '
		set -e
		. "$1"
		complete -p dmarcsift
		COMP_WORDS=(dmarcsift ""); COMP_CWORD=1; _dmarcsift; echo "commands: ${COMPREPLY[*]}"
		COMP_WORDS=(dmarcsift ingest --); COMP_CWORD=2; _dmarcsift; echo "ingest: ${COMPREPLY[*]}"
		COMP_WORDS=(dmarcsift db ""); COMP_CWORD=2; _dmarcsift; echo "db: ${COMPREPLY[*]}"
		COMP_WORDS=(dmarcsift flags --format ""); COMP_CWORD=3; _dmarcsift; echo "format: ${COMPREPLY[*]}"' \
		_ "$bashcomp" 2>&1) ||
		fail "bash completion: $out"
	grep -q '^complete .*-F _dmarcsift dmarcsift$' <<<"$out" || fail "bash: dmarcsift has no completion: $out"
	got=$(grep '^commands: ' <<<"$out" | cut -d' ' -f2-)
	for c in $cmds; do
		grep -qw -- "$c" <<<"$got" || fail "bash completion does not offer '$c' (offers: $got)"
	done
	got=$(grep '^ingest: ' <<<"$out" | cut -d' ' -f2-)
	for o in $(grep -oE -- '--[a-z][a-z0-9-]*' "$tmp/ingest-help" | sort -u); do
		grep -qw -- "$o" <<<"$got" || fail "bash completion does not offer ingest $o (offers: $got)"
	done
	grep -q '^db: .*\bmigrate\b' <<<"$out" || fail "bash completion: db verbs: $out"
	# the values the synopsis gives: flags --format text|csv|json
	want=$("$bin" flags --help | grep -oE -- '--format [a-z]+(\|[a-z]+)+' | head -1 | cut -d' ' -f2 | tr '|' ' ')
	[ -n "$want" ] && grep -qx "format: $want" <<<"$out" || fail "bash completion: flags --format: $out"
else
	fail "bash completion not installed"
fi

echo "== zsh completion"
zshcomp=$prefix/share/zsh/site-functions/_dmarcsift
if [ ! -f "$zshcomp" ]; then
	fail "zsh completion not installed"
elif ! command -v zsh >/dev/null; then
	fail "zsh is not installed (scripts/deps.sh lists it)"
else
	# The completion system's builtins are stood in for, so the function's
	# answers can be read without a terminal.
	out=$(PATH="$prefix/bin:$PATH" zsh -f -c '
		fpath=("$1" $fpath); autoload -Uz _dmarcsift
		_describe() { print -rl -- "${(@P)4}"; }
		compadd() { [[ $1 == -a ]] && print -rl -- "${(@P)2}" || print -rl -- "$@"; }
		_files() { print "<files>"; }
		words=(dmarcsift ""); CURRENT=2; PREFIX=""; _dmarcsift
		words=(dmarcsift ingest --); CURRENT=3; PREFIX=--; _dmarcsift' _ "$(dirname "$zshcomp")" 2>&1) ||
		fail "zsh completion: $out"
	for c in $cmds; do
		grep -q "^$c:" <<<"$out" || fail "zsh completion does not offer '$c': $out"
	done
	grep -qx -- '--no-correlate' <<<"$out" || fail "zsh completion does not offer ingest's options: $out"
fi

if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "install tree ok: $ncmds commands, their man pages, units, sysusers, completion"
