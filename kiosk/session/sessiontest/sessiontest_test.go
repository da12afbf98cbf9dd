package sessiontest_test

import (
	"errors"
	"testing"
	"time"

	"passkiosk/kiosk/session"
	"passkiosk/kiosk/session/sessiontest"
)

var (
	_ session.Journal    = (*sessiontest.MemJournal)(nil)
	_ session.Journal    = sessiontest.FileJournal{}
	_ session.Clock      = (*sessiontest.Clock)(nil)
	_ session.IdleSource = (*sessiontest.Idle)(nil)
)

func TestClockRunsDueTimersInOrderAndHonoursStop(t *testing.T) {
	c := sessiontest.NewClock(time.Unix(0, 0))
	var got []int
	c.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	c.AfterFunc(time.Second, func() { got = append(got, 1) })
	stopped := c.AfterFunc(time.Second, func() { got = append(got, -1) })
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop should report true once")
	}
	c.Advance(500 * time.Millisecond)
	if len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	c.Advance(5 * time.Second)
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("fired %v, want [1 2]", got)
	}
}

func TestIdleFollowsTheClock(t *testing.T) {
	c := sessiontest.NewClock(time.Unix(0, 0))
	i := sessiontest.NewIdle(c)
	c.Advance(time.Minute)
	if d, _ := i.Idle(t.Context()); d != time.Minute {
		t.Errorf("idle %v", d)
	}
	i.Input()
	c.Advance(time.Second)
	if d, _ := i.Idle(t.Context()); d != time.Second {
		t.Errorf("idle after input %v", d)
	}
	i.Fail(errors.New("display gone"))
	if _, err := i.Idle(t.Context()); err == nil {
		t.Error("Fail ignored")
	}
}

func TestJournalsRoundTrip(t *testing.T) {
	for name, j := range map[string]interface {
		session.Journal
		Closed(string) (session.WipeReport, bool)
	}{
		"memory": sessiontest.NewMemJournal(),
		"file":   sessiontest.FileJournal{Dir: t.TempDir()},
	} {
		rec := session.Record{ID: "abc", User: "u", Workspace: "/w/abc", Sandbox: session.SandboxBubblewrap, UID: 7, Started: time.Unix(100, 0).UTC()}
		if err := j.Open(rec); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := j.Open(rec); err == nil {
			t.Errorf("%s: opened the same session twice", name)
		}
		p, err := j.Pending()
		if err != nil || len(p) != 1 || p[0] != rec {
			t.Errorf("%s: pending %+v, %v", name, p, err)
		}
		if err := j.Close("abc", session.WipeReport{ID: "abc", Files: 3, Cause: session.CauseIdle}); err != nil {
			t.Fatal(err)
		}
		if p, _ := j.Pending(); len(p) != 0 {
			t.Errorf("%s: still pending %v", name, p)
		}
		if r, ok := j.Closed("abc"); !ok || r.Files != 3 || r.Cause != session.CauseIdle {
			t.Errorf("%s: closed %+v %v", name, r, ok)
		}
	}
}
