# Sourced by scripts/setup.sh and scripts/test.sh: installs the Debian
# packages dmarcsift needs to build, run and test, when any is missing.
# As root it runs apt-get itself; otherwise it prints the command to run.
# DMARCSIFT_TEST_PACKAGES: what the test command needs besides (the servers,
# clang for fuzzing and tidy, Chromium for the HTML reports, man/groff/zsh/
# systemd for the install tree, debhelper and dpkg-dev to build the .deb).

DMARCSIFT_PACKAGES="build-essential cmake pkg-config libxml2-dev libxml2-utils libarchive-dev
zlib1g-dev libpq-dev libgmime-3.0-dev libcurl4-openssl-dev libpsl-dev libidn2-dev publicsuffix
libjson-c-dev libinih-dev libc-ares-dev libmaxminddb-dev libcmocka-dev libssl-dev postgresql-15 postgresql-client-15 openssl ca-certificates"
DMARCSIFT_TEST_PACKAGES="unbound dovecot-imapd clang libclang-rt-14-dev llvm clang-format clang-tidy procps psmisc time
chromium python3 python3-aiosmtpd
man-db groff-base zsh systemd debhelper dpkg-dev fakeroot"

ensure_packages() {
	local want="$*" missing=""
	for p in $want; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "dmarcsift: missing Debian packages:$missing" >&2
		echo "dmarcsift: install them with: sudo apt-get install -y$missing" >&2
		return 1
	fi
	echo "dmarcsift: installing missing Debian packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
