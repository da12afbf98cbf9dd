#!/usr/bin/env bash
# Starts `passkiosk --demo` in a real window under Xvfb, walks it through
# enrollment and sign-in with the mouse and keyboard (xdotool), writes a
# PNG of each main screen to OUTDIR, and reports start-to-lock-screen time,
# idle CPU and anonymous RSS. Needs xvfb, xdotool, x11-apps (xwd) and
# imagemagick (make deps installs them).
#
#   cmd/passkiosk/screenshots.sh [OUTDIR]     (default: screenshots/)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:-screenshots}")
mkdir -p "$out"
work=$(mktemp -d); chmod 755 "$work"
disp=:$((90 + RANDOM % 100))
cleanup() { [ -n "${app:-}" ] && kill "$app" 2>/dev/null && wait "$app" 2>/dev/null; [ -n "${xvfb:-}" ] && kill "$xvfb" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

go build -tags no_animations -o "$work/passkiosk" ./cmd/passkiosk
go build -o "$work/passkioskctl" ./cmd/passkioskctl
Xvfb "$disp" -screen 0 1920x1080x24 >"$work/xvfb.log" 2>&1 & xvfb=$!
export DISPLAY=$disp LANG=en_US.UTF-8
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

# The window is 1600x960 at the top left; positions below are in it.
shot() { xwd -root -silent | convert xwd:- -crop 1600x960+0+0 "$out/$1.png"; echo "wrote $out/$1.png"; }
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-1}"; }
waitlog() { for _ in $(seq 100); do grep -q "$1" "$work/app.log" && return 0; sleep 0.1; done; echo "never saw: $1" >&2; cat "$work/app.log" >&2; exit 1; }

t0=$(date +%s.%N)
"$work/passkiosk" --demo --state-dir "$work/state" >"$work/app.log" 2>&1 & app=$!
# Shown: the engine has reached the lock screen and the window is mapped.
waitlog "msg=state start=locked"
timeout 20 xdotool search --sync --onlyvisible --name "passkiosk" >/dev/null
t1=$(date +%s.%N)
sleep 2
shot 01-lock
code=$(awk '/Alice/ {print $3}' "$work/app.log")

xdotool type --delay 40 alice; xdotool key Return; sleep 1
shot 02-no-passkey-yet
click 638 711; xdotool type --delay 40 "$code"; xdotool key Return; sleep 1.5
shot 03-enroll-choose
click 417 523
shot 04-enroll-new-pin
xdotool type --delay 60 135790; xdotool key Return; sleep 0.6
xdotool type --delay 60 135790; xdotool key Return; sleep 2.5
shot 05-enroll-done
click 638 655
shot 06-lock-with-tile
xdotool type --delay 40 alice; xdotool key Return; sleep 1
xdotool type --delay 60 000000; xdotool key Return; sleep 1.5
shot 07-wrong-pin
xdotool type --delay 60 135790; xdotool key Return; waitlog "to=in-session"; sleep 1
shot 08-in-session
click 638 637 1
click 1450 186 2.5
shot 09-backup-on-key-done
click 638 637 1
click 638 682 2
shot 10-signed-out
click 1450 254 1
click 1450 186 2.5
shot 11-key-tap-and-go-session

# Touch the key again (the panel's "Touch the key now"): signed out.
# The lock screen then offers the key that is still in.
click 1450 322 2.5
shot 12-key-tapped-signed-out

# The lock screen is shared: a few seconds later nothing says who was here.
sleep 7
shot 13-lock-later

# A session left alone ends by itself: IT applies a short idle time, as
# with passkioskctl on a terminal; alice signs in and walks away.
printf '[default]\nidle_timeout = "16s"\nidle_warning = "8s"\n\n[groups.nurses]\n\n[groups.porters]\n' >"$work/idle.toml"
"$work/passkioskctl" --socket "$work/state/admin.sock" policy apply "$work/idle.toml" --yes >/dev/null
xdotool type --delay 40 alice; xdotool key Return; sleep 1
xdotool type --delay 60 135790; xdotool key Return; sleep 11
shot 14-idle-warning
sleep 8
shot 15-lock-after-idle
sleep 8
shot 16-lock-after-idle-later

# The walk went where the pictures say: the engine's state changes, in
# order, against the flow above. A click that missed its button shows here.
want="locked enrolling locked verifying in-session enrolling in-session ending locked verifying in-session ending locked verifying in-session ending locked"
got=$(sed -n 's/.*msg=state \(from=[^ ]* to\|start\)=\([^ ]*\).*/\2/p' "$work/app.log" | tr '\n' ' ' | sed 's/ $//')
if [ "$got" != "$want" ]; then
	echo "the walk took another path than the screenshots say:" >&2
	echo "  want: $want" >&2
	echo "  got:  $got" >&2
	exit 1
fi
echo "walk: $got"

# Idle cost: CPU time over 10 s on the lock screen, and memory.
ticks() { awk '{print $14 + $15}' "/proc/$app/stat"; }
c0=$(ticks); sleep 10; c1=$(ticks)
hz=$(getconf CLK_TCK)
rss=$(awk '/RssAnon/ {print $2}' "/proc/$app/status")
printf 'start to lock screen: %.2f s\n' "$(echo "$t1 - $t0" | bc)"
printf 'idle CPU: %.1f%% of one core\n' "$(echo "($c1 - $c0) * 100 / $hz / 10" | bc -l)"
echo "anonymous RSS: $((rss / 1024)) MiB"
