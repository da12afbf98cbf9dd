package session_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/session"
	"passkiosk/kiosk/session/sessiontest"
)

// The engine sees sessions through kiosk.Sessions: start, program exit,
// relaunch in the same workspace, end with its own words for the cause.
func TestPortRunsRelaunchesAndEndsASession(t *testing.T) {
	for _, sb := range []session.Sandbox{session.SandboxBubblewrap, session.SandboxNone} {
		t.Run(sb.String(), func(t *testing.T) {
			m, j := newManager(t, sb, testUID, nil)
			p := &session.Port{Manager: m, Env: func(u kiosk.User) []string { return []string{"GREETING=hello " + u.DisplayName} }}
			// First run: leave a file and exit. Second run: see it,
			// say so, and stay.
			script := `if [ -e "$HOME/first" ]; then echo "$GREETING $PASSKIOSK_USER $PASSKIOSK_USER_ID" > "$HOME/second"; exec sleep 300; fi; touch "$HOME/first"`
			ks, err := p.Start(t.Context(), kiosk.SessionSpec{User: kiosk.User{ID: "a1b2c3", Name: "alice", DisplayName: "Alice"},
				Program: []string{"/bin/sh", "-c", script}})
			if err != nil {
				t.Fatal(err)
			}
			ps := ks.(session.PortSession)
			select {
			case <-ks.Exited():
			case <-time.After(20 * time.Second):
				t.Fatal("first run did not exit")
			}
			if err := ks.Relaunch(); err != nil {
				t.Fatalf("Relaunch: %v", err)
			}
			second := filepath.Join(ps.Workspace, "second")
			deadline := time.Now().Add(20 * time.Second)
			for {
				if b, err := os.ReadFile(second); err == nil && string(b) == "hello Alice alice a1b2c3\n" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("relaunched program did not run in the same workspace")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := ks.Relaunch(); !errors.Is(err, kiosk.ErrConflict) {
				t.Errorf("Relaunch while running: %v, want kind conflict", err)
			}
			r, err := ks.End(kiosk.EndLogout, "signed out")
			if err != nil || !r.Clean() || r.Processes < 1 || r.Files != 2 || !r.WorkspaceGone {
				t.Fatalf("End = %+v, %v", r, err)
			}
			if got, ok := j.Closed(ks.ID()); !ok || got.Cause != kiosk.EndLogout || got.Reason != "signed out" || got.User != "a1b2c3" {
				t.Errorf("journal closed with %+v", got)
			}
			if err := ks.Relaunch(); !errors.Is(err, kiosk.ErrConflict) {
				t.Errorf("Relaunch after End: %v, want kind conflict", err)
			}
			assertGone(t, ps.Workspace)
		})
	}
}

func TestPortLastInputComesFromTheIdleSource(t *testing.T) {
	clock := kiosktest.NewClock(time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC))
	m, _ := newManager(t, session.SandboxNone, testUID, func(c *session.Config) { c.Clock = clock })
	if got := (&session.Port{Manager: m}).LastInput(); !got.IsZero() {
		t.Errorf("no idle source: LastInput = %v, want zero", got)
	}
	idle := sessiontest.NewIdle(clock)
	p := &session.Port{Manager: m, Idle: idle}
	clock.Advance(time.Minute)
	idle.Input()
	typed := clock.Now()
	clock.Advance(10 * time.Second)
	if got := p.LastInput(); !got.Equal(typed) {
		t.Errorf("LastInput = %v, want %v", got, typed)
	}
	idle.Fail(errors.New("display gone"))
	clock.Advance(time.Minute)
	if got := p.LastInput(); !got.Equal(typed) {
		t.Errorf("after a failed query LastInput = %v, want the last good %v", got, typed)
	}
}
