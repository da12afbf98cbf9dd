package session_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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
	"passkiosk/kiosk/session"
	"passkiosk/kiosk/session/sessiontest"
)

// The crash-recovery test re-runs this test binary as "the appliance":
// with crashChildEnv set, TestMain starts one session and then waits to be
// killed.
const crashChildEnv = "PASSKIOSK_SESSION_TEST_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	if os.Getenv(unprivilegedChildEnv) != "" {
		os.Exit(unprivilegedChild())
	}
	if os.Getenv(x11TamperEnv) != "" {
		os.Exit(x11Tamper())
	}
	os.Exit(m.Run())
}

// crashChild starts a session with a file journal and prints its id; the
// program's own "ready" comes on the same stdout. Then it blocks until
// SIGKILL.
func crashChild() int {
	sb, _ := strconv.Atoi(os.Getenv("CRASH_SANDBOX"))
	m, err := session.New(session.Config{
		StateRoot: os.Getenv("CRASH_STATE"), Sandbox: session.Sandbox(sb),
		UID: testUID, GID: testUID, Journal: sessiontest.FileJournal{Dir: os.Getenv("CRASH_JOURNAL")},
		DedicatedUID: os.Getenv("CRASH_DEDICATED") != "",
		X11Display:   os.Getenv("CRASH_X11_DISPLAY"), X11Authority: os.Getenv("CRASH_X11_AUTH"),
	})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	s, err := m.Start(context.Background(), session.Spec{User: "crash", Program: workload(os.Getenv("CRASH_ESCAPE") != ""), Stdout: os.Stdout})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("started", s.ID)
	select {}
}

func TestRecoverAfterApplianceIsKilledMidSession(t *testing.T) {
	cases := []struct {
		name      string
		sb        session.Sandbox
		escape    bool
		dedicated bool
	}{
		{"bubblewrap", session.SandboxBubblewrap, true, false},
		{"plain", session.SandboxNone, false, false},
		// The record carries the dedicated-uid promise; the recovering
		// manager is configured without it.
		{"plain/dedicated-uid", session.SandboxNone, true, true},
	}
	for _, tc := range cases {
		sb := tc.sb
		t.Run(tc.name, func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("needs root")
			}
			reapTestUID(t)
			state, jdir := stateRoot(t), t.TempDir()
			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), crashChildEnv+"=1", "CRASH_STATE="+state,
				"CRASH_JOURNAL="+jdir, "CRASH_SANDBOX="+strconv.Itoa(int(sb)))
			if tc.escape {
				child.Env = append(child.Env, "CRASH_ESCAPE=1")
			}
			if tc.dedicated {
				child.Env = append(child.Env, "CRASH_DEDICATED=1")
			}
			out, err := child.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			id := waitStartedAndReady(t, out)
			ws := filepath.Join(state, "sessions", id)
			want := 4
			if tc.escape {
				want++
			}
			waitProcs(t, want, func() []liveProc { return procsOfUID(testUID) })

			// The crash: SIGKILL, no chance to clean up.
			child.Process.Kill()
			child.Wait()

			if _, ok := mountedAt(ws); !ok {
				t.Fatalf("workspace %s not mounted after the crash: the test would prove nothing", ws)
			}
			if sb == session.SandboxNone {
				// Without a PID namespace the grandchildren outlive the
				// appliance: that is what Recover is for.
				if left := procsOfUID(testUID); len(left) < 3 {
					t.Fatalf("want the orphaned grandchildren alive before Recover, got %v", left)
				}
			}

			j := sessiontest.FileJournal{Dir: jdir}
			m, err := session.New(session.Config{StateRoot: state, Sandbox: sb, UID: testUID, GID: testUID, Journal: j})
			if err != nil {
				t.Fatal(err)
			}
			reports, err := m.Recover()
			if err != nil {
				t.Fatalf("Recover: %v", err)
			}
			if len(reports) != 1 {
				t.Fatalf("Recover reported %d sessions, want 1: %+v", len(reports), reports)
			}
			r := reports[0]
			if r.ID != id || r.Cause != kiosk.EndRecovered || r.User != "crash" || !r.Clean() || !r.Tmpfs ||
				r.Files != workloadFiles || r.Bytes != workloadBytes() {
				t.Errorf("report %+v", r)
			}
			if sb == session.SandboxNone && r.Killed < 3 {
				t.Errorf("report: killed %d, want the orphaned grandchildren", r.Killed)
			}
			if left := procsOfUID(testUID); len(left) > 0 {
				t.Errorf("processes left after Recover: %v", left)
			}
			assertGone(t, ws)
			if p, err := j.Pending(); err != nil || len(p) != 0 {
				t.Errorf("journal pending after Recover: %v, %v", p, err)
			}
			if got, ok := j.Closed(id); !ok || got.Cause != kiosk.EndRecovered {
				t.Errorf("journal closed with %+v (%v)", got, ok)
			}
		})
	}
}

// waitStartedAndReady reads the child's stdout (bounded) until it has seen
// both the session id and the program's "ready".
func waitStartedAndReady(t *testing.T, out interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	type line struct {
		s   string
		err error
	}
	lines := make(chan line)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- line{s: sc.Text()}
		}
		lines <- line{err: errors.Join(sc.Err(), errors.New("child closed stdout"))}
	}()
	var id string
	ready := false
	timeout := time.After(20 * time.Second)
	for id == "" || !ready {
		select {
		case l := <-lines:
			switch {
			case l.err != nil:
				t.Fatal(l.err)
			case strings.HasPrefix(l.s, "started "):
				id = strings.TrimPrefix(l.s, "started ")
			case l.s == "ready":
				ready = true
			default:
				t.Fatalf("child: %s", l.s)
			}
		case <-timeout:
			t.Fatal("child did not start its session in time")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return id
}

// A workspace folder the journal does not know (a lost record) is still
// wiped, and a process sitting in it is found by its working directory.
func TestRecoverRemovesOrphanWorkspaces(t *testing.T) {
	m, _ := newManager(t, session.SandboxNone, testUID, nil)
	ws := filepath.Join(m.StateRoot(), "sessions", "0123456789abcdef0123456789abcdef")
	if err := os.MkdirAll(filepath.Join(ws, "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		os.WriteFile(filepath.Join(ws, "a", "b", strconv.Itoa(i)), []byte("x"), 0o600)
	}
	os.Chown(ws, testUID, testUID)
	squatter := exec.Command("/bin/sleep", "300") // clean environment, cwd in the workspace
	squatter.Env = []string{}
	squatter.Dir = ws
	squatter.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: testUID, Gid: testUID}}
	if err := squatter.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { squatter.Process.Kill(); squatter.Wait() }()

	reports, err := m.Recover()
	if err != nil || len(reports) != 1 {
		t.Fatalf("Recover = %+v, %v", reports, err)
	}
	if r := reports[0]; r.Killed != 1 || r.Files != 10 || r.Dirs != 2 || !r.Clean() {
		t.Errorf("report %+v", r)
	}
	if err := squatter.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("squatter: %v", err)
	}
	assertGone(t, ws)
}

// A journal record must never make Recover delete outside the state root.
func TestRecoverRefusesWorkspaceOutsideStateRoot(t *testing.T) {
	outside := t.TempDir()
	keep := filepath.Join(outside, "precious")
	os.WriteFile(keep, []byte("x"), 0o600)
	j := sessiontest.NewMemJournal()
	j.Open(session.Record{ID: "fedcba9876543210fedcba9876543210", Workspace: outside})
	j.Open(session.Record{ID: "00112233445566778899aabbccddeeff", Workspace: "/state/sessions/../../" + outside})
	m, err := session.New(session.Config{StateRoot: stateRoot(t), UID: testUID, GID: testUID, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Recover(); !errors.Is(err, kiosk.ErrMalformed) {
		t.Errorf("Recover = %v, want kind malformed", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("Recover deleted outside the state root: %v", err)
	}
	if p, _ := j.Pending(); len(p) != 2 {
		t.Errorf("refused records were closed: %v", p)
	}
}

// unprivilegedChildEnv makes TestMain run an appliance that is not root:
// sessions then run as the appliance's own uid in a plain folder.
const unprivilegedChildEnv = "PASSKIOSK_SESSION_TEST_UNPRIVILEGED_CHILD"

// unprivilegedChild starts and ends one session whose program leaves
// folders it cannot read or write, and prints the report as JSON.
func unprivilegedChild() int {
	sb, _ := strconv.Atoi(os.Getenv("CHILD_SANDBOX"))
	m, err := session.New(session.Config{StateRoot: os.Getenv("CHILD_STATE"), Sandbox: session.Sandbox(sb),
		Journal: sessiontest.NewMemJournal(), Grace: 200 * time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	script := `mkdir -p "$HOME/ro/sub" "$HOME/locked"; echo x > "$HOME/ro/sub/f"; echo y > "$HOME/locked/g"
chmod 500 "$HOME/ro" "$HOME/ro/sub"; chmod 000 "$HOME/locked"
setsid sh -c 'echo > "$HOME/up"; exec sleep 300' &
while [ ! -e "$HOME/up" ]; do sleep 0.01; done; echo ready; wait`
	r, w, _ := os.Pipe()
	s, err := m.Start(context.Background(), session.Spec{User: "u", Program: []string{"/bin/sh", "-c", script}, Stdout: w})
	w.Close()
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := readLine(r, "ready", 20*time.Second); err != nil {
		fmt.Println("error", err)
		return 1
	}
	rep, err := s.End(kiosk.EndLogout)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	b, _ := json.Marshal(rep)
	fmt.Println(string(b))
	return 0
}

func TestUnprivilegedApplianceEndsAndWipes(t *testing.T) {
	for _, sb := range []session.Sandbox{session.SandboxBubblewrap, session.SandboxNone} {
		t.Run(sb.String(), func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to drop to another uid for the child")
			}
			reapTestUID(t)
			state := stateRoot(t)
			if err := os.Chown(state, testUID, testUID); err != nil {
				t.Fatal(err)
			}
			// The test binary sits in a private build folder: give the
			// child uid a copy it can execute.
			bin := filepath.Join(stateRoot(t), "session.test")
			if data, err := os.ReadFile(os.Args[0]); err != nil || os.WriteFile(bin, data, 0o755) != nil {
				t.Fatalf("copy test binary: %v", err)
			}
			child := exec.Command(bin, "-test.run=^$")
			child.Env = append(os.Environ(), unprivilegedChildEnv+"=1", "CHILD_STATE="+state, "CHILD_SANDBOX="+strconv.Itoa(int(sb)))
			child.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: testUID, Gid: testUID}}
			child.Dir = "/"
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			out, err := childOutput(ctx, child)
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var r kiosk.WipeReport
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("child said %q", out)
			}
			dirs := 4 // ro, ro/sub, locked, tmp
			if sb == session.SandboxBubblewrap {
				dirs++ // .shm
			}
			if !r.Clean() || r.Tmpfs || r.Files != 3 || r.Dirs != dirs || r.Terminated == 0 {
				t.Errorf("report %+v", r)
			}
			if left := procsOfUID(testUID); len(left) > 0 {
				t.Errorf("processes left: %v", left)
			}
			if ents, _ := os.ReadDir(filepath.Join(state, "sessions")); len(ents) != 0 {
				t.Errorf("left in the state root: %v", ents)
			}
		})
	}
}

func childOutput(ctx context.Context, c *exec.Cmd) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args[1:]...)
	cmd.Env, cmd.SysProcAttr, cmd.Dir = c.Env, c.SysProcAttr, c.Dir
	return cmd.Output()
}
