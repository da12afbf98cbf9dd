package engine

import (
	"testing"
	"time"

	"passkiosk/kiosk"
)

func TestRevocationEndsTheSessionAtOnceAudited(t *testing.T) {
	h := newHarness(t)
	s := signedIn(t, h)
	// Someone else's revocation does not touch alice's session.
	if h.e.Revoked([]kiosk.UserID{bob.ID}, [][]byte{[]byte("not-hers")}, RevokeAtOnce) {
		t.Fatal("a revocation of bob ended alice's session")
	}
	if !h.e.Revoked([]kiosk.UserID{alice.ID}, nil, RevokeAtOnce) {
		t.Fatal("alice's revocation did not reach her session")
	}
	v := h.waitNotice(kiosk.NoticeSessionEnded)
	if v.Notice.Cause != kiosk.EndRevoked || s.Ended() != kiosk.EndRevoked {
		t.Fatalf("ended with %s / notice %+v, want revoked", s.Ended(), v.Notice)
	}
	h.e.settle()
	if !h.hasAudit(kiosk.EventFleetRevoked, "session-at-once") || !h.hasAudit(kiosk.EventSessionEnded, "revoked") || !h.hasAudit(kiosk.EventWipe, "ok") {
		t.Fatalf("audit %v", h.auditTypes())
	}
}

func TestRevocationAtIdleLetsThePersonFinish(t *testing.T) {
	h := newHarness(t)
	s := signedIn(t, h)
	creds, _ := h.store.Credentials(alice.ID)
	if !h.e.Revoked(nil, [][]byte{creds[0].ID}, RevokeAtIdle) {
		t.Fatal("the revoked credential's session was not found")
	}
	h.clock.Advance(2 * time.Minute)
	h.e.Activity()
	if s.Ended() != kiosk.EndUnknown {
		t.Fatalf("session ended (%s) while the person was still working", s.Ended())
	}
	s.Exit()
	h.waitFor("program exited", func(v kiosk.View) bool { return v.Session != nil && !v.Session.ProgramRunning })
	h.e.RelaunchProgram()
	if s.Relaunches != 0 {
		t.Fatal("a revoked person's program was started again")
	}
	h.clock.Advance(6 * time.Minute) // past the idle timeout
	h.waitNotice(kiosk.NoticeSessionEnded)
	if s.Ended() != kiosk.EndRevoked {
		t.Fatalf("ended with %s, want revoked", s.Ended())
	}
}

func TestOfflineSinceReachesTheView(t *testing.T) {
	h := newHarness(t)
	at := t0.Add(-90 * time.Minute)
	h.e.SetOffline(at)
	h.waitFor("offline mark", func(v kiosk.View) bool { return v.OfflineSince.Equal(at) })
	h.e.SetOffline(time.Time{})
	h.waitFor("online", func(v kiosk.View) bool { return v.OfflineSince.IsZero() })
}
