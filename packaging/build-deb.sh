#!/bin/sh
# Build passkiosk_VERSION_ARCH.deb from this tree with dpkg-deb.
#   packaging/build-deb.sh [OUTDIR] [VERSION]
# Run from anywhere; the Go module root is this script's parent directory.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/dist}
version=${2:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null | sed 's/^v//' || echo 0)}
# Debian versions must start with a digit.
case "$version" in [0-9]*) ;; *) version="0~git$version" ;; esac
arch=$(dpkg --print-architecture)

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/stage

install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/etc/passkiosk" "$stage/etc/pam.d" \
	"$stage/usr/lib/passkiosk" "$stage/usr/lib/systemd/system" "$stage/usr/lib/sysusers.d" \
	"$stage/usr/lib/tmpfiles.d" "$stage/usr/lib/udev/rules.d" \
	"$stage/usr/share/doc/passkiosk" "$stage/usr/share/man/man8"

# -trimpath keeps paths out of the binaries; PIE (external link, so also
# RELRO) is what Debian's hardening expects of executables.
ldflags="-s -w -X main.version=$version"
build() { # build TAGS OUTPUT PACKAGE
	(cd "$root" && CGO_ENABLED=1 go build ${1:+-tags "$1"} -buildmode=pie -trimpath -buildvcs=false \
		-ldflags "$ldflags" -o "$stage/usr/bin/$2" "./cmd/$3")
}
# The window: Fyne's native Wayland driver (the wayland tag), so that X11
# session programs can neither see nor feed it; nodemo (the demo's half
# of the appliance, with the TPM simulator, libfido2 and the database, stays
# out of the unprivileged window); and no_animations (a blinking cursor
# keeps the renderer busy on an idle lock screen). The Makefile's
# WINDOW_TAGS are the same.
build no_animations,wayland,nodemo passkiosk passkiosk
build "" passkioskd passkioskd
build "" passkioskctl passkioskctl
build "" passkiosk-fleetd passkiosk-fleetd

# The conffiles: every key at its built-in default (commented out), so a
# fresh terminal is named after its host and uses the built-in policy until
# the administrator sets it (kiosk/config/testdata holds the tests' examples).
# 0640: readable by root and, once postinst has given them to the group,
# passkiosk-admin; never by the session account or other users.
install -m 0640 "$here/passkiosk.toml" "$stage/etc/passkiosk/passkiosk.toml"
install -m 0640 "$here/policy.toml" "$stage/etc/passkiosk/policy.toml"
install -m 0644 "$here/passkioskd.service" "$stage/usr/lib/systemd/system/passkioskd.service"
install -m 0644 "$here/passkiosk-ui.service" "$stage/usr/lib/systemd/system/passkiosk-ui.service"
install -m 0644 "$here/passkiosk-fleetd.service" "$stage/usr/lib/systemd/system/passkiosk-fleetd.service"
install -d "$stage/etc/default"
install -m 0644 "$here/passkiosk-fleetd.default" "$stage/etc/default/passkiosk-fleetd"
install -m 0755 "$here/stop-window" "$stage/usr/lib/passkiosk/stop-window"
install -m 0644 "$here/passkiosk-ui.pam" "$stage/etc/pam.d/passkiosk-ui"
install -m 0644 "$here/passkiosk.sysusers" "$stage/usr/lib/sysusers.d/passkiosk.conf"
install -m 0644 "$here/passkiosk.tmpfiles" "$stage/usr/lib/tmpfiles.d/passkiosk.conf"
install -m 0644 "$here/70-passkiosk.rules" "$stage/usr/lib/udev/rules.d/70-passkiosk.rules"
install -m 0644 "$root/kiosk/config/REFERENCE.md" "$stage/usr/share/doc/passkiosk/REFERENCE.md"
install -m 0644 "$here/README.md" "$stage/usr/share/doc/passkiosk/README.md"
install -m 0644 "$here/copyright" "$stage/usr/share/doc/passkiosk/copyright"
for m in passkiosk.8 passkioskd.8 passkioskctl.8 passkiosk-fleetd.8; do
	gzip -9n <"$here/man/$m" >"$stage/usr/share/man/man8/$m.gz"
	chmod 0644 "$stage/usr/share/man/man8/$m.gz"
done
printf 'passkiosk (%s) unstable; urgency=medium\n\n  * Package build of %s.\n\n -- passkiosk maintainers <maintainers@passkiosk.example.org>  %s\n' \
	"$version" "$version" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}")" |
	gzip -9n >"$stage/usr/share/doc/passkiosk/changelog.gz"

for s in preinst postinst prerm postrm; do
	install -m 0755 "$here/debian/$s" "$stage/DEBIAN/$s"
done
printf '/etc/default/passkiosk-fleetd\n/etc/pam.d/passkiosk-ui\n/etc/passkiosk/passkiosk.toml\n/etc/passkiosk/policy.toml\n' >"$stage/DEBIAN/conffiles"

# Library dependencies from the binaries' ELF NEEDED entries, via
# dpkg-shlibdeps (which wants a debian/control to exist).
mkdir -p "$work/src/debian"
printf 'Source: passkiosk\n\nPackage: passkiosk\nArchitecture: any\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O "$stage"/usr/bin/* 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
# systemd (>= 244): the units, udev's ID_FIDO_TOKEN, and the systemd-sysusers
# and systemd-tmpfiles that postinst runs (Debian 12's systemd ships both).
# libpam-systemd: the window's PAM session registers with logind
# (pam_systemd), which gives it a seat and XDG_RUNTIME_DIR for cage.
# bubblewrap: the shipped session.sandbox = "auto" takes it when present;
# without it sessions fall back to a systemd scope or a bare process group,
# far weaker isolation than the appliance promises, so it is not optional.
# The window is a native Wayland client: GLFW loads libwayland-egl,
# libwayland-cursor and libxkbcommon, and EGL with Mesa's drivers (llvmpipe
# where there is no GPU), with dlopen, so dpkg-shlibdeps cannot see them.
# xwayland: X11 session programs reach the display through it (cage
# starts it when it is installed; DISPLAY is passed into the session);
# without xkb-data and xkbcomp (x11-xkb-utils), which xwayland only
# recommends, it dies at start ("Failed to activate virtual core
# keyboard").
depends="$shlibs, cage, xwayland, x11-xkb-utils, xkb-data, libwayland-egl1, libwayland-cursor0, libxkbcommon0, libegl1, libegl-mesa0, libgl1-mesa-dri"
depends="$depends, systemd (>= 244), libpam-systemd, udev, bubblewrap"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	-e "s/@DEPENDS@/$depends/" "$here/debian/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find usr etc -type f -exec md5sum {} + | sort -k2) >"$stage/DEBIAN/md5sums"

chmod -R go-w "$stage"
deb=$out/passkiosk_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
