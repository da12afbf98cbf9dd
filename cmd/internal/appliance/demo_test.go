package appliance

import (
	"os"
	"path/filepath"
	"testing"

	"passkiosk/kiosk/config"
)

// The demo empties only a folder it made itself: a mistyped --state-dir
// pointing at real state is refused and loses nothing.
func TestFreshDemoDirEmptiesOnlyItsOwnFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo-state")
	if err := freshDemoDir(dir); err != nil {
		t.Fatalf("new folder: %v", err)
	}
	old := filepath.Join(dir, "passkiosk.db")
	if err := os.WriteFile(old, []byte("last run"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := freshDemoDir(dir); err != nil {
		t.Fatalf("the demo's own folder: %v", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("last run's database still there: %v", err)
	}

	real := t.TempDir()
	db := filepath.Join(real, "passkiosk.db")
	if err := os.WriteFile(db, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := freshDemoDir(real); err == nil {
		t.Fatal("a folder with someone else's files was accepted")
	}
	if b, err := os.ReadFile(db); err != nil || string(b) != "precious" {
		t.Fatalf("refused folder changed: %q, %v", b, err)
	}

	empty := t.TempDir()
	if err := freshDemoDir(empty); err != nil {
		t.Fatalf("an empty folder: %v", err)
	}
}

// The demo's policy names the groups of the people it adds, so the admin
// tool's group check accepts them.
func TestDemoPolicyNamesTheDemoPeoplesGroups(t *testing.T) {
	cfg, err := DemoConfig(filepath.Join(t.TempDir(), "demo-state"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := config.LoadPolicy(cfg.PolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range p.Groups {
		names = append(names, g.Group)
	}
	if len(names) != 2 || names[0] != "nurses" || names[1] != "porters" || p.Groups[0].Rules.IdleTimeout != p.Default.IdleTimeout {
		t.Fatalf("demo policy groups %v, rules %+v", names, p.Groups)
	}
}
