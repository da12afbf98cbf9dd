#!/usr/bin/env bash
# Runs the demo fleet as make demo-fleet does (passkiosk-demo-cluster
# with passkiosk --demo-fleet) under Xvfb, puts the two windows side by
# side, walks Alice through it with the mouse and keyboard (xdotool):
# enroll the virtual key at Ward 3A with her code, plug it into Ward 3B
# and sign in there, revoke it at IT's console, and 3B refuses it. It
# writes a PNG of the screen at each step to OUTDIR and reports the
# start time, the revocation's delay and memory. Needs xvfb, xdotool,
# x11-apps (xwd), imagemagick and swtpm (make deps installs them).
#
#   cmd/passkiosk/demo-fleet-screenshots.sh [OUTDIR]   (default: screenshots/fleet)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:-screenshots/fleet}")
mkdir -p "$out"
work=$(mktemp -d); chmod 711 "$work"
disp=:$((90 + RANDOM % 100))
cleanup() {
	[ -n "${keep:-}" ] && kill "$keep" 2>/dev/null
	if [ -n "${cluster:-}" ] && kill "$cluster" 2>/dev/null; then
		for _ in $(seq 120); do kill -0 "$cluster" 2>/dev/null || break; sleep 0.25; done
	fi
	[ -n "${xvfb:-}" ] && kill "$xvfb" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

go build -tags no_animations -o "$work/passkiosk" ./cmd/passkiosk
go build -o "$work/passkioskctl" ./cmd/passkioskctl
go build -o "$work/passkiosk-demo-cluster" ./cmd/passkiosk-demo-cluster
Xvfb "$disp" -screen 0 1920x1080x24 -nolisten tcp >"$work/xvfb.log" 2>&1 & xvfb=$!
export DISPLAY=$disp LANG=en_US.UTF-8
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

# IT's console is a pipe the walk writes to; keep it open all along.
mkfifo -m 600 "$work/console"
sleep 3600 >"$work/console" & keep=$!
log=$work/demo.log
waitlog() { for _ in $(seq 150); do grep -q "$1" "$log" && return 0; sleep 0.1; done; echo "never saw: $1" >&2; grep -v '^{' "$log" >&2; exit 1; }

t0=$(date +%s.%N)
"$work/passkiosk-demo-cluster" --ctl "$work/passkioskctl" --run "$work/passkiosk" <"$work/console" >"$log" 2>&1 & cluster=$!
waitlog "terminal=ward-3b start=locked"
a=$(timeout 30 xdotool search --sync --onlyvisible --name "Ward 3A" | head -n 1)
b=$(timeout 30 xdotool search --sync --onlyvisible --name "Ward 3B" | head -n 1)
t1=$(date +%s.%N)
# Without a window manager both windows open at the top left.
xdotool windowmove "$a" 0 0; xdotool windowmove "$b" 960 0
sleep 2

shot() { xwd -root -silent | convert xwd:- "$out/$1.png"; echo "wrote $out/$1.png"; }
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-1}"; }
code=$(awk '/Alice Moreau/ {print $3; exit}' "$log")
shot 01-two-terminals

# Ward 3A (left): Alice's code, then a security key.
click 353 620
xdotool windowfocus --sync "$a"; click 302 512 0.5
xdotool type --delay 40 "$code"
shot 02-code-at-3a
xdotool key Return; sleep 2
shot 03-where-at-3a
click 487 508 1.5
click 805 111 3
shot 04-enrolled-at-3a
click 357 587 1

# The key moves to Ward 3B (right), which signs her in from its mirror.
click 1779 111 3
waitlog "terminal=ward-3b from=verifying to=in-session"
sleep 1
shot 05-signed-in-at-3b

# IT revokes her key at the console; 3B ends the session at once.
r0=$(date +%s.%N)
echo "revoke alice" >"$work/console"
waitlog "terminal=ward-3b from=in-session to=ending"
r1=$(date +%s.%N)
sleep 1.5
shot 06-revoked-at-3b

# The key is still in at 3B: it is refused.
click 1318 562 3
shot 07-refused-at-3b

# The network goes: the lock screens say since when they are offline.
echo "offline" >"$work/console"
waitlog "all three members stopped"
sleep 5
shot 08-offline
echo "online" >"$work/console"
waitlog "the members are back"

pid=$(pgrep -P "$cluster" -f -- '--demo-fleet' | head -n 1)
rss=$(awk '/^RssAnon/ {print int($2/1024)}' "/proc/$pid/status")
crss=$(awk '/^RssAnon/ {print int($2/1024)}' "/proc/$cluster/status")
echo "demo fleet: start to both windows $(echo "$t1 - $t0" | bc) s; revoke typed to 3B's session ending $(echo "($r1 - $r0) * 1000" | bc | cut -d. -f1) ms (polled every 0.1 s); passkiosk (two terminals, two windows) ${rss} MiB anonymous RSS; the cluster program (three members, service) ${crss} MiB"

# Ctrl-C stops it all: the cluster program stops the appliance, its
# swtpms, the members and the service, and removes its folder.
dir=$(awk '/^ready:/ {print $2}' "$log")
kill -INT "$cluster"
for _ in $(seq 160); do kill -0 "$cluster" 2>/dev/null || break; sleep 0.25; done
if kill -0 "$cluster" 2>/dev/null || kill -0 "$pid" 2>/dev/null || [ -e "$dir" ]; then
	echo "the demo fleet did not stop cleanly" >&2; exit 1
fi
cluster=
echo "stopped cleanly: no process left, $dir removed"
