package store_test

import (
	"fmt"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

func TestRecordWipeShortensLongLists(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	removed := make([]string, 1000)
	for i := range removed {
		removed[i] = fmt.Sprintf("/run/passkiosk/s/7/f%d", i)
	}
	seq, err := db.RecordWipe(store.Wipe{SessionID: 7, Workspace: "/run/passkiosk/s/7", Removed: removed, Files: 1000, Bytes: 1 << 20, Verified: true})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := db.Events(seq, 1)
	e := evs[0]
	if e.Type != kiosk.EventWipe || len(e.Items) != store.MaxEventItems || e.Items[len(e.Items)-1] != fmt.Sprintf("… and %d more", 1000-store.MaxEventItems+1) {
		t.Errorf("wipe entry: %d items, last %q", len(e.Items), e.Items[len(e.Items)-1])
	}
	if e.Detail["verified"] != "true" || e.Detail["files"] != "1000" || e.SessionID != 7 {
		t.Errorf("wipe detail = %v", e.Detail)
	}
}

func TestRecordLockoutAndSpike(t *testing.T) {
	db, clock := storetest.Open(t, nil)
	until := clock.Now().Add(15 * time.Minute)
	seq, err := db.RecordLockout(store.Lockout{UserID: []byte("alice"), Terminal: "t1", Reason: kiosk.KindPINInvalid, Failures: 5, Until: until})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordFailureSpike(time.Time{}, "t1", 40, time.Minute); err != nil {
		t.Fatal(err)
	}
	evs, _ := db.Events(seq, 2)
	if evs[0].Type != kiosk.EventLockout || evs[0].Reason != kiosk.KindPINInvalid || evs[0].Detail["until"] != until.Format(time.RFC3339) {
		t.Errorf("lockout = %+v", evs[0])
	}
	if evs[1].Type != kiosk.EventFailureSpike || evs[1].Detail["failures"] != "40" {
		t.Errorf("spike = %+v", evs[1])
	}
}
