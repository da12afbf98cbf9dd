package engine

import (
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/policy"
)

// signedIn signs alice in with a platform passkey and returns the session.
func signedIn(t *testing.T, h *harness) *kiosktest.Session {
	t.Helper()
	h.enrollPlatform(alice, "C", "135790")
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitState(kiosk.StateInSession)
	return h.sessions.Last()
}

func TestIdleWarningThenActivityKeepsTheSession(t *testing.T) {
	h := newHarness(t)
	s := signedIn(t, h)
	h.clock.Advance(4 * time.Minute) // idle timeout 5 min, warning 60 s before
	v := h.waitPrompt(kiosk.PromptIdleWarning)
	if !v.Session.IdleEndsAt.Equal(t0.Add(5 * time.Minute)) {
		t.Fatalf("idle ends at %v", v.Session.IdleEndsAt)
	}
	h.e.StillHere()
	h.waitPrompt(kiosk.PromptSession)
	h.clock.Advance(3 * time.Minute)
	if s.Ended() != kiosk.EndUnknown {
		t.Fatalf("session ended (%s) despite activity", s.Ended())
	}
	h.clock.Advance(2 * time.Minute) // 4 min after the last activity: warning again
	h.waitPrompt(kiosk.PromptIdleWarning)
	h.clock.Advance(time.Minute)
	h.waitNotice(kiosk.NoticeSessionEnded)
	if s.Ended() != kiosk.EndIdle || !h.hasAudit(kiosk.EventSessionEnded, "idle") || !h.hasAudit(kiosk.EventWipe, "ok") {
		t.Fatalf("ended %q, audit %v", s.Ended(), h.auditTypes())
	}
}

// The session program's own input counts as activity (kiosk.InputIdle).
type sessionsWithInput struct {
	*kiosktest.Sessions
	last func() time.Time
}

func (s sessionsWithInput) LastInput() time.Time { return s.last() }

func TestInputToTheSessionCountsAsActivity(t *testing.T) {
	var lastInput time.Time
	var h *harness
	h = newHarness(t, func(c *Config) {
		c.Sessions = sessionsWithInput{c.Sessions.(*kiosktest.Sessions), func() time.Time { return lastInput }}
	})
	s := signedIn(t, h)
	lastInput = t0.Add(3 * time.Minute)
	h.clock.Advance(5 * time.Minute)
	if s.Ended() != kiosk.EndUnknown {
		t.Fatal("session ended although its program had input 2 minutes ago")
	}
	h.clock.Advance(3 * time.Minute)
	h.waitNotice(kiosk.NoticeSessionEnded)
	if s.Ended() != kiosk.EndIdle {
		t.Fatalf("ended %q", s.Ended())
	}
}

func TestMaximumDurationEndsTheSession(t *testing.T) {
	h := newHarness(t)
	s := signedIn(t, h)
	for i := 0; i < 8*60/4; i++ {
		h.clock.Advance(4 * time.Minute)
		h.e.Activity()
	}
	h.waitNotice(kiosk.NoticeSessionEnded)
	if s.Ended() != kiosk.EndTimeLimit {
		t.Fatalf("ended %q", s.Ended())
	}
}

// A session started near the end of the person's hours ends with them.
func TestSessionEndsWithTheAllowedHours(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Policy.Default.Hours = []policy.Window{{From: 7 * time.Hour, To: 14*time.Hour + 30*time.Minute}}
	})
	s := signedIn(t, h) // at 14:00
	if s.Spec.MaxDuration != 30*time.Minute {
		t.Fatalf("session limit %v, want 30m", s.Spec.MaxDuration)
	}
	if v := h.last; v.Session == nil || !v.Session.EndsAt.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("session view %+v", v.Session)
	}
	for i := 0; i < 8; i++ {
		h.clock.Advance(4 * time.Minute)
		h.e.Activity()
	}
	h.waitNotice(kiosk.NoticeSessionEnded)
	if s.Ended() != kiosk.EndTimeLimit {
		t.Fatalf("ended %q", s.Ended())
	}
}

func TestPullingTheKeyEndsTheSession(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C")
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	h.waitState(kiosk.StateInSession)
	h.keys.Unplug(k)
	v := h.waitNotice(kiosk.NoticeSessionEnded)
	if v.Notice.Cause != kiosk.EndKeyRemoved || h.sessions.Last().Ended() != kiosk.EndKeyRemoved {
		t.Fatalf("notice %+v", v.Notice)
	}
}

func TestProgramExitOffersRelaunch(t *testing.T) {
	h := newHarness(t)
	s := signedIn(t, h)
	s.Exit()
	h.waitFor("program exited", func(v kiosk.View) bool { return v.Session != nil && !v.Session.ProgramRunning })
	h.e.RelaunchProgram()
	h.waitFor("program running", func(v kiosk.View) bool { return v.Session != nil && v.Session.ProgramRunning })
	if s.Relaunches != 1 {
		t.Fatalf("relaunches %d", s.Relaunches)
	}
}

func TestIncompleteWipeTakesTheTerminalOutOfService(t *testing.T) {
	h := newHarness(t)
	h.sessions.Report = kiosk.WipeReport{Processes: 3, RemainingFiles: 2}
	signedIn(t, h)
	h.e.SignOut()
	v := h.waitState(kiosk.StateOutOfService)
	if v.OutOfService == "" || !h.hasAudit(kiosk.EventWipe, "incomplete") {
		t.Fatalf("view %+v audit %v", v, h.auditTypes())
	}
	// Out of service, nobody can sign in.
	h.e.ChooseUser(alice.ID)
	if h.e.View().State != kiosk.StateOutOfService {
		t.Fatal("left out of service")
	}
}

func TestSessionThatCannotStartReturnsToLock(t *testing.T) {
	h := newHarness(t)
	h.enrollPlatform(alice, "C", "135790")
	h.sessions.Err = kiosk.Errorf(kiosk.KindUnknown, "session", "bwrap missing")
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("135790"))
	v := h.waitNotice(kiosk.NoticeSessionEnded)
	if v.State != kiosk.StateLocked || !h.hasAudit(kiosk.EventSessionStartFailed, "") {
		t.Fatalf("view %+v audit %v", v, h.auditTypes())
	}
}

func TestAddBackupFromTheSession(t *testing.T) {
	h := newHarness(t)
	signedIn(t, h)
	if !h.e.View().Session.BackupMissing {
		t.Fatal("one credential, backup not suggested")
	}
	h.e.AddBackup()
	v := h.waitPrompt(kiosk.PromptPIN) // first: prove it is still Alice
	if !v.Reauth || v.State != kiosk.StateVerifying {
		t.Fatalf("proof prompt: reauth %v, state %v", v.Reauth, v.State)
	}
	h.e.EnterPIN([]byte("135790"))
	h.waitPrompt(kiosk.PromptInsertKey) // platform already registered: straight to the key
	k := newKey("backup", "4821", false)
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	v = h.waitPrompt(kiosk.PromptEnrollDone)
	if v.Notice.Code != kiosk.NoticeEnrolled || v.Reauth {
		t.Fatalf("notice %+v", v.Notice)
	}
	h.e.Cancel()
	v = h.waitPrompt(kiosk.PromptSession)
	if v.Session.BackupMissing {
		t.Fatal("backup still suggested after registering one")
	}
}

// A session account still admitted to the X display after the wipe is an
// incomplete wipe like a file left: out of service, and the reason says
// what was left.
func TestDisplayAccessLeftTakesTheTerminalOutOfService(t *testing.T) {
	h := newHarness(t)
	h.sessions.Report = kiosk.WipeReport{Processes: 1, X11Left: 1}
	signedIn(t, h)
	h.e.SignOut()
	v := h.waitState(kiosk.StateOutOfService)
	if !strings.Contains(v.OutOfService, "1 display access entries left") || !h.hasAudit(kiosk.EventWipe, "incomplete") {
		t.Fatalf("out of service %q, audit %v", v.OutOfService, h.auditTypes())
	}
}

// The wipe's audit entry counts the display access entries removed.
func TestWipeAuditCountsDisplayAccessRemoved(t *testing.T) {
	h := newHarness(t)
	h.sessions.Report = kiosk.WipeReport{Processes: 1, X11Removed: 1, WorkspaceGone: true}
	signedIn(t, h)
	h.e.SignOut()
	h.waitNotice(kiosk.NoticeSessionEnded)
	for _, ev := range h.audited() {
		if ev.Type == kiosk.EventWipe && ev.Outcome == "ok" && ev.Detail["display_access_removed"] == "1" && ev.Detail["display_access_left"] == "0" {
			return
		}
	}
	t.Fatalf("no wipe entry counting the display access removed: %+v", h.audited())
}
