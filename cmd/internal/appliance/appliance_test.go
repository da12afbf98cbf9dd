package appliance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/config"
	"passkiosk/store"
)

// The crash test re-runs this test binary as the appliance: with
// crashChildEnv naming a state folder, TestMain starts the appliance
// there, signs a person in with a TPM passkey, says where the session's
// survivor runs, and waits to be killed.
const crashChildEnv = "PASSKIOSK_APPLIANCE_CRASH_CHILD"

func TestMain(m *testing.M) {
	store.ServeCheck()
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

// testConfig is an appliance on the TPM simulator, without security keys,
// whose sessions run in a plain process group: the sandbox in which a
// session's processes outlive a crashed appliance (bubblewrap would take
// them down with it), so recovery has real work to do.
func testConfig(dir string) *config.Config {
	// The session user must reach its workspace: every folder above it
	// needs o+x, which the test's temporary folder lacks.
	os.Chmod(filepath.Dir(dir), 0o711)
	cfg := config.Default()
	cfg.Terminal = "Test bay"
	cfg.StateDir = dir
	cfg.PolicyFile = filepath.Join(dir, "policy.toml")
	cfg.TPM.Transport = "simulator"
	cfg.SecurityKeys.Enabled = false
	cfg.Session.Sandbox = "none"
	cfg.Session.User, cfg.Session.DedicatedUser = "nobody", false
	cfg.Admin.Socket = filepath.Join(dir, "admin.sock")
	cfg.Admin.Group = ""
	cfg.UI.Socket = filepath.Join(dir, "ui.sock")
	cfg.Display.WaylandSocket = ""
	return &cfg
}

// The session program writes files and leaves a grandchild in a session
// of its own that ignores SIGTERM, and says where it is.
const crashPolicy = `[default]
program = ["/bin/sh", "-c", """
mkdir -p "$HOME/docs"
i=0; while [ $i -lt 100 ]; do echo "patient note $i" > "$HOME/docs/n$i"; i=$((i+1)); done
setsid sh -c 'trap "" TERM; while :; do sleep 1; done' &
echo $! > "$HOME/survivor.pid"
exec sleep 3600
"""]
`

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func crashChild(dir string) int {
	fail := func(err error) int { fmt.Println("error", err); return 1 }
	a, err := Start(context.Background(), testConfig(dir), Options{Log: quietLog()})
	if err != nil {
		return fail(err)
	}
	code, _, err := a.db.IssueEnrollmentCode([]byte("alice"), store.PurposeEnroll, time.Hour, store.Change{Actor: "test"})
	if err != nil {
		return fail(err)
	}
	if err := enrollPlatform(a, code, "alice", true); err != nil {
		return fail(err)
	}
	// The survivor's pid, once the session program has written it.
	for guard := time.Now().Add(20 * time.Second); time.Now().Before(guard); time.Sleep(10 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "sessions", "*", "survivor.pid"))
		if len(files) == 1 {
			if b, err := os.ReadFile(files[0]); err == nil && len(bytes.TrimSpace(b)) > 0 {
				fmt.Println("in-session", strings.TrimSpace(string(b)))
				select {}
			}
		}
	}
	return fail(fmt.Errorf("the session program never started"))
}

// enrollPlatform registers a terminal passkey for name with the
// enrollment code and the PIN 135790 (no security keys: the terminal's
// own), as the screens would, and then, with signIn, signs them in to a
// session.
func enrollPlatform(a *Appliance, code, name string, signIn bool) error {
	steps := []struct {
		do   func()
		want kiosk.Prompt
	}{
		{func() {}, kiosk.PromptTouchOrChoose},
		{func() { a.eng.StartEnrollment(code) }, kiosk.PromptNewPIN},
		{func() { a.eng.EnterPIN([]byte("135790")) }, kiosk.PromptEnrollDone},
		{func() { a.eng.Cancel() }, kiosk.PromptTouchOrChoose},
	}
	if signIn {
		steps = append(steps, []struct {
			do   func()
			want kiosk.Prompt
		}{
			{func() { a.eng.TypeUserName(name) }, kiosk.PromptPIN},
			{func() { a.eng.EnterPIN([]byte("135790")) }, kiosk.PromptSession},
		}...)
	}
	for _, s := range steps {
		s.do()
		if err := waitView(a, func(v kiosk.View) bool { return v.Prompt == s.want }); err != nil {
			return err
		}
	}
	return nil
}

func waitView(a *Appliance, ok func(kiosk.View) bool) error {
	for guard := time.Now().Add(20 * time.Second); time.Now().Before(guard); time.Sleep(5 * time.Millisecond) {
		if ok(a.eng.View()) {
			return nil
		}
	}
	v := a.eng.View()
	return fmt.Errorf("stuck at state %v prompt %v notice %+v", v.State, v.Prompt, v.Notice)
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sessions as another user and tmpfs workspaces need root")
	}
}

// SIGKILL the appliance mid-session; the next start wipes what the
// journal says is left (the session's processes, its workspace) before
// the lock screen shows, and audits it.
func TestApplianceKilledMidSessionIsWipedAtNextStart(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.toml"), []byte(crashPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "passkiosk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.PutUser(store.User{ID: []byte("alice"), Name: "alice", DisplayName: "Alice Moreau", State: store.UserActive}, store.Change{Actor: "test"})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
		// A failed run may leave a tmpfs workspace mounted.
		left, _ := filepath.Glob(filepath.Join(dir, "sessions", "*"))
		for _, ws := range left {
			syscall.Unmount(ws, syscall.MNT_DETACH)
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "in-session ") || strings.HasPrefix(s.Text(), "error ") {
				line <- s.Text()
				return
			}
		}
		line <- "error: the appliance exited"
	}()
	var survivor int
	select {
	case l := <-line:
		pid, err := strconv.Atoi(strings.TrimPrefix(l, "in-session "))
		if err != nil {
			t.Fatalf("appliance: %s", l)
		}
		survivor = pid
	case <-time.After(60 * time.Second):
		t.Fatal("the appliance never reached a session")
	}
	t.Cleanup(func() { syscall.Kill(survivor, syscall.SIGKILL) })
	workspaces, _ := filepath.Glob(filepath.Join(dir, "sessions", "*"))
	if len(workspaces) != 1 {
		t.Fatalf("workspaces %v", workspaces)
	}

	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	if !alive(survivor) {
		t.Fatalf("the session's setsid grandchild %d died with the appliance: nothing left to recover", survivor)
	}

	a, err := Start(context.Background(), testConfig(dir), Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if alive(survivor) {
		t.Errorf("the session's process %d outlived recovery", survivor)
	}
	if _, err := os.Stat(workspaces[0]); !os.IsNotExist(err) {
		t.Errorf("the workspace is still there: %v", err)
	}
	if err := waitView(a, func(v kiosk.View) bool { return v.State == kiosk.StateLocked }); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if _, err := a.db.ExportJSONL(&log, 0); err != nil {
		t.Fatal(err)
	}
	recovered := false
	for _, l := range strings.Split(log.String(), "\n") {
		var e struct {
			Type   string            `json:"type"`
			Detail map[string]string `json:"detail"`
		}
		if json.Unmarshal([]byte(l), &e) == nil && e.Detail["outcome"] == "recovered" {
			files, _ := strconv.Atoi(e.Detail["files"])
			procs, _ := strconv.Atoi(e.Detail["processes"])
			recovered = files >= 100 && procs >= 1
		}
	}
	if !recovered {
		t.Fatalf("no audited recovery wipe of ≥100 files and ≥1 process:\n%s", log.String())
	}
	if _, err := a.db.VerifyChain(); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	if iso := a.isolation(); iso.Sandbox != "none" || iso.Reason == "" || iso.Idle == nil {
		t.Fatalf("isolation for status: %+v", iso)
	}
}

// alive says whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// A database that cannot be used starts the appliance out of service,
// saying why, instead of crashing; nothing in the file is changed.
func TestCorruptDatabaseStartsOutOfService(t *testing.T) {
	dir := t.TempDir()
	junk := bytes.Repeat([]byte("not a database "), 4096)
	path := filepath.Join(dir, "passkiosk.db")
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir)
	cfg.PolicyFile = ""
	a, err := Start(context.Background(), cfg, Options{Log: quietLog()})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer a.Close()
	if err := waitView(a, func(v kiosk.View) bool { return v.State == kiosk.StateOutOfService }); err != nil {
		t.Fatal(err)
	}
	if v := a.eng.View(); !strings.Contains(v.OutOfService, "database") {
		t.Fatalf("out-of-service reason %q does not name the database", v.OutOfService)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, junk) {
		t.Fatal("the damaged file was changed")
	}
}

// A clean stop ends the session as a shutdown: the wipe is done, the
// journal record closed and the end audited once, with the person's ID
// (not their sign-in name). The next start finds nothing to recover.
func TestCleanStopThenStartIsNotARecovery(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	policy := "[default]\nprogram = [\"/bin/sh\", \"-c\", \"echo note > \\\"$HOME/n\\\"; exec sleep 3600\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "policy.toml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	const id, name = "a1b2c3", "alice"
	db, err := store.Open(filepath.Join(dir, "passkiosk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.PutUser(store.User{ID: []byte(id), Name: name, DisplayName: "Alice Moreau", State: store.UserActive}, store.Change{Actor: "test"})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	a, err := Start(context.Background(), testConfig(dir), Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	code, _, err := a.db.IssueEnrollmentCode([]byte(id), store.PurposeEnroll, time.Hour, store.Change{Actor: "test"})
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	if err := enrollPlatform(a, code, name, true); err != nil {
		a.Close()
		t.Fatal(err)
	}
	open, err := a.db.Sessions(true)
	if err != nil || len(open) != 1 || string(open[0].UserID) != id {
		a.Close()
		t.Fatalf("journal while signed in: %+v, %v; want one open session of user ID %q", open, err, id)
	}
	a.Close()

	a, err = Start(context.Background(), testConfig(dir), Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := waitView(a, func(v kiosk.View) bool { return v.State == kiosk.StateLocked }); err != nil {
		t.Fatal(err)
	}
	all, err := a.db.Sessions(false)
	if err != nil || len(all) != 1 {
		t.Fatalf("journal: %+v, %v", all, err)
	}
	if s := all[0]; s.EndedAt.IsZero() || s.Cause != kiosk.EndShutdown || !s.Wiped || string(s.UserID) != id {
		t.Fatalf("journal record after a clean stop: %+v", s)
	}
	evs, err := a.db.Events(0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	ends := 0
	for _, e := range evs {
		if e.Type == kiosk.EventSessionEnded {
			ends++
			if e.Cause != kiosk.EndShutdown || string(e.UserID) != id {
				t.Errorf("session end audited as %+v", e)
			}
		}
		if e.Type == kiosk.EventWipe && e.Detail["outcome"] == "recovered" {
			t.Errorf("the start after a clean stop recovered a session: %+v", e)
		}
	}
	if ends != 1 {
		t.Errorf("%d session ends audited, want 1", ends)
	}
	if _, err := a.db.VerifyChain(); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
}

// A sandbox that falls back is audited at start and makes the health
// degraded; one that is required and does not work keeps the terminal out
// of service. No bubblewrap here: PATH leads nowhere.
func TestSandboxFallbackIsAuditedAndRequiredKeepsTheTerminalOut(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is the service manager here; auto would take a systemd scope")
	}
	t.Setenv("PATH", t.TempDir())
	t.Run("auto", func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.PolicyFile = ""
		cfg.Session.Sandbox = "auto"
		a, err := Start(context.Background(), cfg, Options{Log: quietLog()})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		defer a.Close()
		if err := waitView(a, func(v kiosk.View) bool { return v.State == kiosk.StateLocked }); err != nil {
			t.Fatal(err)
		}
		evs, err := a.db.Events(1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var found *store.AuditEvent
		for i := range evs {
			if evs[i].Type == kiosk.EventSandboxFallback {
				found = &evs[i]
			}
		}
		if found == nil || found.Detail["sandbox"] != "none" || found.Detail["configured"] != "auto" || !strings.Contains(found.Detail["reason"], "without a sandbox") {
			t.Fatalf("fallback audited as %+v (of %d entries)", found, len(evs))
		}
		iso := a.isolation()
		if iso.Sandbox != "none" || iso.Fallback == "" {
			t.Fatalf("status isolation: %+v", iso)
		}
	})
	t.Run("required", func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.PolicyFile = ""
		cfg.Session.Sandbox = "required"
		a, err := Start(context.Background(), cfg, Options{Log: quietLog()})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		defer a.Close()
		if err := waitView(a, func(v kiosk.View) bool { return v.State == kiosk.StateOutOfService }); err != nil {
			t.Fatal(err)
		}
		if v := a.eng.View(); !strings.Contains(v.OutOfService, "required") {
			t.Fatalf("out-of-service reason %q does not say the sandbox is required", v.OutOfService)
		}
	})
}
