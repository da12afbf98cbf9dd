# passkiosk — build, test and run on Debian 12.
#
#   make demo    install what is needed, then run the appliance on its
#                embedded defaults (daemon and window in one process)
#   make demo-fleet  two terminals in a fleet on this machine: an embedded
#                three-member etcd cluster and the fleet service, and two
#                windows sharing one virtual security key
#   make build   the programs as the package ships them, in bin/:
#                passkioskd (the root daemon, no Fyne, no GL), passkiosk
#                (the window, a native Wayland client), passkioskctl and
#                passkiosk-fleetd (the fleet service, for the fleet's servers)
#   make test    install what is needed, then run every test
#   make check   go vet, gofmt and the tests
#   make bench   every benchmark
#   make fuzz    every fuzz target for FUZZTIME (default 30s) each
#   make soak    the appliance for SOAK_CYCLES sign-ins (default 1000) in a
#                real window, measuring what grows
#   make test-fleet  FLEET_AGENTS terminals' agents (default 500) against an
#                embedded three-member etcd cluster, and the fleet benchmarks
#   make test-fleet-audit
#                the fleet's audit shipping simulation at full size (500
#                terminals, 100,000 entries, a member killed, a tenth of the
#                terminals cut off), with its throughput and delay

SHELL    := /bin/bash
GO       ?= go
FUZZTIME ?= 30s
SOAK_CYCLES ?= 1000
FLEET_AGENTS ?= 500
TESTFLAGS ?=
SUDO     := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Debian packages the build, the tests and the demo need.
APT_PACKAGES := \
	gcc pkg-config \
	libfido2-dev fido2-tools libssl-dev \
	libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev \
	libwayland-dev libxkbcommon-dev \
	swtpm swtpm-tools \
	umockdev libumockdev-dev \
	xvfb x11-apps x11-utils xdotool imagemagick bc \
	bubblewrap python3 \
	lintian cage xwayland grim dpkg-dev systemd rsyslog \
	wayland-protocols libegl-dev \
	debootstrap systemd-container

# The window built with Fyne's wayland tag links libwayland-client and
# loads these at run time with dlopen, which dpkg-shlibdeps does not see:
# the package's Depends must name them.
UI_RUNTIME_LIBS := libwayland-egl1 libwayland-cursor0 libxkbcommon0

# The appliance is built without Fyne's animations: a blinking text cursor
# alone keeps the renderer busy (idle CPU on the lock screen under Xvfb:
# 17.7% of a core with them, 4.4% without), and a kiosk needs none.
GOTAGS := no_animations
# The installed window is a native Wayland client (cage): X11 clients of
# the session can neither see nor feed it. nodemo leaves the demo's half
# of the appliance out of it (no TPM simulator, libfido2 or database in
# the unprivileged process). The demo keeps the X11 build, which runs on
# any desktop.
WINDOW_TAGS := $(GOTAGS),wayland,nodemo
BINDIR ?= bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

# Fyne reads the locale at start and complains about "C".
export LANG := en_US.UTF-8
export CGO_ENABLED := 1

.PHONY: deps demo demo-fleet test check vet fmt bench fuzz race build clean deb test-packaging test-appliance screenshots soak test-fleet test-fleet-audit

# deps installs only what is missing, so it is quick when nothing is.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(GO) mod download

build: deps
	$(GO) build -tags $(GOTAGS) ./...
	$(GO) build -tags $(GOTAGS) -ldflags "-X main.version=$(VERSION)" -o $(BINDIR)/passkioskd ./cmd/passkioskd
	$(GO) build -tags $(WINDOW_TAGS) -ldflags "-X main.version=$(VERSION)" -o $(BINDIR)/passkiosk ./cmd/passkiosk
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BINDIR)/passkioskctl ./cmd/passkioskctl
	$(GO) build -o $(BINDIR)/passkiosk-fleetd ./cmd/passkiosk-fleetd

demo: deps
	@echo "building and starting the demo; a first build of the dependencies takes about 3 minutes on two cores..."
	$(GO) run -tags $(GOTAGS) ./cmd/passkiosk --demo

# demo-fleet builds the window (with the demo), passkioskctl and the demo
# cluster (cmd/passkiosk-demo-cluster), then runs the cluster, which joins
# two terminals with passkioskctl fleet join and starts the window on
# them; its terminal is IT's console. Ctrl-C or closing a window stops it
# all.
DEMO_FLEET_BIN := $(BINDIR)/demo-fleet
demo-fleet: deps
	@echo "building the demo fleet; a first build takes about 5 minutes on two cores (the etcd server is most of it)..."
	$(GO) build -tags $(GOTAGS) -o $(DEMO_FLEET_BIN)/passkiosk ./cmd/passkiosk
	$(GO) build -o $(DEMO_FLEET_BIN)/passkioskctl ./cmd/passkioskctl
	$(GO) build -o $(DEMO_FLEET_BIN)/passkiosk-demo-cluster ./cmd/passkiosk-demo-cluster
	$(DEMO_FLEET_BIN)/passkiosk-demo-cluster --ctl $(DEMO_FLEET_BIN)/passkioskctl --run $(DEMO_FLEET_BIN)/passkiosk

test: deps
	$(GO) test -count=1 -timeout 25m $(TESTFLAGS) ./...

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

check: deps vet fmt test

race: deps
	$(GO) test -count=1 -race -timeout 25m ./fido/... ./store/... ./tpm/... ./kiosk/...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

# fuzz runs every Fuzz target in every package for FUZZTIME.
fuzz: deps
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

# soak runs the appliance (demo configuration: TPM simulator, bbolt on
# disk, real sessions as the session user; root needed) in a real window
# under Xvfb for SOAK_CYCLES sign-ins, each with a wrong PIN, a session,
# sign-out and the wipe, and the other screens every few. It prints live
# heap, anonymous RSS, goroutines, open files and database size at the
# start and every 100 cycles, and ends with one line of figures.
soak: deps
	@set -o pipefail; log=$$(mktemp); \
	PASSKIOSK_SOAK_CYCLES=$(SOAK_CYCLES) $(GO) test -count=1 -timeout 0 -tags $(GOTAGS) \
		-run '^TestSoak$$' -v ./cmd/passkiosk/ 2>&1 | tee "$$log"; status=$$?; \
	line=$$(grep '^soak: cycles=' "$$log" | tail -n 1); rm -f "$$log"; \
	if [ $$status -ne 0 ] || [ -z "$$line" ]; then exit 1; fi; \
	echo "$$line"

# test-fleet runs the fleet simulation (store/fleet/sim_test.go): that many
# agents, each with its own bbolt file and client, against three members
# on 127.0.0.1, each member a process of its own: revocation to every
# mirror (p50/p99/max over 20, and where the time goes), a revocation
# after the leader is killed with SIGKILL and one with that member down,
# catch-up after 100 missed updates, a full reload after compaction, heap
# per agent, CPU and requests of the idle agents; then a cold terminal
# loading 10,000 people and 20,000 keys, revocation to 50 agents, and one
# terminal's apply of a revocation, as benchmarks. About four minutes.
test-fleet: deps
	set -o pipefail; PASSKIOSK_FLEET_SIM=1 PASSKIOSK_FLEET_AGENTS=$(FLEET_AGENTS) $(GO) test -count=1 -timeout 30m \
		-run '^TestFleetSimulation$$' -v ./store/fleet/ 2>&1 | grep -v '^{'
	set -o pipefail; $(GO) test -count=1 -timeout 30m -run '^$$' -bench 'ColdLoad|RevocationTo50' -benchtime 1x ./store/fleet/ 2>&1 | grep -v '^{'
	set -o pipefail; $(GO) test -count=1 -timeout 10m -run '^$$' -bench 'ApplyRevocation' -benchtime 2000x ./store/fleet/ 2>&1 | grep -v '^{'

# screenshots runs the demo in a real window under Xvfb, walks it through
# enrollment and sign-in, writes PNGs to screenshots/ and reports start time,
# idle CPU and memory.
screenshots: deps
	cmd/passkiosk/screenshots.sh screenshots

# test-fleet-audit runs the audit shipping simulation of issue 19 at its
# full size: FLEET_TERMINALS terminals write FLEET_ENTRIES entries in all,
# FLEET_RATE per second (0: as fast as they can; on two shared cores
# about 500 a second is what the whole fleet, cluster and collector in one
# process keep up with), while they ship them to an embedded three-member
# etcd cluster and the collector archives them; the leader is killed and
# comes back, a tenth of the terminals are cut off and come back. It
# checks that every archive is its whole chain once and ends with one
# line of figures (about 10 minutes at 200 a second). `make test` runs a
# short version (20 terminals, 4,000 entries).
FLEET_TERMINALS ?= 500
FLEET_ENTRIES   ?= 100000
FLEET_RATE      ?= 200
test-fleet-audit: deps
	@set -o pipefail; log=$$(mktemp); \
	$(GO) test -count=1 -timeout 60m -run '^TestFleetShipsEveryEntryOnceThroughFailures$$' -v ./store/fleet/collect/ \
		-args -fleet.terminals=$(FLEET_TERMINALS) -fleet.entries=$(FLEET_ENTRIES) -fleet.rate=$(FLEET_RATE) 2>&1 | tee "$$log"; status=$$?; \
	line=$$(grep -o 'fleet-audit: .*' "$$log" | tail -n 1); rm -f "$$log"; \
	if [ $$status -ne 0 ] || [ -z "$$line" ]; then exit 1; fi; \
	echo "$$line"

# deb builds the Debian package into dist/.
deb: deps
	packaging/build-deb.sh dist

# test-packaging builds the package, runs lintian and systemd-analyze, and
# installs, upgrades and purges it in a throwaway root.
test-packaging: deps
	packaging/test.sh

# test-appliance boots Debian 12 (debootstrap, cached in
# /var/cache/passkiosk-test-root) with systemd-nspawn, upgrades the
# single-unit package to this one, and checks the lock screen under
# headless cage, a TPM sign-in to a session with Wayland and X11 windows,
# the window's crash, sign-out, stop and reboot (packaging/test-appliance.sh).
test-appliance: deps
	packaging/test-appliance.sh

clean:
	rm -rf bin demo-state screenshots dist
