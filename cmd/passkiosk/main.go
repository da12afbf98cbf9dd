// Command passkiosk is the sign-in appliance's full-screen window. It runs
// as its own unprivileged account (passkiosk-ui) inside cage, connects to
// the root daemon (cmd/passkioskd) over its socket, shows each kiosk.View
// the daemon sends through package ui, and sends the person's taps back as
// kiosk.Commands (kiosk/uilink). It holds nothing secret but the PIN being
// typed, which it hands over as bytes and wipes. When the daemon is away
// (starting, restarting) it shows a plain waiting screen and dials again;
// when the compositor goes away it exits non-zero, so its unit restarts.
//
//	passkiosk [--socket /run/passkiosk/ui.sock | --config FILE] [--windowed]
//	passkiosk --demo [--state-dir DIR]
//	passkiosk --demo-fleet DIR
//
// --demo runs the daemon's half in this process on embedded defaults (the
// in-process TPM simulator, a virtual security key with an on-screen
// panel, a fresh state directory with two people and their enrollment
// codes), joined to the window over the same link through a socket pair,
// in a normal window.
//
// --demo-fleet runs every terminal that passkiosk-demo-cluster (make
// demo-fleet) joined to its directory and described in DIR/terminals: a
// daemon half each in this process, with a swtpm each and one virtual
// security key they share, and a normal window each.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"passkiosk/cmd/internal/cmdline"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/uilink"
	"passkiosk/ui/i18n"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	// The demo's database check runs in a child of this program; in that
	// child this call never returns.
	serveDemoCheck()
	socket := flag.String("socket", "", "the daemon's socket for its window (default: ui.socket of --config, else "+uilink.DefaultSocket+")")
	configPath := flag.String("config", config.DefaultPath, "the appliance's configuration, read for ui.socket when it is readable")
	demo := flag.Bool("demo", false, "run the daemon's half in this process on embedded defaults: TPM simulator, a virtual security key, a fresh state dir")
	stateDir := flag.String("state-dir", "", "the demo's state directory (default ./demo-state)")
	demoFleet := flag.String("demo-fleet", "", "run the terminals of the demo fleet in `DIR` (written by passkiosk-demo-cluster: make demo-fleet), a window each")
	windowed := flag.Bool("windowed", false, "a normal window instead of full screen")
	cmdline.VersionFlag("passkiosk", version)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if *demoFleet != "" {
		if err := runDemoFleet(ctx, *demoFleet, log); err != nil {
			log.Error("demo fleet", "err", err)
			os.Exit(1)
		}
		return
	}
	w := window{title: "passkiosk", windowed: *windowed, log: log, language: uiLanguage(log),
		dial: uilink.DialSocket(windowSocket(*socket, *configPath, log))}
	if *demo {
		dw, stopDemo, err := runDemo(ctx, *stateDir, log)
		if err != nil {
			log.Error("demo", "err", err)
			os.Exit(1)
		}
		defer stopDemo()
		w = *dw
	}
	if err := w.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("window", "err", err)
		os.Exit(exitCode(err))
	}
}

// windowSocket is the socket named on the command line, else the
// configuration's ui.socket when the window may read the file (it need
// not: the package keeps it from everyone but root), else the default.
func windowSocket(flagged, configPath string, log *slog.Logger) string {
	if flagged != "" {
		return flagged
	}
	if cfg, err := config.Load(configPath); err == nil {
		return cfg.UI.Socket
	} else {
		log.Debug("configuration not read; the default socket", "err", err)
	}
	return uilink.DefaultSocket
}

// uiLanguage is the locale's language when there is a translation for it,
// else English: a locale without one (or "C") must not keep the lock
// screen from showing.
func uiLanguage(log *slog.Logger) string {
	locale := cmp.Or(os.Getenv("LC_ALL"), os.Getenv("LC_MESSAGES"), os.Getenv("LANG"))
	if _, err := i18n.Load(locale); err != nil {
		log.Warn("no translation for the locale; showing English", "locale", locale, "have", i18n.Languages())
		return i18n.Default
	}
	return locale
}
