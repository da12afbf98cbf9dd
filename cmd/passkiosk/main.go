// Command passkiosk is the sign-in appliance: it reads its configuration,
// opens the database, the TPM and the security-key watcher, recovers what
// a crash may have left of a session, and runs the full-screen sign-in UI
// and the local admin socket until it is told to stop.
//
//	passkiosk [--config /etc/passkiosk/passkiosk.toml]
//	passkiosk --demo [--state-dir DIR]
//
// --demo runs on embedded defaults: the in-process TPM simulator, a
// virtual security key with an on-screen panel, a fresh state directory
// with two people and their enrollment codes, in a normal window.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"passkiosk/kiosk/config"
	"passkiosk/store"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	// The database check runs in a child of this program (a damaged file
	// must not crash the appliance); in that child this call never returns.
	store.ServeCheck()
	configPath := flag.String("config", config.DefaultPath, "appliance configuration file")
	demo := flag.Bool("demo", false, "run on embedded defaults: TPM simulator, a virtual security key, a fresh state dir")
	stateDir := flag.String("state-dir", "", "state directory (default: from the configuration; ./demo-state with --demo)")
	windowed := flag.Bool("windowed", false, "a normal window instead of full screen")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("passkiosk", version)
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	var cfg *config.Config
	var err error
	if *demo {
		cfg, err = demoConfig(*stateDir)
	} else {
		cfg, err = config.Load(*configPath)
		if err == nil && *stateDir != "" {
			cfg.StateDir = *stateDir
		}
	}
	if err != nil {
		// A configuration the appliance cannot understand is reported line
		// by line and the service manager restarts it once fixed.
		for _, p := range config.ProblemsOf(err) {
			log.Error("configuration", "problem", p.String())
		}
		if len(config.ProblemsOf(err)) == 0 {
			log.Error("configuration", "err", err)
		}
		os.Exit(2)
	}
	log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := start(ctx, cfg, *demo, log)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer a.Close()
	if err := runWindow(ctx, a, *demo || *windowed); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("window", "err", err)
		os.Exit(1)
	}
}
