package sessiontest_test

import (
	"passkiosk/kiosk"

	"errors"
	"testing"
	"time"

	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/session"
	"passkiosk/kiosk/session/sessiontest"
)

var (
	_ session.Journal    = (*sessiontest.MemJournal)(nil)
	_ session.Journal    = sessiontest.FileJournal{}
	_ session.IdleSource = (*sessiontest.Idle)(nil)
)

func TestIdleFollowsTheClock(t *testing.T) {
	c := kiosktest.NewClock(time.Unix(0, 0))
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
		Closed(string) (kiosk.WipeReport, bool)
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
		if err := j.Close("abc", kiosk.WipeReport{ID: "abc", Files: 3, Cause: kiosk.EndIdle}); err != nil {
			t.Fatal(err)
		}
		if p, _ := j.Pending(); len(p) != 0 {
			t.Errorf("%s: still pending %v", name, p)
		}
		if r, ok := j.Closed("abc"); !ok || r.Files != 3 || r.Cause != kiosk.EndIdle {
			t.Errorf("%s: closed %+v %v", name, r, ok)
		}
	}
}
