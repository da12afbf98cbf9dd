package store_test

import (
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

func TestJournalListsOpenSessionsForRecovery(t *testing.T) {
	db, clock := storetest.Open(t, nil)
	a, err := db.OpenSession(store.Session{UserID: []byte("alice"), Terminal: "t1", Workspace: "/run/passkiosk/s/a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.OpenSession(store.Session{UserID: []byte("bob"), Terminal: "t1", Workspace: "/run/passkiosk/s/b"})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID <= a.ID {
		t.Errorf("session ids %d then %d", a.ID, b.ID)
	}
	clock.Advance(5 * time.Minute)
	ended, err := db.EndSession(a.ID, kiosk.EndIdle, true, time.Time{})
	if err != nil || ended.Cause != kiosk.EndIdle || ended.EndedAt.Sub(ended.OpenedAt) != 5*time.Minute {
		t.Fatalf("end = %+v, %v", ended, err)
	}
	_, err = db.EndSession(a.ID, kiosk.EndLogout, true, time.Time{})
	mustKind(t, err, kiosk.KindConflict)
	_, err = db.EndSession(99, kiosk.EndLogout, true, time.Time{})
	mustKind(t, err, kiosk.KindNotFound)
	_, err = db.EndSession(b.ID, kiosk.EndUnknown, true, time.Time{})
	mustKind(t, err, kiosk.KindMalformed)

	open, err := db.Sessions(true)
	if err != nil || len(open) != 1 || open[0].ID != b.ID || open[0].Workspace != "/run/passkiosk/s/b" {
		t.Fatalf("open sessions = %+v, %v", open, err)
	}
	all, _ := db.Sessions(false)
	if len(all) != 2 {
		t.Errorf("all sessions = %d", len(all))
	}
	evs, _ := db.Events(0, 100)
	e := evs[len(evs)-1]
	if e.Type != kiosk.EventSessionEnded || e.Cause != kiosk.EndIdle || e.SessionID != a.ID || e.Detail["wiped"] != "true" {
		t.Errorf("last audit entry = %+v", e)
	}

	clock.Advance(time.Hour)
	n, err := db.PruneSessions(clock.Now())
	if err != nil || n != 1 {
		t.Errorf("pruned %d, %v", n, err)
	}
	if _, err := db.Session(b.ID); err != nil {
		t.Errorf("open session pruned: %v", err)
	}
	_, err = db.OpenSession(store.Session{UserID: []byte("x")})
	mustKind(t, err, kiosk.KindMalformed)
}
