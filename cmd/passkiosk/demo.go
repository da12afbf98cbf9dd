//go:build !nodemo

package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"passkiosk/cmd/internal/appliance"
	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/demokey"
	"passkiosk/store"
	"passkiosk/ui"
)

// The demo's half of the appliance runs in this process. A build with the
// tag nodemo (make build: the window as the package ships it) leaves it
// out, and with it the TPM simulator, libfido2 and the database: the
// unprivileged window then links none of them.

// serveDemoCheck runs the demo database's check when this process is the
// check's child (store.ServeCheck); otherwise it returns at once.
func serveDemoCheck() { store.ServeCheck() }

// runDemo starts the daemon's half on the demo's defaults and returns the
// window joined to it, and how to stop it.
func runDemo(ctx context.Context, stateDir string, log *slog.Logger) (*window, func(), error) {
	a, err := startDemo(ctx, stateDir, log)
	if err != nil {
		return nil, nil, err
	}
	return demoWindow(a, log), a.Close, nil
}

// startDemo runs the daemon's half on the demo's embedded defaults.
func startDemo(ctx context.Context, stateDir string, log *slog.Logger) (*appliance.Appliance, error) {
	cfg, err := appliance.DemoConfig(stateDir)
	if err != nil {
		return nil, err
	}
	log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
	return appliance.Start(ctx, cfg, appliance.Options{Demo: true, Version: version, Log: log, NoWindowSocket: true})
}

// demoWindow is the demo's window, joined to its daemon half in process.
func demoWindow(a *appliance.Appliance, log *slog.Logger) *window {
	return &window{title: "passkiosk — " + a.Config().Terminal, windowed: true, log: log, language: uiLanguage(log),
		dial: inProcess(a.Link()), demo: &virtualKeys{a.DemoKeys()}, programName: a.ProgramName()}
}

// virtualKeys is the demo's virtual security key (fido/softkey/demokey)
// as the screens' demo panel drives it. The demo's daemon half and its
// window share the process, so the panel drives the key directly.
type virtualKeys struct{ *demokey.Keys }

var _ ui.DemoKeyControl = (*virtualKeys)(nil)

// SetTouch is the panel's choice of how the person answers a touch
// request: a touch after a moment, a refusal, or nothing.
func (v *virtualKeys) SetTouch(m ui.TouchMode) {
	switch m {
	case ui.TouchAccept:
		v.Keys.SetTouch(softkey.TouchAfterDelay, 700*time.Millisecond)
	case ui.TouchRefuse:
		v.Keys.SetTouch(softkey.TouchRefused, 700*time.Millisecond)
	case ui.TouchIgnore:
		v.Keys.SetTouch(softkey.TouchNever, 0)
	}
}
