package appliance

import (
	"os"
	"path/filepath"
	"testing"
)

// IT's lockout authorization is read only from a file no one but root
// can read or change; its line break is not part of it.
func TestLockoutAuthFileMustBeRootOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the file must be root's: run as root")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "tpm-lockout-auth")
	if err := os.WriteFile(path, []byte("set-by-IT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readRootOnly(path)
	if err != nil || string(got) != "set-by-IT" {
		t.Fatalf("root-only file: %q, %v", got, err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := readRootOnly(path); err == nil {
			t.Errorf("mode %o accepted", mode)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := readRootOnly(path); err == nil {
		t.Error("a file owned by nobody accepted")
	}
}
