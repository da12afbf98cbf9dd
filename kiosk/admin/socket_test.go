package admin_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// passkioskctl finds a demo's socket from the folder the demo ran in (or
// below it), and takes PASSKIOSK_SOCKET from anywhere.
func TestPasskioskctlFindsTheDemoSocket(t *testing.T) {
	if _, err := os.Stat("/run/passkiosk/admin.sock"); err == nil {
		t.Skip("an appliance's socket is at the default path here; it would be found first")
	}
	if _, err := os.Stat("/etc/passkiosk/passkiosk.toml"); err == nil {
		t.Skip("an appliance configuration here names its own socket")
	}
	a := newAppliance(t)
	repo := filepath.Join(a.dir, "repo")
	sub := filepath.Join(repo, "cmd", "passkioskctl")
	if err := os.MkdirAll(filepath.Join(repo, "demo-state"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(a.sock, filepath.Join(repo, "demo-state", "admin.sock")); err != nil {
		t.Fatal(err)
	}
	run := func(dir string, env ...string) (string, string, error) {
		cmd := exec.Command(ctlBin, "status")
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "PASSKIOSK_SOCKET=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	for _, dir := range []string{repo, sub} {
		if out, errs, err := run(dir); err != nil || !strings.Contains(out, "terminal:  "+terminal) {
			t.Fatalf("from %s: %v\n%s%s", dir, err, out, errs)
		}
	}
	if out, errs, err := run(a.dir, "PASSKIOSK_SOCKET="+a.sock); err != nil || !strings.Contains(out, terminal) {
		t.Fatalf("with PASSKIOSK_SOCKET: %v\n%s%s", err, out, errs)
	}
	// Nowhere to be found: the error says where it looked and how to name
	// a socket.
	_, errs, err := run(t.TempDir())
	if err == nil || !strings.Contains(errs, "/run/passkiosk/admin.sock") || !strings.Contains(errs, "PASSKIOSK_SOCKET") {
		t.Fatalf("no socket anywhere: %v\n%s", err, errs)
	}
}
