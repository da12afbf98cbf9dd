package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The command talks to the appliance only through its socket: it never
// opens the database, and has no GUI.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "passkiosk/cmd/passkioskctl").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"passkiosk/store", "go.etcd.io/bbolt", "fyne.io/fyne", "github.com/keys-pub/go-libfido2", "github.com/google/go-tpm"} {
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("passkioskctl depends on %s", dep)
			}
		}
	}
}
