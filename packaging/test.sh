#!/bin/sh
# shellcheck disable=SC2015 # "test || fail": fail exits, so these are if-then.
# Packaging test: build the .deb, lint it, verify the unit, then install,
# upgrade, remove and purge it with dpkg itself in a throwaway root.
#
# The root: `dpkg --root=R --force-script-chrootless` unpacks into R, keeps
# its database in R/var/lib/dpkg and runs the package's maintainer scripts
# on this machine with DPKG_ROOT=R; the scripts honour DPKG_ROOT, so
# systemd-sysusers, systemd-tmpfiles and deb-systemd-helper work on R. dpkg
# runs under bubblewrap with the host's file system read-only and only the
# test's folder writable, so a script that ignored DPKG_ROOT would fail
# instead of changing this machine. R starts with Debian's base accounts
# and an empty dpkg database, so the package's dependencies are not
# installed there (--force-depends). The daemon itself is started from R
# twice, in a sandbox that shows it R's /etc/passkiosk, accounts, /var and
# /run: with the shipped configuration it must start, create its database
# and answer passkioskctl.
#
# What this proves: the package's files, owners and modes, conffiles,
# accounts, state handling across upgrade/remove/purge, the unit's enable
# state, and that the shipped configuration loads; not that the appliance
# starts under systemd and cage on tty1 (systemd is not PID 1 here).
#
# A missing tool skips the test, except under CI (CI set and not "false"
# or "0"), where it fails.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
skip() {
	case ${CI:-} in
	'' | false | 0) echo "SKIP: $*"; exit 0 ;;
	*) fail "$* (CI=$CI: the packaging test may not be skipped)" ;;
	esac
}
for tool in dpkg dpkg-deb lintian systemd-analyze systemctl bwrap systemd-sysusers \
	systemd-tmpfiles deb-systemd-helper cage; do
	command -v "$tool" >/dev/null ||
		skip "$tool not installed (apt: dpkg-dev lintian systemd bubblewrap cage)"
done
[ "$(id -u)" = 0 ] || skip "not root: dpkg cannot install files owned by root into the throwaway root"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

deb=$("$here/build-deb.sh" "$t/dist" 1.0)
deb2=$("$here/build-deb.sh" "$t/dist" 1.1)
echo "built $deb and $deb2"

# lintian: no errors (warnings are printed for the record).
# lintian exits non-zero on errors and when it cannot run at all.
rc=0
LC_ALL=C.UTF-8 lintian --tag-display-limit 0 "$deb" >"$t/lintian" 2>&1 || rc=$?
grep -v '^running with root privileges is not recommended!$' "$t/lintian" || true
[ "$rc" = 0 ] && ! grep -q '^E:' "$t/lintian" || fail "lintian errors (exit $rc)"
# Each program has its manual page, and the pages are well formed.
! grep -Eq 'no-manual-page|groff-message|manpage-has' "$t/lintian" || fail "lintian: manual page warnings"

# The units, against this machine's systemd. verify exits 0 on unknown keys
# and bad values but prints them, so any output fails, except that the
# package's own programs (passkioskd, stop-window) are not installed here:
# they are checked in the installed root below. cage, the window's
# ExecStart, is a dependency and must be installed here (checked above).
rc=0
systemd-analyze verify --man=no "$here/passkioskd.service" "$here/passkiosk-ui.service" "$here/passkiosk-fleetd.service" >"$t/verify" 2>&1 || rc=$?
grep -v -e '^passkioskd.service: Command /usr/bin/passkioskd is not executable: No such file or directory$' \
	-e '^passkiosk-fleetd.service: Command /usr/bin/passkiosk-fleetd is not executable: No such file or directory$' \
	-e '^passkiosk-ui.service: Command /usr/lib/passkiosk/stop-window is not executable: No such file or directory$' \
	"$t/verify" >"$t/verify.rest" || true
cat "$t/verify.rest"
[ ! -s "$t/verify.rest" ] || fail "systemd-analyze verify"
for u in passkioskd passkiosk-ui passkiosk-fleetd; do
	printf '%s: ' "$u.service"
	systemd-analyze security --offline=yes "$here/$u.service" | tail -1
done

# The control file: Depends names what the scripts and the default
# configuration use.
deps=$(dpkg-deb -f "$deb" Depends)
for p in cage 'systemd (>= 244)' udev bubblewrap libwayland-egl1 libwayland-cursor0 libxkbcommon0 libpam-systemd; do
	echo "$deps" | tr ',' '\n' | sed 's/^ *//' | grep -qxF "$p" || fail "Depends lacks $p: $deps"
done
! echo "$deps" | grep -q 'adduser' || fail "Depends names adduser, which nothing uses: $deps"

R=$t/root
install -d "$R/etc" "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/log" "$R/run" "$R/tmp"
# A stand-in for base-files owns the top directories, as on a real system
# (else purge would try to remove /etc).
printf '%s\n' 'Package: base-files' 'Status: install ok installed' 'Priority: required' \
	'Section: admin' 'Maintainer: test' 'Architecture: all' 'Version: 0' \
	'Description: stand-in for the test root' '' >"$R/var/lib/dpkg/status"
printf '%s\n' /. /etc /run /usr /usr/bin /usr/lib /usr/share /usr/share/doc /var /var/lib \
	>"$R/var/lib/dpkg/info/base-files.list"
: >"$R/var/lib/dpkg/available"
cp /usr/share/base-passwd/passwd.master "$R/etc/passwd"
cp /usr/share/base-passwd/group.master "$R/etc/group"
awk -F: '{print $1 ":*:19000:0:99999:7:::"}' "$R/etc/passwd" >"$R/etc/shadow"
awk -F: '{print $1 ":*::"}' "$R/etc/group" >"$R/etc/gshadow"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"

# rdpkg ARGS: dpkg on R with the host read-only; output kept in $t/dpkg.out.
rdpkg() {
	bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --bind "$t" "$t" \
		dpkg --root="$R" --log="$t/dpkg.log" --force-script-chrootless --force-depends "$@" \
		</dev/null >"$t/dpkg.out" 2>&1 || { cat "$t/dpkg.out"; fail "dpkg $*"; }
	# Only the dependencies absent from R may be reported.
	if grep -v -e '^ *Package .* is not installed\.$' -e '^ passkiosk depends on ' \
		-e 'dependency problems, but configuring anyway' "$t/dpkg.out" | grep -qi 'warning\|error'; then
		cat "$t/dpkg.out"
		fail "dpkg $* warned"
	fi
}
# appliance: start R's daemon with R's configuration, state and accounts,
# wait for its admin socket, run passkioskctl ARGS into $t/ctl.out, stop it.
appliance() {
	cat >"$t/appliance.sh" <<-'EOF'
		/pk/passkioskd --config /etc/passkiosk/passkiosk.toml >"$T/appliance.log" 2>&1 &
		pid=$!
		i=0
		while [ ! -S /run/passkiosk/admin.sock ] && [ $i -lt 150 ] && kill -0 $pid 2>/dev/null; do
			sleep 0.2
			i=$((i + 1))
		done
		rc=0
		/pk/passkioskctl "$@" >"$T/ctl.out" 2>&1 || rc=$?
		kill -TERM $pid
		wait $pid || rc=$((rc ? rc : 1))
		exit $rc
	EOF
	set -- --ro-bind "$R/etc/passwd" /etc/passwd --ro-bind "$R/etc/group" /etc/group \
		--ro-bind "$R/etc/passkiosk" /etc/passkiosk --ro-bind "$R/usr/bin" /pk \
		--bind "$R/var" /var --bind "$R/run" /run --bind "$t" "$t" \
		--setenv T "$t" --setenv LANG C.UTF-8 sh "$t/appliance.sh" "$@"
	for e in /etc/* /etc/.[!.]*; do
		case ${e#/etc/} in passwd | group | shadow | gshadow | passkiosk | '.[!.]*') continue ;; esac
		set -- --ro-bind-try "$e" "$e" "$@"
	done
	for d in bin sbin lib lib32 lib64 libx32; do
		if [ -L "/$d" ]; then
			set -- --symlink "$(readlink "/$d")" "/$d" "$@"
		elif [ -d "/$d" ]; then
			set -- --ro-bind "/$d" "/$d" "$@"
		fi
	done
	bwrap --tmpfs / --ro-bind /usr /usr --dev /dev --proc /proc \
		--tmpfs /tmp --dir /etc "$@" || {
		rc=$?
		cat "$t/appliance.log" "$t/ctl.out"
		fail "the daemon from the package did not start and answer (exit $rc)"
	}
}
# mode PATH: "mode owner:group" of R/PATH.
mode() { stat -c '%a %U:%G' "$R/$1"; }

# Install.
rdpkg -i "$deb"
dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status} ${Version}\n' passkiosk | grep -qx 'install ok installed 1.0' ||
	fail "not installed"
for f in usr/bin/passkiosk usr/bin/passkioskd usr/bin/passkioskctl usr/bin/passkiosk-fleetd usr/lib/passkiosk/stop-window; do
	[ "$(mode "$f")" = "755 root:root" ] || fail "$f: $(mode "$f")"
done
# Numeric: the group exists in the root installed into, not necessarily here.
admin_gid=$(awk -F: '$1 == "passkiosk-admin" { print $3 }' "$R/etc/group")
for f in etc/passkiosk/passkiosk.toml etc/passkiosk/policy.toml; do
	[ -n "$admin_gid" ] && [ "$(stat -c '%a %u:%g' "$R/$f")" = "640 0:$admin_gid" ] ||
		fail "$f: $(stat -c '%a %u:%g' "$R/$f"), want 640 0:${admin_gid:-?} (root:passkiosk-admin)"
done
for f in usr/lib/systemd/system/passkioskd.service usr/lib/systemd/system/passkiosk-ui.service \
	usr/lib/systemd/system/passkiosk-fleetd.service etc/default/passkiosk-fleetd \
	etc/pam.d/passkiosk-ui usr/lib/sysusers.d/passkiosk.conf \
	usr/lib/tmpfiles.d/passkiosk.conf usr/lib/udev/rules.d/70-passkiosk.rules \
	usr/share/doc/passkiosk/REFERENCE.md usr/share/doc/passkiosk/README.md; do
	[ "$(mode "$f")" = "644 root:root" ] || fail "$f: $(mode "$f")"
done
[ "$(mode etc/passkiosk)" = "755 root:root" ] || fail "/etc/passkiosk: $(mode etc/passkiosk)"
for u in passkioskd.service passkiosk-ui.service passkiosk-fleetd.service; do
	cmp -s "$here/$u" "$R/usr/lib/systemd/system/$u" || fail "installed $u differs"
done
dpkg-deb -I "$deb" conffiles | sort >"$t/conffiles"
printf '/etc/default/passkiosk-fleetd\n/etc/pam.d/passkiosk-ui\n/etc/passkiosk/passkiosk.toml\n/etc/passkiosk/policy.toml\n' | cmp -s - "$t/conffiles" ||
	fail "conffiles: $(cat "$t/conffiles")"
# The shipped configuration names no site: no terminal, no relying party.
! grep -q '^terminal' "$R/etc/passkiosk/passkiosk.toml" || fail "passkiosk.toml sets a terminal name"
! grep -q '^[a-z_]* *=' "$R/etc/passkiosk/policy.toml" || fail "policy.toml sets a key"
grep -q '^passkiosk-session:[^:]*:[0-9]*:[0-9]*:[^:]*:/nonexistent:/usr/sbin/nologin$' "$R/etc/passwd" ||
	fail "passkiosk-session user"
grep -q '^passkiosk-session:!' "$R/etc/shadow" || fail "passkiosk-session must have a locked password"
grep -q '^passkiosk-ui:[^:]*:[0-9]*:[0-9]*:[^:]*:/nonexistent:/usr/sbin/nologin$' "$R/etc/passwd" ||
	fail "passkiosk-ui user"
grep -q '^passkiosk-ui:!' "$R/etc/shadow" || fail "passkiosk-ui must have a locked password"
grep -q '^passkiosk-admin:' "$R/etc/group" || fail "passkiosk-admin group"
grep -q '^passkiosk:.*root' "$R/etc/group" || fail "root in group passkiosk"
grep -q '^tss:.*root' "$R/etc/group" || fail "root in group tss"
[ "$(mode var/lib/passkiosk)" = "711 root:root" ] || fail "/var/lib/passkiosk: $(mode var/lib/passkiosk)"
[ "$(mode run/passkiosk)" = "755 root:root" ] || fail "/run/passkiosk: $(mode run/passkiosk)"
# Numeric: R's passkiosk-ui, which this machine may not have.
ui_ids=$(awk -F: '$1 == "passkiosk-ui" { print $3 ":" $4 }' "$R/etc/passwd")
[ -n "$ui_ids" ] && [ "$(stat -c '%a %u:%g' "$R/run/passkiosk-ui")" = "711 $ui_ids" ] ||
	fail "/run/passkiosk-ui: $(stat -c '%a %u:%g' "$R/run/passkiosk-ui"), want 711 ${ui_ids:-?} (passkiosk-ui)"
grep -q 'GROUP="passkiosk"' "$R/usr/lib/udev/rules.d/70-passkiosk.rules" || fail "udev rule"
# Enabled (not started) on first install.
wants=etc/systemd/system/multi-user.target.wants/passkioskd.service
wants_ui=etc/systemd/system/graphical.target.wants/passkiosk-ui.service
[ -L "$R/$wants" ] && [ -L "$R/$wants_ui" ] || fail "not enabled on first install"
# The fleet service is for the fleet's servers: shipped, never enabled.
wants_fleetd=etc/systemd/system/multi-user.target.wants/passkiosk-fleetd.service
[ ! -e "$R/$wants_fleetd" ] && [ ! -L "$R/$wants_fleetd" ] || fail "passkiosk-fleetd.service enabled by the package"
grep -q '^passkiosk-fleetd:[^:]*:[0-9]*:[0-9]*:[^:]*:/nonexistent:/usr/sbin/nologin$' "$R/etc/passwd" ||
	fail "passkiosk-fleetd user"
grep -qx 'FLEETD_ARGS=""' "$R/etc/default/passkiosk-fleetd" || fail "/etc/default/passkiosk-fleetd sets flags"
"$R/usr/bin/passkiosk-fleetd" --help 2>&1 | grep -q -- '-embed' || fail "passkiosk-fleetd --help lacks -embed"
"$R/usr/bin/passkioskd" --version 2>/dev/null | grep -q '1\.0' || fail "passkioskd --version"
"$R/usr/bin/passkiosk" --version 2>/dev/null | grep -q '1\.0' || fail "passkiosk --version"
# The appliance starts on the shipped configuration: terminal named after
# the host, the built-in policy, a database of its own.
appliance --json status
grep -q "\"terminal\": \"$(uname -n)\"" "$t/ctl.out" || fail "terminal is not the host name: $(cat "$t/ctl.out")"
grep -q '"version": "1.0"' "$t/ctl.out" || fail "status: $(cat "$t/ctl.out")"
appliance policy show
grep -qx 'rp_id = "passkiosk.local"' "$t/ctl.out" || fail "policy in force: $(cat "$t/ctl.out")"
[ "$(mode var/lib/passkiosk/passkiosk.db)" = "600 root:root" ] ||
	fail "database: $(mode var/lib/passkiosk/passkiosk.db)"
echo "install: ok"

# Upgrade to 1.1: the database survives untouched (its mode is fixed), an
# edited conffile is kept, and a unit the admin disabled stays disabled.
chmod 0644 "$R/var/lib/passkiosk/passkiosk.db"
sum=$(sha256sum <"$R/var/lib/passkiosk/passkiosk.db")
echo 'terminal = "bay 2"' >>"$R/etc/passkiosk/passkiosk.toml"
systemctl --root="$R" --quiet disable passkioskd.service passkiosk-ui.service
[ ! -e "$R/$wants" ] && [ ! -e "$R/$wants_ui" ] || fail "systemctl disable"
rdpkg -i "$deb2"
dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status} ${Version}\n' passkiosk | grep -qx 'install ok installed 1.1' ||
	fail "not upgraded"
[ "$(sha256sum <"$R/var/lib/passkiosk/passkiosk.db")" = "$sum" ] || fail "upgrade changed the database"
[ "$(mode var/lib/passkiosk/passkiosk.db)" = "600 root:root" ] || fail "database mode after upgrade"
grep -qx 'terminal = "bay 2"' "$R/etc/passkiosk/passkiosk.toml" || fail "upgrade replaced an edited conffile"
[ ! -e "$R/$wants" ] && [ ! -e "$R/$wants_ui" ] || fail "upgrade re-enabled a disabled unit"
appliance audit verify
grep -q '^audit chain intact: ' "$t/ctl.out" || fail "audit after upgrade: $(cat "$t/ctl.out")"
appliance --json status
grep -q '"version": "1.1"' "$t/ctl.out" && grep -q '"terminal": "bay 2"' "$t/ctl.out" &&
	grep -q '"audit_head": [1-9]' "$t/ctl.out" || fail "status after upgrade: $(cat "$t/ctl.out")"
# Enabled again by the admin, it stays enabled over a reinstall.
systemctl --root="$R" --quiet enable passkioskd.service passkiosk-ui.service
rdpkg -i "$deb2"
[ -L "$R/$wants" ] && [ -L "$R/$wants_ui" ] || fail "reinstall disabled an enabled unit"
[ ! -e "$R/$wants_fleetd" ] || fail "an upgrade enabled passkiosk-fleetd.service"
echo "upgrade: ok"

# Remove keeps the database and the conffiles; purge removes them, the
# state and the unit's links, without asking (dpkg's stdin is /dev/null).
rdpkg -r passkiosk
[ -f "$R/var/lib/passkiosk/passkiosk.db" ] || fail "remove deleted the database"
[ -f "$R/etc/passkiosk/passkiosk.toml" ] || fail "remove deleted a conffile"
[ ! -e "$R/usr/bin/passkiosk" ] || fail "remove left /usr/bin/passkiosk"
rdpkg --purge passkiosk
for p in var/lib/passkiosk run/passkiosk etc/passkiosk "$wants" "$wants_ui" etc/pam.d/passkiosk-ui \
	etc/systemd/system/passkioskd.service etc/systemd/system/passkiosk-ui.service etc/default/passkiosk-fleetd \
	var/lib/systemd/deb-systemd-helper-enabled/passkioskd.service.dsh-also \
	var/lib/systemd/deb-systemd-helper-enabled/passkiosk-ui.service.dsh-also; do
	[ ! -e "$R/$p" ] && [ ! -L "$R/$p" ] || fail "purge left /$p"
done
st=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' passkiosk 2>/dev/null || true)
case $st in '' | *not-installed) ;; *) fail "status after purge: $st" ;; esac
echo "purge: ok"
echo PASS
