// Command passkioskd is the sign-in appliance's root daemon: it reads the
// configuration, opens the database, the TPM and the security-key watcher,
// recovers what a crash may have left of a session, and serves the admin
// socket and the window's socket until it is told to stop. It draws
// nothing: the full-screen window (cmd/passkiosk) runs as its own
// unprivileged account and connects to ui.socket; the daemon goes on,
// and a session keeps running, when the window dies.
//
//	passkioskd [--config /etc/passkiosk/passkiosk.toml] [--state-dir DIR]
//
// It links no Fyne and no GL (kiosk/imports_test.go checks it).
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"passkiosk/cmd/internal/appliance"
	"passkiosk/cmd/internal/cmdline"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/session"
	"passkiosk/store"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	// The database check runs in a child of this program (a damaged file
	// must not crash the daemon); in that child this call never returns.
	store.ServeCheck()
	// Under cage this program is also run as the display's owner to let
	// the daemon into Xwayland (session.AdmitRootAs).
	session.ServeAdmit()
	configPath := flag.String("config", config.DefaultPath, "appliance configuration file")
	stateDir := flag.String("state-dir", "", "state directory (default: from the configuration)")
	cmdline.VersionFlag("passkioskd", version)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := config.Load(*configPath)
	if err != nil {
		// A configuration the daemon cannot understand is reported line
		// by line and the service manager restarts it once fixed.
		ps := config.ProblemsOf(err)
		for _, p := range ps {
			log.Error("configuration", "problem", p.String())
		}
		if len(ps) == 0 {
			log.Error("configuration", "err", err)
		}
		os.Exit(2)
	}
	if *stateDir != "" {
		cfg.StateDir = *stateDir
	}
	log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := appliance.Start(ctx, cfg, appliance.Options{Version: version, Log: log})
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	log.Info("passkioskd running", "version", version, "terminal", cfg.Terminal)
	<-ctx.Done()
	log.Info("stopping")
	a.Close()
}
