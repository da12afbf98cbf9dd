#!/bin/sh
# Packaging test: build the .deb, lint it, verify the unit, then install,
# upgrade and purge it in a throwaway root with the package's own
# maintainer scripts.
#
# The root: the .deb is unpacked with dpkg-deb -x, and the maintainer
# scripts run under bubblewrap with that root's /etc, /var/lib and /run
# bound over the host's, so systemd-sysusers and systemd-tmpfiles create the
# accounts and directories there and never touch this machine. What this
# proves: the package's files, modes, conffiles, accounts and state handling;
# not that the appliance starts under systemd (systemd is not PID 1 here).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
for tool in dpkg-deb lintian systemd-analyze bwrap systemd-sysusers systemd-tmpfiles; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (apt: lintian, systemd, bubblewrap)"; exit 0; }
done
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

deb=$("$here/build-deb.sh" "$t/dist" 1.0)
echo "built $deb"

# lintian: no errors (warnings are printed for the record).
lintian --tag-display-limit 0 "$deb" >"$t/lintian" 2>/dev/null || true
cat "$t/lintian"
grep -q '^E:' "$t/lintian" && fail "lintian errors"

# The unit, against the host's systemd (cage and the binaries must resolve).
systemd-analyze verify "$here/passkiosk.service" 2>&1 | grep -v 'ExecStart\|not executable\|No such file' | tee "$t/verify" || true
[ -s "$t/verify" ] && fail "systemd-analyze verify"
systemd-analyze security --offline=yes "$here/passkiosk.service" | tail -1

R=$t/root
install -d "$R/etc" "$R/var/lib" "$R/run"
for f in passwd group shadow gshadow; do cp -p "/etc/$f" "$R/etc/$f"; done
dpkg-deb -x "$deb" "$R"
# run SCRIPT ARGS: a maintainer script from the package with R as the root.
run() {
	s=$1; shift
	dpkg-deb -e "$deb" "$t/ctl"
	bwrap --dev-bind / / --bind "$R/etc" /etc --bind "$R/var/lib" /var/lib \
		--bind "$R/run" /run \
		--ro-bind "$R/usr/lib/sysusers.d" /usr/lib/sysusers.d \
		--ro-bind "$R/usr/lib/tmpfiles.d" /usr/lib/tmpfiles.d \
		"$t/ctl/$s" "$@"
}

# Install.
run postinst configure
for f in usr/bin/passkiosk usr/bin/passkioskctl; do
	[ "$(stat -c %a "$R/$f")" = 755 ] || fail "$f mode"
done
"$R/usr/bin/passkiosk" --version | grep -q 1.0 || fail "passkiosk --version"
for f in etc/passkiosk/passkiosk.toml etc/passkiosk/policy.toml \
	usr/lib/systemd/system/passkiosk.service usr/lib/udev/rules.d/70-passkiosk.rules \
	usr/share/doc/passkiosk/REFERENCE.md; do
	[ "$(stat -c %a "$R/$f")" = 644 ] || fail "$f missing or not 0644"
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/passkiosk/passkiosk.toml || fail "conffile"
grep -q '^passkiosk-session:.*:/usr/sbin/nologin$' "$R/etc/passwd" || fail "passkiosk-session user"
grep -q '^passkiosk-admin:' "$R/etc/group" || fail "passkiosk-admin group"
grep -q '^passkiosk:.*root' "$R/etc/group" || fail "root in group passkiosk"
grep -q '^tss:.*root' "$R/etc/group" || fail "root in group tss"
[ "$(stat -c '%a %U' "$R/var/lib/passkiosk")" = "711 root" ] || fail "/var/lib/passkiosk mode"
[ -d "$R/run/passkiosk" ] || fail "/run/passkiosk"
grep -q 'GROUP="passkiosk"' "$R/usr/lib/udev/rules.d/70-passkiosk.rules" || fail "udev rule"
echo "install: ok"

# Upgrade keeps the database (and fixes its mode).
echo records >"$R/var/lib/passkiosk/passkiosk.db"
chmod 0644 "$R/var/lib/passkiosk/passkiosk.db"
run prerm upgrade 1.1
dpkg-deb -x "$deb" "$R"
run postinst configure 1.0
grep -qx records "$R/var/lib/passkiosk/passkiosk.db" || fail "upgrade lost the database"
[ "$(stat -c %a "$R/var/lib/passkiosk/passkiosk.db")" = 600 ] || fail "database mode after upgrade"
echo "upgrade: ok"

# Remove keeps state; purge removes it without asking (stdin closed).
run prerm remove </dev/null
run postrm remove </dev/null
[ -f "$R/var/lib/passkiosk/passkiosk.db" ] || fail "remove deleted the database"
run postrm purge </dev/null
[ ! -e "$R/var/lib/passkiosk" ] || fail "purge left /var/lib/passkiosk"
echo "purge: ok"
echo PASS
