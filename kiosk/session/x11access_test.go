package session_test

import (
	"context"
	"crypto/rand"
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

// x11Client connects to display as uid with no cookie, the way an X11
// session program does (xdpyinfo, from x11-utils), and reports whether
// the server let it in.
func x11Client(t *testing.T, display string, uid uint32) bool {
	t.Helper()
	xdpyinfo, err := exec.LookPath("xdpyinfo")
	if err != nil {
		t.Skip("xdpyinfo not installed (Debian package x11-utils)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, xdpyinfo, "-display", display)
	cmd.Env = []string{"HOME=/", "XAUTHORITY=/nonexistent", "PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(out), "unable to open display") {
		t.Fatalf("xdpyinfo as uid %d: %v\n%s", uid, err, out)
	}
	return false
}

// x11Manager runs sessions as the dedicated testUID, in a plain process
// group, on a fresh Xvfb that has access control on (no -ac) and a cookie
// only the appliance (root) can read.
func x11Manager(t *testing.T) (*session.Manager, string, string) {
	t.Helper()
	display, auth := x11Display(t)
	m, _ := newManager(t, session.SandboxNone, testUID, func(c *session.Config) {
		c.DedicatedUID = true
		c.X11Display, c.X11Authority = display, auth
	})
	if ok, why := m.X11(); !ok {
		t.Fatalf("sessions not admitted to the display: %s", why)
	}
	return m, display, auth
}

// x11Display starts an Xvfb with access control on and a cookie only
// root can read.
func x11Display(t *testing.T) (display, auth string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("session tests need root")
	}
	cookie := make([]byte, 16)
	rand.Read(cookie)
	return session.StartXvfb(t, cookie)
}

// The session uid is refused by the X server before the session, let in
// during it (its own program and any other client of the uid), and
// refused again after the wipe, which removed and counted the entry.
func TestX11SessionUIDAdmittedOnlyDuringTheSession(t *testing.T) {
	m, display, _ := x11Manager(t)
	if x11Client(t, display, testUID) {
		t.Fatal("the session uid reached the display before any session")
	}
	// The program itself opens the display, as an X11 program would.
	prog := []string{"/bin/sh", "-c", `xdpyinfo >/dev/null 2>&1 && echo ready || echo refused; exec sleep 300`}
	s := startWaitReady(t, m, session.Spec{User: "u-x11", Program: prog})
	if !x11Client(t, display, testUID) {
		s.End(kiosk.EndLogout)
		t.Fatal("a client of the session uid was refused during the session")
	}
	if x11Client(t, display, testUID+1) {
		t.Error("another uid reached the display during the session")
	}
	r, err := s.End(kiosk.EndLogout)
	if err != nil || !r.Clean() {
		t.Fatalf("End: %v, report %+v", err, r)
	}
	if r.X11Removed != 1 || r.X11Left != 0 {
		t.Errorf("X11 removed %d, left %d; want 1 and 0", r.X11Removed, r.X11Left)
	}
	if x11Client(t, display, testUID) {
		t.Fatal("the session uid still reaches the display after the wipe")
	}
}

// When the entry cannot be removed (here: the appliance's cookie file is
// gone, so the display refuses it), End reports it like any incomplete wipe:
// an error, a report that is not clean, the journal record left open;
// and the next start's recovery removes the entry.
func TestX11EntryThatCannotBeRemovedFailsTheWipeAndRecoveryRemovesIt(t *testing.T) {
	m, display, auth := x11Manager(t)
	prog := []string{"/bin/sh", "-c", `echo ready; exec sleep 300`}
	s := startWaitReady(t, m, session.Spec{User: "u-x11", Program: prog})
	if err := os.Rename(auth, auth+".away"); err != nil {
		t.Fatal(err)
	}
	r, err := s.End(kiosk.EndLogout)
	if err == nil || r.Clean() || r.X11Left == 0 {
		t.Fatalf("End = %v, report %+v: want an error and a wipe that is not clean", err, r)
	}
	if !x11Client(t, display, testUID) {
		t.Fatal("test setup: the entry was removed after all")
	}
	if err := os.Rename(auth+".away", auth); err != nil {
		t.Fatal(err)
	}
	reports, err := m.Recover()
	if err != nil || len(reports) != 1 || reports[0].X11Removed != 1 || !reports[0].Clean() {
		t.Fatalf("Recover = %v, reports %+v", err, reports)
	}
	if x11Client(t, display, testUID) {
		t.Fatal("the session uid reaches the display after recovery")
	}
}

// x11TamperEnv makes TestMain act as a session program that changes the
// display's host list (x11Tamper).
const x11TamperEnv = "PASSKIOSK_SESSION_TEST_X11_TAMPER"

// x11Tamper admits uid 4242 to $DISPLAY, turns access control off, says
// ready and waits to be ended.
func x11Tamper() int {
	if err := session.TamperHostAccess(os.Getenv("DISPLAY"), 4242); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready")
	time.Sleep(10 * time.Minute)
	return 0
}

// A session program admitted to the display may change the host list
// itself (the server lets any local client): it admits another uid and
// turns access control off. The wipe puts the list back as it was.
func TestX11WipeUndoesHostListChangesMadeDuringTheSession(t *testing.T) {
	m, display, _ := x11Manager(t)
	// The test binary sits in a private build folder: the session uid
	// runs a copy it can execute.
	bin := filepath.Join(stateRoot(t), "session.test")
	if data, err := os.ReadFile(os.Args[0]); err != nil || os.WriteFile(bin, data, 0o755) != nil {
		t.Fatalf("copy test binary: %v", err)
	}
	s := startWaitReady(t, m, session.Spec{User: "u-x11", Program: []string{bin, "-test.run=^$"}, Env: []string{x11TamperEnv + "=1"}})
	if !x11Client(t, display, testUID+7) {
		s.End(kiosk.EndLogout)
		t.Fatal("test setup: access control is still on")
	}
	r, err := s.End(kiosk.EndLogout)
	if err != nil || !r.Clean() || r.X11Removed != 2 {
		t.Fatalf("End: %v, report %+v; want clean, 2 entries removed", err, r)
	}
	for _, uid := range []uint32{testUID, testUID + 7, 4242} {
		if x11Client(t, display, uid) {
			t.Errorf("uid %d reaches the display after the wipe", uid)
		}
	}
}

// The appliance is killed mid-session: the display still admits the
// session uid, and the next start's recovery removes the entry.
func TestX11EntryLeftByACrashIsRemovedByRecover(t *testing.T) {
	display, auth := x11Display(t)
	reapTestUID(t)
	state, jdir := stateRoot(t), t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"=1", "CRASH_STATE="+state, "CRASH_JOURNAL="+jdir,
		"CRASH_SANDBOX="+strconv.Itoa(int(session.SandboxNone)), "CRASH_DEDICATED=1",
		"CRASH_X11_DISPLAY="+display, "CRASH_X11_AUTH="+auth)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	waitStartedAndReady(t, out)
	child.Process.Kill()
	child.Wait()
	if !x11Client(t, display, testUID) {
		t.Fatal("test setup: the crashed session's entry is not there")
	}

	rm, err := session.New(session.Config{StateRoot: state, Sandbox: session.SandboxNone, UID: testUID, GID: testUID,
		DedicatedUID: true, Journal: sessiontest.FileJournal{Dir: jdir}, X11Display: display, X11Authority: auth})
	if err != nil {
		t.Fatal(err)
	}
	reports, err := rm.Recover()
	if err != nil || len(reports) != 1 || !reports[0].Clean() || reports[0].X11Removed != 1 {
		t.Fatalf("Recover = %v, reports %+v", err, reports)
	}
	if x11Client(t, display, testUID) {
		t.Fatal("the session uid reaches the display after recovery")
	}
}

// A shared session uid (nobody) is never admitted to the display, and a
// display that is not a local X display is refused at New.
func TestX11NotGrantedToASharedUIDAndRemoteDisplaysRefused(t *testing.T) {
	m, _ := newManager(t, session.SandboxNone, nobodyUID, func(c *session.Config) { c.X11Display = ":0" })
	if ok, why := m.X11(); ok || why == "" {
		t.Errorf("X11() = %v, %q; want not admitted, with the reason", ok, why)
	}
	_, err := session.New(session.Config{StateRoot: stateRoot(t), Sandbox: session.SandboxNone, UID: testUID, GID: testUID,
		DedicatedUID: true, Journal: sessiontest.NewMemJournal(), X11Display: "example.org:0"})
	if !errors.Is(err, kiosk.ErrMalformed) {
		t.Errorf("New with a remote display: %v, want kind malformed", err)
	}
}

// A display that refuses the appliance (under cage: a restarted Xwayland
// that admits only its owner) is asked to let it in through X11Admit,
// and the conversation is tried again; a display that admits it is never
// asked.
func TestX11AdmitIsAskedOnlyWhenTheDisplayRefuses(t *testing.T) {
	display, auth := x11Display(t)
	admits := 0
	m, _ := newManager(t, session.SandboxNone, testUID, func(c *session.Config) {
		c.DedicatedUID = true
		c.X11Display, c.X11Authority = display, auth
		c.X11Admit = func() error {
			admits++
			return os.Rename(auth+".away", auth) // the owner lets the appliance in again
		}
	})
	prog := []string{"/bin/sh", "-c", `echo ready; exec sleep 300`}
	s := startWaitReady(t, m, session.Spec{User: "u-x11", Program: prog})
	if admits != 0 {
		t.Fatalf("admitted %d times by a display that let the appliance in", admits)
	}
	if err := os.Rename(auth, auth+".away"); err != nil { // the display now refuses the appliance
		t.Fatal(err)
	}
	r, err := s.End(kiosk.EndLogout)
	if err != nil || !r.Clean() || r.X11Removed != 1 || admits != 1 {
		t.Fatalf("End = %v, report %+v, %d admits: want a clean wipe after one admit", err, r, admits)
	}
	if x11Client(t, display, testUID) {
		t.Fatal("the session uid still reaches the display after the wipe")
	}
}
