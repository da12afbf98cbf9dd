package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"passkiosk/kiosk/config"
)

// A folder named with --dir that holds anything is refused: another
// run's member data must not be mixed in, nor anyone's files removed.
func TestDemoDirRefusesAFolderInUse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := demoDir(dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a folder in use: %v", err)
	}
	fresh := filepath.Join(dir, "new")
	got, remove, err := demoDir(fresh)
	if err != nil || got != fresh {
		t.Fatalf("a new folder: %q %v", got, err)
	}
	remove()
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != searchable {
		t.Fatalf("a named folder is kept, mode %o: %v", fi.Mode().Perm(), err)
	}
}

// The directory comes up as the demo needs it: both terminals joined by
// a real passkioskctl, their configuration readable by the appliance
// with the service's address, and the console answers each command, or
// says why it cannot.
func TestDemoFleetComesUpAndTheConsoleAnswers(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "passkioskctl")
	if out, err := exec.Command("go", "build", "-o", bin, "passkiosk/cmd/passkioskctl").CombinedOutput(); err != nil {
		t.Fatalf("build passkioskctl: %v\n%s", err, out)
	}
	dir := t.TempDir()
	tb := &programTB{dir: dir}
	t.Cleanup(tb.cleanup)
	ctx := context.Background()
	f, err := startFleet(ctx, tb, dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.close)
	for _, term := range terminals {
		cfg, err := config.Load(filepath.Join(dir, "terminals", term.name+".toml"))
		if err != nil {
			t.Fatalf("terminal %s's configuration: %v", term.name, err)
		}
		if cfg.Terminal != term.title || cfg.Fleet.Name != term.name || cfg.Fleet.Service != f.url || len(cfg.Fleet.Endpoints) != 3 {
			t.Errorf("terminal %s: %q %+v", term.name, cfg.Terminal, cfg.Fleet)
		}
	}
	for _, tc := range []struct{ line, want string }{
		{"revoke alice", "Alice Moreau has no security key in the directory: enroll one first"},
		{"disable bob", "disabled Bob Okafor at revision"},
		{"enable bob", "enabled Bob Okafor at revision"},
		{"code bob", "new enrollment code for Bob Okafor: "},
		{"revoke carol", `revoke carol: no person "carol" in the demo (alice, bob)`},
		{"code", `code: no person "" in the demo (alice, bob)`},
		{"help", "IT's console"},
		{"offline", "all three members stopped"},
		{"online", "the members are back"},
		{"disable alice", "disabled Alice Moreau at revision"},
	} {
		var out bytes.Buffer
		f.command(ctx, tc.line, &out)
		if !strings.HasPrefix(out.String(), tc.want) {
			t.Errorf("%q answered %q, want %q…", tc.line, out.String(), tc.want)
		}
	}
	var out bytes.Buffer
	f.introduce(&out)
	for _, want := range []string{"Alice Moreau   " + f.codes["alice"], "fleet service: " + f.url, "ready: " + dir} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the introduction lacks %q:\n%s", want, out.String())
		}
	}
}
