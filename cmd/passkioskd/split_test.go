package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/uilink"
	"passkiosk/store"
)

// The window in these tests is this test binary run again as a child
// with windowEnv naming a walk: the real uilink client in a process of
// its own, without Fyne, driven by a script instead of a person.
const (
	windowEnv = "PASSKIOSKD_TEST_WINDOW"
	socketEnv = "PASSKIOSKD_TEST_SOCKET"
	codeEnv   = "PASSKIOSKD_TEST_CODE"
)

func TestMain(m *testing.M) {
	store.ServeCheck()
	if walk := os.Getenv(windowEnv); walk != "" {
		os.Exit(windowChild(walk))
	}
	os.Exit(m.Run())
}

const testPIN = "135790"

// windowChild connects to the daemon and walks; it prints "first …" for
// the first View it is shown and one line per milestone.
func windowChild(walk string) int {
	views := make(chan kiosk.View, 64)
	c := uilink.NewClient(uilink.ClientOptions{Dial: uilink.DialSocket(os.Getenv(socketEnv)),
		Show: func(v kiosk.View) { views <- v }, MinBackoff: 20 * time.Millisecond})
	go c.Run(context.Background())
	fail := func(f string, args ...any) int { fmt.Printf("error "+f+"\n", args...); return 1 }
	var last kiosk.View
	wait := func(what string, ok func(kiosk.View) bool) bool {
		deadline := time.After(30 * time.Second)
		for {
			select {
			case last = <-views:
				if ok(last) {
					return true
				}
			case <-deadline:
				fmt.Printf("error waiting for %s: at state %v prompt %v notice %+v\n", what, last.State, last.Prompt, last.Notice)
				return false
			}
		}
	}
	first := <-views
	who := ""
	if first.Session != nil {
		who = strings.ReplaceAll(first.Session.DisplayName, " ", "_")
	}
	fmt.Printf("first state=%v prompt=%v session=%s at=%d\n", first.State, first.Prompt, who, time.Now().UnixNano())
	prompt := func(p kiosk.Prompt) func(kiosk.View) bool { return func(v kiosk.View) bool { return v.Prompt == p } }
	views <- first
	switch walk {
	case "enroll-then-pin":
		if !wait("the lock screen", prompt(kiosk.PromptTouchOrChoose)) {
			return 1
		}
		c.StartEnrollment(os.Getenv(codeEnv))
		if !wait("the new PIN", prompt(kiosk.PromptNewPIN)) {
			return 1
		}
		c.EnterPIN([]byte(testPIN))
		if !wait("registered", prompt(kiosk.PromptEnrollDone)) {
			return 1
		}
		c.Cancel()
		if !wait("the lock screen", prompt(kiosk.PromptTouchOrChoose)) {
			return 1
		}
		c.TypeUserName("alice")
		if !wait("the PIN pad", prompt(kiosk.PromptPIN)) {
			return 1
		}
		// The person is typing their PIN when the window dies.
		fmt.Println("at-pin")
	case "pin":
		if !wait("the PIN pad", prompt(kiosk.PromptPIN)) {
			return 1
		}
		c.EnterPIN([]byte(testPIN))
		if !wait("the session", prompt(kiosk.PromptSession)) {
			return 1
		}
		fmt.Println("in-session")
	case "sign-out":
		if !wait("the session", prompt(kiosk.PromptSession)) {
			return 1
		}
		c.SignOut()
		if !wait("the lock screen", func(v kiosk.View) bool { return v.State == kiosk.StateLocked && v.Prompt == kiosk.PromptTouchOrChoose }) {
			return 1
		}
		fmt.Println("locked")
		return 0
	default:
		return fail("unknown walk %q", walk)
	}
	select {} // until killed
}

// window is a running window child and its lines.
type window struct {
	cmd   *exec.Cmd
	lines chan string
}

func startWindow(t *testing.T, sock, walk string, env ...string) *window {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), windowEnv+"="+walk, socketEnv+"="+sock)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &window{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			w.lines <- s.Text()
		}
		close(w.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return w
}

// expect waits for a line starting with prefix.
func (w *window) expect(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("window ended before %q", prefix)
			}
			if strings.HasPrefix(l, "error") {
				t.Fatalf("window: %s", l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q from the window", prefix)
		}
	}
}

func buildTo(t *testing.T, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

const splitPolicy = `[default]
program = ["/bin/sh", "-c", "echo $$ > \"$HOME/program.pid\"; exec sleep 3600"]
`

// The real daemon and window processes: a window killed while the person
// types their PIN, the daemon unmoved; the next window is shown the
// current View (the PIN pad) and signs in; that window killed too, the
// session keeps running; a third window is shown the session and signs
// out, which ends the session program.
func TestWindowDiesDaemonAndSessionLiveOn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the daemon runs sessions as nobody: needs root")
	}
	dir, err := os.MkdirTemp("/tmp", "passkioskd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o711) // the session account reaches its workspace
	daemonBin := buildTo(t, dir, "passkiosk/cmd/passkioskd")
	ctlBin := buildTo(t, dir, "passkiosk/cmd/passkioskctl")
	state := filepath.Join(dir, "state")
	sock := filepath.Join(dir, "ui.sock")
	adminSock := filepath.Join(dir, "admin.sock")
	cfg := fmt.Sprintf(`terminal = "Split bay"
state_dir = %q
policy_file = %q
[tpm]
transport = "simulator"
[security_keys]
enabled = false
[session]
sandbox = "none"
user = "nobody"
dedicated_user = false
[admin]
socket = %q
group = "root"
[ui]
socket = %q
user = "nobody"
[display]
wayland_socket = ""
`, state, filepath.Join(dir, "policy.toml"), adminSock, sock)
	for name, text := range map[string]string{"passkiosk.toml": cfg, "policy.toml": splitPolicy} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logFile, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command(daemonBin, "--config", filepath.Join(dir, "passkiosk.toml"))
	daemon.Stdout, daemon.Stderr = logFile, logFile
	started := time.Now()
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("daemon log:\n%s", b)
		}
	})

	// The first window dials while the daemon starts.
	w1 := startWindow(t, sock, "enroll-then-pin", codeEnv+"=")
	first := w1.expect(t, "first")
	at, _ := strconv.ParseInt(first[strings.LastIndex(first, "=")+1:], 10, 64)
	t.Logf("daemon start to the first View in the window: %v", time.Unix(0, at).Sub(started).Round(time.Millisecond))
	// Its walk needs a code: the window above waits at the lock screen;
	// start the walk in a second window with the code (it replaces the
	// first, which goes back to dialling and is killed).
	ctl := func(args ...string) string {
		cmd := exec.Command(ctlBin, args...)
		cmd.Env = append(os.Environ(), "PASSKIOSK_SOCKET="+adminSock)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("passkioskctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	ctl("users", "add", "alice", "--display-name", "Alice Moreau")
	code := strings.TrimSpace(strings.SplitN(ctl("codes", "issue", "alice"), "\n", 2)[0])
	w1.cmd.Process.Kill()
	w1.cmd.Wait()

	w1 = startWindow(t, sock, "enroll-then-pin", codeEnv+"="+code)
	w1.expect(t, "at-pin")
	w1.cmd.Process.Kill() // mid-PIN-entry
	w1.cmd.Wait()
	if err := daemon.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the daemon died with its window: %v", err)
	}

	w2 := startWindow(t, sock, "pin")
	if l := w2.expect(t, "first"); !strings.Contains(l, "prompt=pin") {
		t.Fatalf("the reconnected window was shown %q, not the PIN pad the daemon is at", l)
	}
	w2.expect(t, "in-session")
	pid := sessionProgram(t, state)
	t.Logf("daemon RSS in a session: %d KiB", rssKiB(daemon.Process.Pid))
	w2.cmd.Process.Kill() // the window crashes during the session
	w2.cmd.Wait()
	time.Sleep(2 * time.Second)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the session program %d ended with the window: %v", pid, err)
	}

	w3 := startWindow(t, sock, "sign-out")
	if l := w3.expect(t, "first"); !strings.Contains(l, "session=Alice_Moreau") {
		t.Fatalf("the reconnected window was shown %q, not alice's session", l)
	}
	w3.expect(t, "locked")
	for guard := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(guard) {
			t.Fatalf("session program %d still runs after sign-out", pid)
		}
	}
	b, _ := os.ReadFile(logFile.Name())
	if n := strings.Count(string(b), "window connected"); n < 4 {
		t.Errorf("the daemon logged %d window connections, want 4 or more", n)
	}
}

// sessionProgram is the pid the session program wrote in its workspace.
func sessionProgram(t *testing.T, state string) int {
	t.Helper()
	for guard := time.Now().Add(20 * time.Second); time.Now().Before(guard); time.Sleep(20 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(state, "sessions", "*", "program.pid"))
		if len(files) == 1 {
			if b, err := os.ReadFile(files[0]); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					return pid
				}
			}
		}
	}
	t.Fatal("the session program never wrote its pid")
	return 0
}

// rssKiB is a process's resident set (VmRSS).
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return -1
}
