package session_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/session"
	"passkiosk/kiosk/session/sessiontest"
)

// runInSandbox runs script as a session under m and returns its output.
func runInSandbox(t *testing.T, m *session.Manager, script string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := m.Start(t.Context(), session.Spec{User: "ivan", Program: []string{"/bin/sh", "-c", script}, Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, s)
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, _ := readAll(r)
	if _, err := s.End(kiosk.EndFailed); err != nil {
		t.Fatal(err)
	}
	return out
}

// The two escapes, tried with the real bubblewrap: a program that
// maps itself to uid 0 in a user namespace of its own (from where it could
// mount over what it sees), and one that reads the appliance's
// configuration, which the package installs world-readable on older
// versions. Neither works: user namespaces are disabled inside, and only
// the parts of /etc programs need are there at all.
func TestBubblewrapKeepsUserNamespacesAndTheApplianceConfigOut(t *testing.T) {
	m, _ := newManager(t, session.SandboxBubblewrap, testUID, nil)
	if _, why := m.Sandbox(); !strings.Contains(why, "user namespaces disabled") || m.Fallback() != "" {
		t.Fatalf("bubblewrap here should disable user namespaces: %s (fallback %q)", why, m.Fallback())
	}
	dir := "/etc/passkiosk"
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(dir) })
	}
	conf := filepath.Join(dir, "sandbox-test-"+strconv.Itoa(os.Getpid())+".toml")
	if err := os.WriteFile(conf, []byte("secret = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(conf) })

	out := runInSandbox(t, m, `
unshare -U -r /bin/sh -c 'echo "uid in new namespace=$(id -u)"'; echo "unshare=$?"
cat `+conf+` && echo read-appliance-config
[ -e /etc/passkiosk ] && echo sees-etc-passkiosk
[ -e /etc/shadow ] && echo sees-shadow
[ -e /etc/sudoers ] && echo sees-sudoers
grep -q "^root:" /etc/passwd && echo passwd-readable
[ -z "$(ls /etc/ssl 2>/dev/null)" ] || echo ssl-readable
echo "uid=$(id -u)"
`)
	t.Logf("sandbox said:\n%s", out)
	if strings.Contains(out, "uid in new namespace=0") || strings.Contains(out, "unshare=0") {
		t.Errorf("the program became root in a user namespace of its own:\n%s", out)
	}
	for _, bad := range []string{"secret", "read-appliance-config", "sees-"} {
		if strings.Contains(out, bad) {
			t.Errorf("%q in the sandbox's output:\n%s", bad, out)
		}
	}
	want := []string{"passwd-readable", "uid=61234"}
	if _, err := os.Stat("/etc/ssl/certs"); err == nil {
		want = append(want, "ssl-readable")
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%q missing from the sandbox's output:\n%s", w, out)
		}
	}
}

// fakeBwrapDir holds a bwrap that runs the real one but whose --help does
// not offer --disable-userns, as bubblewrap before 0.8.0.
func fakeBwrapDir(t *testing.T) string {
	t.Helper()
	real, err := findBwrap()
	if err != nil {
		t.Skip("no bubblewrap here")
	}
	dir, err := os.MkdirTemp("", "old-bwrap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // the probe runs as the session uid
	script := "#!/bin/sh\nif [ \"$1\" = --help ]; then " + real + " --help | grep -v -- --disable-userns; exit 0; fi\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "bwrap"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func findBwrap() (string, error) {
	for _, p := range []string{"/usr/bin/bwrap", "/bin/bwrap"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

// newBare makes a Manager with the given sandbox and reports its error.
func newBare(t *testing.T, sb session.Sandbox) (*session.Manager, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("session tests need root: they run sessions as other uids")
	}
	return session.New(session.Config{StateRoot: stateRoot(t), UID: testUID, GID: testUID, Sandbox: sb, Journal: sessiontest.NewMemJournal()})
}

// auto falling back is said out loud (Manager.Fallback, which the
// appliance audits and reports as degraded health), and "required" never
// falls back: New fails, and the appliance stays out of service.
func TestSandboxFallbackIsLoudAndRequiredNeverFallsBack(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is the service manager here; this test is about machines without it")
	}
	// Where bubblewrap works with user namespaces disabled, required is
	// bubblewrap and nothing falls back.
	m, err := newBare(t, session.SandboxRequired)
	if err != nil {
		t.Fatalf("required where bubblewrap works: %v", err)
	}
	if sb, why := m.Sandbox(); sb != session.SandboxBubblewrap || m.Fallback() != "" {
		t.Fatalf("required gave %v (%s), fallback %q", sb, why, m.Fallback())
	}

	// A bubblewrap too old to disable user namespaces: auto and
	// bubblewrap take it and say what is missing; required refuses it.
	t.Run("old bubblewrap", func(t *testing.T) {
		t.Setenv("PATH", fakeBwrapDir(t)+":/usr/bin:/bin")
		m, err := newBare(t, session.SandboxAuto)
		if err != nil {
			t.Fatal(err)
		}
		if sb, _ := m.Sandbox(); sb != session.SandboxBubblewrap || !strings.Contains(m.Fallback(), "user namespaces") {
			t.Fatalf("auto with an old bubblewrap: %v, fallback %q", sb, m.Fallback())
		}
		_, err = newBare(t, session.SandboxRequired)
		if !errors.Is(err, kiosk.ErrPolicy) || !strings.Contains(err.Error(), "required") || !strings.Contains(err.Error(), "--disable-userns") {
			t.Fatalf("required with an old bubblewrap: %v", err)
		}
	})

	// No bubblewrap at all.
	t.Run("no bubblewrap", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		m, err := newBare(t, session.SandboxAuto)
		if err != nil {
			t.Fatal(err)
		}
		if sb, _ := m.Sandbox(); sb != session.SandboxNone || !strings.Contains(m.Fallback(), "without a sandbox") {
			t.Fatalf("auto without bubblewrap: %v, fallback %q", sb, m.Fallback())
		}
		if _, err := newBare(t, session.SandboxRequired); !errors.Is(err, kiosk.ErrPolicy) || !strings.Contains(err.Error(), "required") {
			t.Fatalf("required without bubblewrap: %v", err)
		}
		// Asking for none is not a fallback.
		m, err = newBare(t, session.SandboxNone)
		if err != nil || m.Fallback() != "" {
			t.Fatalf("none as configured: %v, fallback %q", err, m.Fallback())
		}
	})
	if sb, err := session.ParseSandbox("required"); err != nil || sb != session.SandboxRequired || sb.String() != "required" {
		t.Fatalf("ParseSandbox(required) = %v, %v", sb, err)
	}
}
