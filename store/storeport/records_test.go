package storeport_test

import (
	"path/filepath"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storeport"
	"passkiosk/store/storetest"
)

func TestEngineEventsKeepTheirTypes(t *testing.T) {
	cases := []struct {
		engine kiosk.Event
		want   kiosk.Event // EventUnknown: not written (the store wrote it with the change)
	}{
		{kiosk.EventSignInFailed, kiosk.EventSignInFailed},
		{kiosk.EventEnrollFailed, kiosk.EventEnrollFailed},
		{kiosk.EventLockout, kiosk.EventLockout},
		{kiosk.EventRelaunchFailed, kiosk.EventRelaunchFailed},
		{kiosk.EventSessionEnded, kiosk.EventUnknown},
		{kiosk.EventSessionOpened, kiosk.EventUnknown},
		{kiosk.EventSignIn, kiosk.EventUnknown},
		{kiosk.EventEnrolled, kiosk.EventUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.engine.String(), func(t *testing.T) {
			db, _ := storetest.Open(t, nil)
			r := storeport.NewRecords(db, "t1")
			before, _, _ := db.AuditHead()
			err := r.Audit(kiosk.AuditEvent{Time: storetest.Epoch.Add(time.Minute), Type: tc.engine, User: "alice",
				Outcome: kiosk.KindExcluded.String(), Kind: kiosk.KindExcluded})
			if err != nil {
				t.Fatal(err)
			}
			after, _, _ := db.AuditHead()
			if tc.want == kiosk.EventUnknown {
				if after != before {
					t.Fatalf("%s written twice", tc.engine)
				}
				return
			}
			evs, err := db.Events(after, 1)
			if err != nil || len(evs) != 1 {
				t.Fatalf("events: %+v, %v", evs, err)
			}
			e := evs[0]
			if e.Type != tc.want || e.Reason != kiosk.KindExcluded || string(e.UserID) != "alice" || e.Actor != "engine" || e.Terminal != "t1" {
				t.Fatalf("%s stored as %+v", tc.engine, e)
			}
		})
	}
}

// Failures counted towards backoff are read back from the audit log after
// a restart, less those a person's later successful sign-in cleared.
func TestRecentFailuresSurviveAReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passkiosk.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := storeport.NewRecords(db, "bay 2")
	t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	fail := func(typ kiosk.Event, user, subject string, at time.Time) {
		t.Helper()
		d := map[string]string{"error": "wrong PIN"}
		if subject != "" {
			d["subject"] = subject
		}
		if err := r.Audit(kiosk.AuditEvent{Time: at, Type: typ, User: kiosk.UserID(user), Outcome: "pin-invalid", Kind: kiosk.KindPINInvalid, Detail: d}); err != nil {
			t.Fatal(err)
		}
	}
	fail(kiosk.EventSignInFailed, "alice", "user alice", t0)
	fail(kiosk.EventSignInFailed, "alice", "user alice", t0.Add(time.Minute))
	fail(kiosk.EventEnrollFailed, "", "enrollment codes", t0.Add(2*time.Minute))
	fail(kiosk.EventSignInFailed, "bob", "user bob", t0.Add(3*time.Minute))
	fail(kiosk.EventSignInFailed, "bob", "", t0.Add(4*time.Minute)) // a pulled key: not counted
	if _, err := db.Append(store.AuditEvent{Time: t0.Add(5 * time.Minute), Type: kiosk.EventSignIn, UserID: []byte("bob")}); err != nil {
		t.Fatal(err)
	}
	fail(kiosk.EventSignInFailed, "", "key hidraw3", t0.Add(6*time.Minute))
	db.Close()

	db, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := storeport.NewRecords(db, "bay 2").RecentFailures(t0.Add(30 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]time.Time{
		"user alice":       {t0.Add(time.Minute)},
		"enrollment codes": {t0.Add(2 * time.Minute)},
		"key hidraw3":      {t0.Add(6 * time.Minute)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for s, ts := range want {
		if len(got[s]) != len(ts) || !got[s][0].Equal(ts[0]) {
			t.Errorf("%s: %v, want %v", s, got[s], ts)
		}
	}
}

// Entries written before the engine's events had numbers of their own
// (type "appliance", the event's name in the detail) still count as what
// they were, and the chain that holds them still verifies.
func TestLegacyEngineEntriesStillCount(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	r := storeport.NewRecords(db, "t1")
	t0 := storetest.Epoch.Add(time.Hour)
	for i, name := range []string{"key-tap-failed", "key-tap-failed", "idle-warning"} {
		_, err := db.Append(store.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Type: kiosk.EventAppliance,
			Actor: "engine", Terminal: "t1", UserID: []byte("bob"),
			Detail: map[string]string{"event": name, "subject": "key k1", "outcome": "pin-invalid"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.RecentFailures(t0.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got["key k1"]) != 2 {
		t.Fatalf("failures by subject: %v, want the two old key-tap failures of key k1", got)
	}
	if _, err := db.VerifyChain(); err != nil {
		t.Fatalf("chain: %v", err)
	}
	if kiosk.LegacyEvent("session-end") != kiosk.EventSessionEnded || kiosk.LegacyEvent("timeout") != kiosk.EventTimedOut ||
		kiosk.LegacyEvent("appliance") != kiosk.EventUnknown || kiosk.LegacyEvent("no such event") != kiosk.EventUnknown {
		t.Fatal("LegacyEvent names")
	}
}
