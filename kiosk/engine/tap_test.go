package engine

import (
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/kiosktest"
)

// keySession enrolls k for alice and signs her in with it; k stays
// plugged in.
func keySession(t *testing.T, h *harness, k *kiosktest.Key) *kiosktest.Session {
	t.Helper()
	h.enrollKey(k, alice, "C")
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte(pinOf(k)))
	h.waitState(kiosk.StateInSession)
	return h.sessions.Last()
}

// waitTouchRequests waits until the key has been asked for a touch n
// times in all.
func waitTouchRequests(t *testing.T, k *kiosktest.Key, n int) {
	t.Helper()
	for guard := time.Now().Add(10 * time.Second); k.Waiting() < n; {
		if time.Now().After(guard) {
			t.Fatalf("the key was asked for a touch %d times, want %d", k.Waiting(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTappingTheKeyAgainEndsTheSession(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	s := keySession(t, h, k)
	v := h.waitFor("tap offered", func(v kiosk.View) bool { return v.Session != nil && v.Session.TapToSignOut })
	if v.Prompt != kiosk.PromptSession {
		t.Fatalf("prompt %v", v.Prompt)
	}
	waitTouchRequests(t, k, 1)
	cred := credentialsOf(t, h, alice)[0]
	if !k.Touch() {
		t.Fatal("nobody waited for the touch")
	}
	v = h.waitNotice(kiosk.NoticeSessionEnded)
	if v.Notice.Cause != kiosk.EndKeyTapped || s.Ended() != kiosk.EndKeyTapped || !h.hasAudit(kiosk.EventKeyTapped, "ok") || !h.hasAudit(kiosk.EventWipe, "ok") {
		t.Fatalf("notice %+v, ended %q, audit %v", v.Notice, s.Ended(), h.auditTypes())
	}
	if after := credentialsOf(t, h, alice)[0]; after.Counter <= cred.Counter {
		t.Fatalf("counter %d after the tap, was %d: the tap's counter must be recorded", after.Counter, cred.Counter)
	}
	// The key is still in: back on the lock screen it can sign in again
	// without a re-plug.
	v = h.waitPrompt(kiosk.PromptTouchOrChoose)
	if !v.KeyPresent {
		t.Fatal("lock screen does not know the key is present")
	}
	h.e.UseKey()
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	h.waitState(kiosk.StateInSession)
}

func TestTapToSignOutOffByPolicy(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.KeyTapEndsSession = false })
	k := newKey("k1", "4821", false)
	keySession(t, h, k)
	v := h.waitPrompt(kiosk.PromptSession)
	if v.Session.TapToSignOut || k.Waiting() != 0 {
		t.Fatalf("tap offered (%v) or asked (%d) with the policy off", v.Session.TapToSignOut, k.Waiting())
	}
}

func TestPlatformSessionDoesNotWaitForATap(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.keys.Plug(k) // a key lies on the desk, registered to nobody
	h.waitFor("key present", func(v kiosk.View) bool { return v.KeyPresent })
	h.e.Cancel()
	signedIn(t, h)
	v := h.waitPrompt(kiosk.PromptSession)
	if v.Session.TapToSignOut || k.Waiting() != 0 {
		t.Fatal("a platform session waits for a touch on some key")
	}
}

// A backup is registered on another key while the session's key is in;
// the touch request is withdrawn for the enrollment and resumes after.
func TestBackupWithdrawsAndResumesTheTapWait(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	s := keySession(t, h, k)
	waitTouchRequests(t, k, 1)
	h.e.AddBackup()
	h.waitPrompt(kiosk.PromptPIN) // the proof, on the key signed in with
	h.e.EnterPIN([]byte(pinOf(k)))
	h.waitPrompt(kiosk.PromptEnrollChoose)
	if h.e.View().Session == nil {
		t.Log("session view hidden while enrolling")
	}
	h.e.ChooseAttachment(kiosk.AttachPlatform)
	h.waitPrompt(kiosk.PromptNewPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitPrompt(kiosk.PromptEnrollDone)
	h.e.Cancel()
	h.waitFor("tap offered again", func(v kiosk.View) bool {
		return v.Prompt == kiosk.PromptSession && v.Session != nil && v.Session.TapToSignOut
	})
	waitTouchRequests(t, k, 2)
	k.Touch()
	h.waitNotice(kiosk.NoticeSessionEnded)
	if s.Ended() != kiosk.EndKeyTapped {
		t.Fatalf("ended %q", s.Ended())
	}
}

// A touch answered with a counter that went back (a clone) does not end
// the session: it is audited, and the key is no longer listened to.
func TestTapFromACloneIsRefused(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	s := keySession(t, h, k)
	waitTouchRequests(t, k, 1)
	k.Authenticator(0).Count = 0
	k.Touch()
	h.waitFor("tap withdrawn", func(v kiosk.View) bool { return v.Session != nil && !v.Session.TapToSignOut })
	if s.Ended() != kiosk.EndUnknown || !h.hasAudit(kiosk.EventKeyTapFailed, kiosk.KindCounterRegression.String()) || !h.hasAudit(kiosk.EventPossibleClone, "") {
		t.Fatalf("ended %q, audit %v", s.Ended(), h.auditTypes())
	}
	h.e.SignOut()
	h.waitNotice(kiosk.NoticeSessionEnded)
}

// A key left in after a failed attempt can be used again from the lock
// screen, without a re-plug.
func TestUseKeyLeftPluggedIn(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C")
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.Cancel()
	v := h.waitPrompt(kiosk.PromptTouchOrChoose)
	if !v.KeyPresent {
		t.Fatal("key not present")
	}
	h.e.UseKey()
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	h.waitState(kiosk.StateInSession)
	// Not from the session screen.
	h.e.UseKey()
	if st := h.e.View().State; st != kiosk.StateInSession {
		t.Fatalf("UseKey in a session moved to %v", st)
	}
}

func credentialsOf(t *testing.T, h *harness, u kiosk.User) []kiosk.Credential {
	t.Helper()
	creds, err := h.store.Credentials(u.ID)
	if err != nil || len(creds) == 0 {
		t.Fatalf("credentials of %s: %v, %v", u.Name, creds, err)
	}
	return creds
}

// A key that keeps failing while it waits for the touch is asked again
// after a pause, and after tapMaxProblems failures in a row no more: the
// session screen then says to use Sign out, and the audit log says why.
// A key that only says it is busy is asked again without counting.
func TestTapGivesUpVisiblyOnAFailingKey(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	keySession(t, h, k)
	waitTouchRequests(t, k, 1)
	asked := 1
	for i := 0; i < 4; i++ {
		if !k.FailTouch(kiosk.Errorf(kiosk.KindDeviceBusy, "fake key", "channel busy")) {
			t.Fatal("no touch request waiting")
		}
		asked++
		askedAgain(t, h, k, asked)
	}
	for i := 1; i <= tapMaxProblems; i++ {
		if !k.FailTouch(kiosk.Errorf(kiosk.KindDevice, "fake key", "garbled reply")) {
			t.Fatal("no touch request waiting")
		}
		if i < tapMaxProblems {
			asked++
			askedAgain(t, h, k, asked)
			if v := h.e.View(); v.Session == nil || v.Session.TapUnavailable {
				t.Fatalf("given up after %d failures, want %d: %+v", i, tapMaxProblems, v.Session)
			}
		}
	}
	v := h.waitFor("tap given up", func(v kiosk.View) bool { return v.Session != nil && v.Session.TapUnavailable })
	if v.Session.TapToSignOut || !h.hasAudit(kiosk.EventKeyTapFailed, kiosk.KindDevice.String()) {
		t.Fatalf("session view %+v, audit %v", v.Session, h.auditTypes())
	}
	h.e.SignOut()
	h.waitNotice(kiosk.NoticeSessionEnded)
}

// askedAgain moves the clock on by the retry pause until the key has been
// asked for a touch n times in all.
func askedAgain(t *testing.T, h *harness, k *kiosktest.Key, n int) {
	t.Helper()
	for guard := time.Now().Add(10 * time.Second); k.Waiting() < n; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(guard) {
			t.Fatalf("the key was asked for a touch %d times, want %d", k.Waiting(), n)
		}
		h.clock.Advance(tapRetryPause)
	}
}
