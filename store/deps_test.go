package store_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestImportDirection keeps the store below the device and UI layers
// (see DESIGN.md, "Layout").
func TestImportDirection(t *testing.T) {
	goCmd := "go"
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		goCmd = p
	}
	out, err := exec.Command(goCmd, "list", "-deps", "passkiosk/store").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"passkiosk/tpm", "passkiosk/fido/usbkey", "passkiosk/ui", "fyne.io/", "github.com/google/go-tpm", "github.com/keys-pub/go-libfido2"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") || (strings.HasSuffix(banned, "/") && strings.HasPrefix(dep, banned)) {
				t.Errorf("store depends on %s", dep)
			}
		}
	}
}
