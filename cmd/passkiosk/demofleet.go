//go:build !nodemo

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"passkiosk/cmd/internal/appliance"
	"passkiosk/fido/softkey"
	"passkiosk/tpm/swtpm"
	"passkiosk/ui"
)

// The demo fleet (make demo-fleet): every terminal that
// passkiosk-demo-cluster joined (DIR/terminals/*.toml) runs its daemon
// half in this process, with a state folder and a swtpm of its own and
// one virtual security key between them all, and a window each.

// demoTerminal is one terminal of the demo fleet.
type demoTerminal struct {
	app *appliance.Appliance
	tpm *swtpm.Process
}

func (t *demoTerminal) close(log *slog.Logger) {
	if t.app != nil {
		t.app.Close()
	}
	if err := t.tpm.Stop(); err != nil {
		log.Warn("stopping the terminal's swtpm", "err", err)
	}
}

// demoFleet is the demo fleet's terminals and the key they share.
type demoFleet struct {
	terminals []*demoTerminal
	key       *softkey.Key
	log       *slog.Logger
}

// startDemoFleet starts a daemon half for each terminal configured in
// dir/terminals.
func startDemoFleet(ctx context.Context, dir string, log *slog.Logger) (*demoFleet, error) {
	files, err := filepath.Glob(filepath.Join(dir, "terminals", "*.toml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no terminals in %s/terminals (%v): the demo fleet is started by passkiosk-demo-cluster (make demo-fleet), which writes them", dir, err)
	}
	slices.Sort(files)
	f := &demoFleet{log: log}
	if f.key, err = appliance.NewDemoFleetKey(dir); err != nil {
		return nil, err
	}
	for _, file := range files {
		t, err := startDemoTerminal(ctx, dir, file, f.key)
		if err != nil {
			f.close()
			return nil, err
		}
		f.terminals = append(f.terminals, t)
	}
	return f, nil
}

// startDemoTerminal starts the terminal configured in file, with its state
// in dir/state-<name> and its swtpm in there.
func startDemoTerminal(ctx context.Context, dir, file string, key *softkey.Key) (*demoTerminal, error) {
	name := strings.TrimSuffix(filepath.Base(file), ".toml")
	stateDir := filepath.Join(dir, "state-"+name)
	// DemoConfig empties the state folder it is given: the swtpm lives
	// beside it, so that it is started first.
	tpmDir := filepath.Join(dir, "tpm-"+name)
	if err := os.RemoveAll(tpmDir); err != nil {
		return nil, err
	}
	p, err := swtpm.Start(ctx, tpmDir)
	if err != nil {
		return nil, fmt.Errorf("terminal %s: %w", name, err)
	}
	t := &demoTerminal{tpm: p}
	cfg, err := appliance.DemoFleetConfig(stateDir, file, p.Address())
	if err == nil {
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()})).With("terminal", name)
		t.app, err = appliance.Start(ctx, cfg, appliance.Options{Demo: true, Version: version, Log: log, NoWindowSocket: true, DemoKey: key})
	}
	if err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("terminal %s: %w", name, err)
	}
	return t, nil
}

// close stops every terminal: a running session is wiped first.
func (f *demoFleet) close() {
	var wg sync.WaitGroup
	for _, t := range f.terminals {
		wg.Go(func() { t.close(f.log) })
	}
	wg.Wait()
	f.terminals = nil
}

// windows are the terminals' windows, each with a panel for the shared
// key: plugging it in at one terminal pulls it out of the others.
func (f *demoFleet) windows(log *slog.Logger) []*window {
	keys := &sharedKey{}
	var out []*window
	for _, t := range f.terminals {
		w := demoWindow(t.app, log)
		p := &keyAt{virtualKeys: w.demo.(*virtualKeys), shared: keys}
		keys.at = append(keys.at, p)
		w.demo = p
		out = append(out, w)
	}
	return out
}

// runDemoFleet runs the demo fleet in dir until ctx ends or a window is
// closed.
func runDemoFleet(ctx context.Context, dir string, log *slog.Logger) error {
	f, err := startDemoFleet(ctx, dir, log)
	if err != nil {
		return err
	}
	defer f.close()
	err = runWindows(ctx, f.windows(log))
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// sharedKey is the one virtual key as the terminals' panels see it.
type sharedKey struct {
	mu sync.Mutex
	at []*keyAt
}

// keyAt is one terminal's panel of the shared key.
type keyAt struct {
	*virtualKeys
	shared   *sharedKey
	mu       sync.Mutex
	onChange func()
}

// Plug plugs the key in here, pulling it out of any other terminal
// first: one key is in one place.
func (k *keyAt) Plug() {
	k.shared.mu.Lock()
	defer k.shared.mu.Unlock()
	for _, o := range k.shared.at {
		if o != k && o.Plugged() {
			o.Keys.Unplug()
			o.changed()
		}
	}
	k.virtualKeys.Plug()
}

// OnChange is how the panel learns that the key left this terminal
// without its own button (ui.DemoKeyChanges).
func (k *keyAt) OnChange(f func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.onChange = f
}

func (k *keyAt) changed() {
	k.mu.Lock()
	f := k.onChange
	k.mu.Unlock()
	if f != nil {
		f()
	}
}

var _ ui.DemoKeyChanges = (*keyAt)(nil)
