package session_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/session"
	"passkiosk/kiosk/session/sessiontest"
)

// TestEndLeavesNoProcessAndNoFile runs the workload as real processes in
// each sandbox and checks, with the test's own /proc scan, that End leaves
// no process and no file, and that the report's counts are exact.
func TestEndLeavesNoProcessAndNoFile(t *testing.T) {
	cases := []struct {
		name      string
		sandbox   session.Sandbox
		uid       uint32
		escape    bool // also start a process that clears its env and leaves the workspace
		dedicated bool
		noTmpfs   bool
	}{
		{name: "bubblewrap", sandbox: session.SandboxBubblewrap, uid: testUID, escape: true},
		{name: "bubblewrap/nobody", sandbox: session.SandboxBubblewrap, uid: nobodyUID},
		{name: "bubblewrap/disk", sandbox: session.SandboxBubblewrap, uid: testUID, escape: true, noTmpfs: true},
		{name: "plain", sandbox: session.SandboxNone, uid: testUID},
		{name: "plain/nobody", sandbox: session.SandboxNone, uid: nobodyUID},
		{name: "plain/disk", sandbox: session.SandboxNone, uid: testUID, noTmpfs: true},
		{name: "plain/dedicated-uid", sandbox: session.SandboxNone, uid: testUID, escape: true, dedicated: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, j := newManager(t, tc.sandbox, tc.uid, func(c *session.Config) {
				c.DedicatedUID, c.NoTmpfs = tc.dedicated, tc.noTmpfs
			})
			s := startWaitReady(t, m, session.Spec{User: "alice", Program: workload(tc.escape)})
			marker := "PASSKIOSK_SESSION=" + s.ID

			fi, err := os.Stat(s.Workspace)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o700 || st.Uid != tc.uid || st.Gid != tc.uid {
				t.Errorf("workspace mode %v owner %d:%d, want 0700 %d:%d", fi.Mode().Perm(), st.Uid, st.Gid, tc.uid, tc.uid)
			}
			fstype, mounted := mountedAt(s.Workspace)
			if want := !tc.noTmpfs; mounted != want || (mounted && fstype != "tmpfs") {
				t.Errorf("workspace mounted=%v (%s), want tmpfs=%v", mounted, fstype, want)
			}

			// The test's own census: by uid where the uid is private to
			// the test, by marker for the shared nobody account.
			census := func() []liveProc { return procsWithEnv(marker) }
			if tc.uid == testUID {
				census = func() []liveProc { return procsOfUID(testUID) }
			}
			want := 4 // sh, sleep, setsid'd sleep, SIGTERM-ignoring sh (and its sleep)
			if tc.escape {
				want++
			}
			before := waitProcs(t, want, census)

			r, err := s.End(kiosk.EndLogout)
			if err != nil {
				t.Fatalf("End: %v (report %+v)", err, r)
			}
			if left := stillAlive(before); len(left) > 0 {
				t.Errorf("processes survived End: %v", left)
			}
			if left := census(); len(left) > 0 {
				t.Errorf("session processes after End: %v", left)
			}
			if r.Remaining != 0 || r.Terminated == 0 {
				t.Errorf("report: terminated %d, remaining %d", r.Terminated, r.Remaining)
			}
			if tc.sandbox == session.SandboxNone && r.Killed < 1 {
				// Only SIGKILL ends the SIGTERM-ignoring shell. (Under
				// bubblewrap the namespace's end does it.)
				t.Errorf("report: killed %d, want at least 1", r.Killed)
			}
			dirs := workloadDirs
			if tc.sandbox == session.SandboxBubblewrap {
				dirs++ // the sandbox's /dev/shm
			}
			if r.Files != workloadFiles || r.Dirs != dirs || r.Bytes != workloadBytes() {
				t.Errorf("report counted %d files, %d dirs, %d bytes; want %d, %d, %d",
					r.Files, r.Dirs, r.Bytes, workloadFiles, dirs, workloadBytes())
			}
			if !r.WorkspaceGone || r.Tmpfs == tc.noTmpfs || !r.Clean() {
				t.Errorf("report: gone %v tmpfs %v clean %v", r.WorkspaceGone, r.Tmpfs, r.Clean())
			}
			assertGone(t, s.Workspace)
			if got, ok := j.Closed(s.ID); !ok || got.Cause != kiosk.EndLogout || got.Files != r.Files {
				t.Errorf("journal closed with %+v (%v)", got, ok)
			}
			if p, _ := j.Pending(); len(p) != 0 {
				t.Errorf("journal still holds %v", p)
			}
			again, err2 := s.End(kiosk.EndAdmin)
			if err2 != nil || again.Cause != kiosk.EndLogout {
				t.Errorf("second End = %+v, %v; want the first result", again.Cause, err2)
			}
		})
	}
}

// TestPlainModeWithSharedUIDCannotSeeEnvClearingEscape pins the documented
// limit of the plain sandbox: a process that clears its environment,
// leaves the workspace and calls setsid is invisible without a PID
// namespace or a dedicated uid. The test finds it by uid and kills it.
func TestPlainModeWithSharedUIDCannotSeeEnvClearingEscape(t *testing.T) {
	m, _ := newManager(t, session.SandboxNone, testUID, nil)
	s := startWaitReady(t, m, session.Spec{User: "mallory", Program: workload(true)})
	waitProcs(t, 5, func() []liveProc { return procsOfUID(testUID) })
	r, err := s.End(kiosk.EndLogout)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	left := procsOfUID(testUID)
	for _, p := range left {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
	if len(left) != 1 || left[0].comm != "sleep" {
		t.Fatalf("want exactly the escaped sleep left, got %v (report %+v)", left, r)
	}
}

func TestDedicatedUIDOffSparesStrangersOfTheSameUID(t *testing.T) {
	m, _ := newManager(t, session.SandboxNone, testUID, nil)
	stranger := exec.Command("/bin/sleep", "300")
	stranger.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: testUID, Gid: testUID}}
	stranger.Dir = "/"
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stranger.Process.Kill(); stranger.Wait() }()
	s, err := m.Start(t.Context(), session.Spec{User: "bob", Program: []string{"/bin/sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.End(kiosk.EndLogout); err != nil {
		t.Fatal(err)
	}
	if err := stranger.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a process outside the session was killed: %v", err)
	}
}

func TestEnvironmentIsScrubbed(t *testing.T) {
	t.Setenv("PASSKIOSK_TEST_SECRET", "hunter2")
	t.Setenv("LANG", "en_GB.UTF-8")
	for _, sb := range []session.Sandbox{session.SandboxBubblewrap, session.SandboxNone} {
		t.Run(sb.String(), func(t *testing.T) {
			m, _ := newManager(t, sb, testUID, nil)
			r, w, _ := os.Pipe()
			defer r.Close()
			s, err := m.Start(t.Context(), session.Spec{User: "c4r0l", Name: "carol",
				Program: []string{"/bin/sh", "-c", `env; echo "pwd=$(pwd)"; touch "$TMPDIR/x" && echo tmpdir-writable`},
				Env:     []string{"BROWSER_URL=https://intranet.example"}, Stdout: w})
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
			got := map[string]string{}
			for _, line := range strings.Split(out, "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					got[k] = v
				}
			}
			if _, leaked := got["PASSKIOSK_TEST_SECRET"]; leaked {
				t.Errorf("appliance environment leaked into the session:\n%s", out)
			}
			if got["HOME"] != s.Home || got["pwd"] != s.Home || got["PASSKIOSK_SESSION"] != s.ID ||
				got["PASSKIOSK_USER"] != "carol" || got["PASSKIOSK_USER_ID"] != "c4r0l" || got["LANG"] != "en_GB.UTF-8" ||
				got["BROWSER_URL"] != "https://intranet.example" || !strings.Contains(out, "tmpdir-writable") {
				t.Errorf("session environment wrong (home %s):\n%s", s.Home, out)
			}
			if !strings.HasPrefix(got["TMPDIR"], s.Home) && got["TMPDIR"] != "/tmp" {
				t.Errorf("TMPDIR %q not in the workspace", got["TMPDIR"])
			}
		})
	}
}

func readAll(f *os.File) (string, error) {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), err
		}
	}
}

// A session ended for its time limit is journaled with that cause and
// the clock's times.
func TestTimeLimitEndIsJournaled(t *testing.T) {
	start := time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)
	clock := kiosktest.NewClock(start)
	m, j := newManager(t, session.SandboxNone, testUID, func(c *session.Config) { c.Clock = clock })
	s, err := m.Start(t.Context(), session.Spec{User: "dave", Program: []string{"/bin/sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	select {
	case <-s.Exited():
		t.Fatal("the program exited by itself")
	default:
	}
	r, err := s.End(kiosk.EndTimeLimit)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Started.Equal(start) || r.Ended.Sub(r.Started) != time.Hour || r.ExitCode != -1 {
		t.Errorf("report times %v..%v exit %d", r.Started, r.Ended, r.ExitCode)
	}
	if got, _ := j.Closed(s.ID); got.Cause != kiosk.EndTimeLimit {
		t.Errorf("journal cause %v", got.Cause)
	}
}

// waitExit waits (bounded) for the session program to exit.
func waitExit(t *testing.T, s *session.Session) {
	t.Helper()
	select {
	case <-s.Exited():
	case <-time.After(20 * time.Second):
		t.Fatal("session program did not exit")
	}
}

func TestProgramExitIsReportedWithItsCode(t *testing.T) {
	for _, sb := range []session.Sandbox{session.SandboxBubblewrap, session.SandboxNone} {
		t.Run(sb.String(), func(t *testing.T) {
			m, _ := newManager(t, sb, testUID, nil)
			s, err := m.Start(t.Context(), session.Spec{User: "erin", Program: []string{"/bin/sh", "-c", "exit 3"}})
			if err != nil {
				t.Fatal(err)
			}
			waitExit(t, s)
			r, err := s.End(kiosk.EndFailed)
			if err != nil || r.ExitCode != 3 {
				t.Fatalf("End = exit %d, %v", r.ExitCode, err)
			}
		})
	}
}

func TestBadInputIsRefusedWithAKind(t *testing.T) {
	m, _ := newManager(t, session.SandboxNone, testUID, nil)
	for name, spec := range map[string]session.Spec{
		"no program":       {User: "x"},
		"relative program": {User: "x", Program: []string{"sh"}},
		"reserved env":     {User: "x", Program: []string{"/bin/true"}, Env: []string{"HOME=/root"}},
		"marker env":       {User: "x", Program: []string{"/bin/true"}, Env: []string{"PASSKIOSK_SESSION=x"}},
		"env without =":    {User: "x", Program: []string{"/bin/true"}, Env: []string{"FOO"}},
		"newline in user":  {User: "x\ny", Program: []string{"/bin/true"}},
	} {
		if _, err := m.Start(t.Context(), spec); !errors.Is(err, kiosk.ErrMalformed) {
			t.Errorf("%s: err = %v, want kind malformed", name, err)
		}
	}
	if _, err := session.New(session.Config{StateRoot: "relative", Journal: sessiontest.NewMemJournal()}); !errors.Is(err, kiosk.ErrMalformed) {
		t.Errorf("relative state root: %v", err)
	}
	if _, err := session.New(session.Config{StateRoot: t.TempDir()}); !errors.Is(err, kiosk.ErrMalformed) {
		t.Errorf("no journal: %v", err)
	}
	if _, err := session.New(session.Config{StateRoot: t.TempDir(), Journal: sessiontest.NewMemJournal()}); !errors.Is(err, kiosk.ErrPolicy) {
		t.Errorf("session as root: %v", err)
	}
	hidden := t.TempDir()
	if err := os.Chmod(hidden, 0o700); err != nil { // uid 61234 cannot search it
		t.Fatal(err)
	}
	if _, err := session.New(session.Config{StateRoot: hidden, UID: testUID, GID: testUID, Journal: sessiontest.NewMemJournal()}); !errors.Is(err, kiosk.ErrPolicy) || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("unreachable state root: %v", err)
	}
	if _, err := session.ParseSandbox("docker"); !errors.Is(err, kiosk.ErrMalformed) {
		t.Errorf("ParseSandbox: %v", err)
	}
	for _, w := range []string{"auto", "bubblewrap", "systemd-run", "none"} {
		if sb, err := session.ParseSandbox(w); err != nil || sb.String() != w {
			t.Errorf("ParseSandbox(%q) = %v, %v", w, sb, err)
		}
	}
}

// On this machine systemd is not PID 1, so asking for systemd-run must
// fail loudly and auto must not pick it.
func TestSandboxDetection(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is the service manager here; this test is about machines without it")
	}
	_, err := session.New(session.Config{StateRoot: stateRoot(t), UID: testUID, GID: testUID, Sandbox: session.SandboxSystemdRun, Journal: sessiontest.NewMemJournal()})
	if !errors.Is(err, kiosk.ErrPolicy) || !strings.Contains(err.Error(), "systemd") {
		t.Errorf("systemd-run without systemd: %v", err)
	}
	m, _ := newManager(t, session.SandboxAuto, testUID, nil)
	if sb, why := m.Sandbox(); sb != session.SandboxBubblewrap || why == "" {
		t.Errorf("auto picked %v (%s), want bubblewrap", sb, why)
	}
}

func TestFailedStartLeavesNothing(t *testing.T) {
	m, j := newManager(t, session.SandboxNone, testUID, nil)
	_, err := m.Start(t.Context(), session.Spec{User: "frank", Program: []string{"/nonexistent/program"}})
	if err == nil {
		t.Fatal("Start of a missing program succeeded")
	}
	if p, _ := j.Pending(); len(p) != 0 {
		t.Errorf("journal still open: %v", p)
	}
	ents, _ := os.ReadDir(m.StateRoot() + "/sessions")
	if len(ents) != 0 {
		t.Errorf("workspace left after a failed start: %v", ents)
	}
}

func TestJournalFailureStopsStartBeforeAnythingExists(t *testing.T) {
	m, j := newManager(t, session.SandboxNone, testUID, nil)
	j.OpenErr = errors.New("disk full")
	if _, err := m.Start(t.Context(), session.Spec{User: "gina", Program: []string{"/bin/true"}}); err == nil {
		t.Fatal("Start without a journal record succeeded")
	}
	if ents, _ := os.ReadDir(m.StateRoot() + "/sessions"); len(ents) != 0 {
		t.Errorf("workspace created without a journal record: %v", ents)
	}
}

func TestClipboardHookRunsAfterProcessesAreGone(t *testing.T) {
	var marker string
	var alive []liveProc
	calls := 0
	m, _ := newManager(t, session.SandboxNone, testUID, func(c *session.Config) {
		c.ClearClipboard = func(context.Context) error {
			calls++
			alive = procsWithEnv(marker)
			return nil
		}
	})
	s, err := m.Start(t.Context(), session.Spec{User: "hank", Program: []string{"/bin/sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	marker = "PASSKIOSK_SESSION=" + s.ID
	r, err := s.End(kiosk.EndKeyRemoved)
	if err != nil || !r.ClipboardCleared || calls != 1 || len(alive) != 0 {
		t.Errorf("End = %v; cleared %v, calls %d, alive at hook %v", err, r.ClipboardCleared, calls, alive)
	}
}

func TestWorkspacesAreNeverReused(t *testing.T) {
	m, _ := newManager(t, session.SandboxNone, testUID, nil)
	seen := map[string]bool{}
	for range 3 {
		s, err := m.Start(t.Context(), session.Spec{User: "ivy", Program: []string{"/bin/sleep", "300"}})
		if err != nil {
			t.Fatal(err)
		}
		if seen[s.Workspace] || seen[s.ID] {
			t.Fatalf("workspace %s reused", s.Workspace)
		}
		seen[s.Workspace], seen[s.ID] = true, true
	}
	reports, err := m.EndAll(kiosk.EndShutdown)
	if err != nil || len(reports) != 3 {
		t.Fatalf("EndAll = %d reports, %v", len(reports), err)
	}
	for _, r := range reports {
		assertGone(t, seen2path(m, r.ID))
	}
}

func seen2path(m *session.Manager, id string) string { return m.StateRoot() + "/sessions/" + id }

// Under bubblewrap the program sees only its own processes, cannot write
// outside its workspace, and does not see the state root.
func TestBubblewrapConfinesTheProgram(t *testing.T) {
	m, _ := newManager(t, session.SandboxBubblewrap, testUID, nil)
	other, err := m.Start(t.Context(), session.Spec{User: "neighbour", Program: []string{"/bin/sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.End(kiosk.EndLogout)
	r, w, _ := os.Pipe()
	defer r.Close()
	script := `
n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo "procs=$n"
touch /usr/x 2>/dev/null && echo usr-writable
touch /etc/x 2>/dev/null && echo etc-writable
[ -e "` + other.Workspace + `" ] && echo sees-other-workspace
[ -e "` + m.StateRoot() + `" ] && echo sees-state-root
echo "uid=$(id -u)"
touch /x 2>/dev/null && echo root-writable
mkdir /var 2>/dev/null && echo var-writable
echo secret > /dev/shm/segment && echo shm-ok
`
	s, err := m.Start(t.Context(), session.Spec{User: "judy", Program: []string{"/bin/sh", "-c", script}, Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, s)
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, _ := readAll(r)
	rep, err := s.End(kiosk.EndFailed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "shm-ok") || rep.Files != 1 || rep.Bytes != 7 {
		t.Errorf("/dev/shm not writable or not wiped with the workspace: %+v\n%s", rep, out)
	}
	// bwrap's init, the shell, and the shell's own subshell at most.
	if !strings.Contains(out, "uid=61234") || strings.Contains(out, "writable") || strings.Contains(out, "sees-") {
		t.Errorf("sandbox output:\n%s", out)
	}
	var n int
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "procs="); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	if n < 1 || n > 3 {
		t.Errorf("the program sees %d processes, want only its own namespace's:\n%s", n, out)
	}
}

func TestStuckClipboardHookDoesNotBlockEnd(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	m, j := newManager(t, session.SandboxNone, testUID, func(c *session.Config) {
		c.KillTimeout = 500 * time.Millisecond
		c.ClearClipboard = func(context.Context) error { <-release; return nil }
	})
	s, err := m.Start(t.Context(), session.Spec{User: "kim", Program: []string{"/bin/sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.End(kiosk.EndLogout)
	if !errors.Is(err, kiosk.ErrTimeout) || r.ClipboardCleared || !r.WorkspaceGone {
		t.Fatalf("End = %+v, %v; want a timeout error and the workspace still wiped", r, err)
	}
	if p, _ := j.Pending(); len(p) != 1 {
		t.Errorf("an incomplete end closed the journal record: %v", p)
	}
}

// Hundreds of processes that each left the process group, and a loop
// still forking while End runs: the stop-then-kill rounds must still
// converge to none.
func TestEndStopsAForkingCrowd(t *testing.T) {
	for _, sb := range []session.Sandbox{session.SandboxBubblewrap, session.SandboxNone} {
		t.Run(sb.String(), func(t *testing.T) {
			m, _ := newManager(t, sb, testUID, nil)
			script := `
(while :; do setsid sleep 200 & sleep 0.005; done) &
i=0; while [ $i -lt 300 ]; do setsid sleep 100 & i=$((i+1)); done
echo ready; wait`
			s := startWaitReady(t, m, session.Spec{User: "lee", Program: []string{"/bin/sh", "-c", script}})
			before := waitProcs(t, 300, func() []liveProc { return procsOfUID(testUID) })
			r, err := s.End(kiosk.EndAdmin)
			if err != nil {
				t.Fatalf("End: %v", err)
			}
			if left := procsOfUID(testUID); len(left) > 0 {
				t.Errorf("%d processes left, e.g. %v", len(left), left[0])
			}
			if r.Remaining != 0 || r.Processes < 300 && sb == session.SandboxNone {
				t.Errorf("report: %d stopped, %d remaining (test saw %d)", r.Processes, r.Remaining, len(before))
			}
		})
	}
}

// With a dedicated uid, End also removes what the session left in shared
// writable folders outside its workspace, however deep in world-writable
// folders; the workspace alone would not catch a file written to /tmp
// despite TMPDIR.
func TestDedicatedUIDSweepsSharedFolders(t *testing.T) {
	ww, err := os.MkdirTemp("/tmp", "passkiosk-world-writable-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(ww)
	if err := os.Chmod(ww, 0o1777); err != nil {
		t.Fatal(err)
	}
	for _, dedicated := range []bool{true, false} {
		t.Run(fmt.Sprintf("dedicated=%v", dedicated), func(t *testing.T) {
			m, _ := newManager(t, session.SandboxNone, testUID, func(c *session.Config) { c.DedicatedUID = dedicated })
			script := `id=$PASSKIOSK_SESSION
echo 12345 > /tmp/leak-$id
mkdir /var/tmp/leakdir-$id && echo 123 > /var/tmp/leakdir-$id/f
echo 1 > /dev/shm/leak-$id
echo 12 > ` + ww + `/nested-$id`
			s, err := m.Start(t.Context(), session.Spec{User: "mo", Program: []string{"/bin/sh", "-c", script}})
			if err != nil {
				t.Fatal(err)
			}
			waitExit(t, s)
			leaks := []string{"/tmp/leak-" + s.ID, "/var/tmp/leakdir-" + s.ID, "/dev/shm/leak-" + s.ID, ww + "/nested-" + s.ID}
			defer func() {
				for _, l := range leaks {
					os.RemoveAll(l)
				}
			}()
			r, err := s.End(kiosk.EndLogout)
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, l := range leaks {
				if _, err := os.Lstat(l); err == nil {
					left = append(left, l)
				}
			}
			if dedicated && (len(left) > 0 || r.OutsideFiles != 5 || r.OutsideBytes != 6+4+2+3) {
				t.Errorf("left %v; report outside %d files, %d bytes; want 5 and 15", left, r.OutsideFiles, r.OutsideBytes)
			}
			if !dedicated && (len(left) != len(leaks) || r.OutsideFiles != 0) {
				// A shared uid's files in /tmp cannot be told apart:
				// nothing outside the workspace is touched.
				t.Errorf("shared uid: left %v, outside %d", left, r.OutsideFiles)
			}
		})
	}
}
