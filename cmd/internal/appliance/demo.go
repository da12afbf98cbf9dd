package appliance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/demokey"
	"passkiosk/kiosk/config"
	"passkiosk/store"
)

// The demo's virtual security key has this PIN and a fingerprint sensor
// whose finger matches until the panel says otherwise.
const demoKeyPIN = "1234"

// demoConfig is the embedded configuration of --demo: a fresh state
// directory each run (the in-process TPM simulator keeps no state across
// runs, so passkeys enrolled in its TPM could not outlive the process
// anyway), the simulator, and sessions of a harmless program.
func DemoConfig(stateDir string) (*config.Config, error) {
	if stateDir == "" {
		stateDir = "demo-state"
	}
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, err
	}
	if err := freshDemoDir(abs); err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.Terminal = "Demo terminal"
	cfg.StateDir = abs
	// The built-in rules, with the demo people's groups named, so that
	// passkioskctl users add --groups nurses is accepted as it would be
	// on a terminal whose policy has such groups.
	cfg.PolicyFile = filepath.Join(abs, "policy.toml")
	if err := os.WriteFile(cfg.PolicyFile, []byte(demoPolicy), 0o644); err != nil {
		return nil, fmt.Errorf("demo policy: %w", err)
	}
	cfg.TPM.Transport = "simulator"
	cfg.SecurityKeys.Enabled = true
	cfg.Admin.Socket = filepath.Join(abs, "admin.sock")
	cfg.Admin.Group = ""
	cfg.Session.User, cfg.Session.DedicatedUser = "nobody", false
	// The demo's window is in the same process, joined without a socket
	// (Options.NoWindowSocket); this path is only where one would be.
	cfg.UI.Socket = filepath.Join(abs, "ui.sock")
	// The demo runs on someone's desktop: sessions show their windows
	// there, through X11 when the desktop has it. No Wayland socket: the
	// session account (nobody) is shared and would not be granted one.
	cfg.Display.X11 = os.Getenv("DISPLAY") != ""
	cfg.Display.X11Display = os.Getenv("DISPLAY")
	cfg.Display.XAuthority = os.Getenv("XAUTHORITY")
	cfg.Display.WaylandSocket = ""
	return &cfg, nil
}

// demoPolicy is the demo's policy: every setting at its built-in default,
// and the groups of the people seedDemo adds, with the default rules.
const demoPolicy = `# The demo's policy: the built-in defaults, and the demo people's groups.
[groups.nurses]

[groups.porters]
`

// demoMarker marks a folder as the demo's own, so that a fresh start may
// empty it.
const demoMarker = ".passkiosk-demo"

// freshDemoDir empties dir for a new demo and marks it. It refuses a
// folder that exists and holds anything without the demo's marker: a
// mistyped --state-dir must never wipe a real appliance's state or
// anyone's files.
func freshDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo state folder: %w", err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return fmt.Errorf("demo state folder %s is not empty and was not made by the demo (no %s in it): choose another --state-dir", dir, demoMarker)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clearing the demo state: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("demo state folder: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), nil, 0o600)
}

// newDemoKey is the demo's virtual key, answering a touch request after
// a moment until the panel says otherwise: shared when given (the demo
// fleet's terminals share one), else the demo's own, kept in stateDir.
func newDemoKey(stateDir string, shared *softkey.Key) (*demokey.Keys, error) {
	k := shared
	if k == nil {
		var err error
		if k, err = virtualKey(stateDir); err != nil {
			return nil, err
		}
	}
	v := demokey.New(k)
	v.SetTouch(softkey.TouchAfterDelay, 700*time.Millisecond)
	return v, nil
}

// virtualKey is the demo's virtual security key, its state kept in dir.
func virtualKey(dir string) (*softkey.Key, error) {
	k, err := softkey.New(softkey.Config{StatePath: filepath.Join(dir, "virtual-key.state"), PIN: demoKeyPIN, Fingerprint: true})
	if err != nil {
		return nil, fmt.Errorf("virtual security key: %w", err)
	}
	return k, nil
}

// seedDemo adds two people with enrollment codes and prints how to walk
// through the demo. A demo fleet terminal's people come from the
// directory (passkiosk-demo-cluster), so it adds none.
func seedDemo(db *store.DB, cfg *config.Config) error {
	if cfg.Fleet.Enabled() {
		return nil
	}
	terminal := cfg.Terminal
	people := []store.User{
		{ID: []byte("alice"), Name: "alice", DisplayName: "Alice Moreau", Groups: []string{"nurses"}, State: store.UserActive},
		{ID: []byte("bob"), Name: "bob", DisplayName: "Bob Okafor", Groups: []string{"porters"}, State: store.UserActive},
	}
	ch := store.Change{Actor: "demo", Terminal: terminal}
	fmt.Println("passkiosk demo — people and their one-time enrollment codes:")
	for _, u := range people {
		if err := db.PutUser(u, ch); err != nil {
			return err
		}
		code, _, err := db.IssueEnrollmentCode(u.ID, store.PurposeEnroll, 24*time.Hour, ch)
		if err != nil {
			return err
		}
		fmt.Printf("  %-14s %s\n", u.DisplayName, code)
	}
	fmt.Printf("The virtual security key's PIN is %s; its fingerprint sensor answers from the panel.\n", demoKeyPIN)
	fmt.Println("Press \"I have an enrollment code\", type a code, and register this terminal or the key.")
	return nil
}

// printDemoAdmin says where the demo's admin socket is and how to reach
// it: passkioskctl finds it by itself when run from this folder (it looks
// for demo-state/admin.sock), and anywhere with PASSKIOSK_SOCKET.
func printDemoAdmin(socket string) {
	fmt.Printf("Admin socket: %s\n", socket)
	fmt.Printf("Try, in another terminal: PASSKIOSK_SOCKET=%s go run ./cmd/passkioskctl status\n", socket)
	if filepath.Base(filepath.Dir(socket)) == "demo-state" {
		fmt.Println("(passkioskctl finds the socket by itself when run from this folder.)")
	}
}
