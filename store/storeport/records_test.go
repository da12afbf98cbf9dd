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

func TestEngineEventsGetTheirOwnTypes(t *testing.T) {
	cases := []struct {
		engine string
		want   store.EventType // EventUnknown: not written (the store wrote it with the change)
	}{
		{"sign-in-failed", store.EventSignInFailed},
		{"enroll-failed", store.EventEnrollFailed},
		{"lockout", store.EventLockout},
		{"session-end", store.EventSessionEnded},
		{"program-relaunch-failed", store.EventAppliance},
		{"sign-in", store.EventUnknown},
		{"enroll", store.EventUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.engine, func(t *testing.T) {
			db, _ := storetest.Open(t, nil)
			r := storeport.NewRecords(db, "t1")
			before, _, _ := db.AuditHead()
			err := r.Audit(kiosk.AuditEvent{Time: storetest.Epoch.Add(time.Minute), Type: tc.engine, User: "alice",
				Outcome: kiosk.KindExcluded.String(), Kind: kiosk.KindExcluded})
			if err != nil {
				t.Fatal(err)
			}
			after, _, _ := db.AuditHead()
			if tc.want == store.EventUnknown {
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
			if tc.want == store.EventAppliance && e.Detail["event"] != tc.engine {
				t.Fatalf("unnamed engine event: %+v", e)
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
	fail := func(typ, user, subject string, at time.Time) {
		t.Helper()
		d := map[string]string{"error": "wrong PIN"}
		if subject != "" {
			d["subject"] = subject
		}
		if err := r.Audit(kiosk.AuditEvent{Time: at, Type: typ, User: kiosk.UserID(user), Outcome: "pin-invalid", Kind: kiosk.KindPINInvalid, Detail: d}); err != nil {
			t.Fatal(err)
		}
	}
	fail("sign-in-failed", "alice", "user alice", t0)
	fail("sign-in-failed", "alice", "user alice", t0.Add(time.Minute))
	fail("enroll-failed", "", "enrollment codes", t0.Add(2*time.Minute))
	fail("sign-in-failed", "bob", "user bob", t0.Add(3*time.Minute))
	fail("sign-in-failed", "bob", "", t0.Add(4*time.Minute)) // a pulled key: not counted
	if _, err := db.Append(store.AuditEvent{Time: t0.Add(5 * time.Minute), Type: store.EventSignIn, UserID: []byte("bob")}); err != nil {
		t.Fatal(err)
	}
	fail("sign-in-failed", "", "key hidraw3", t0.Add(6*time.Minute))
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
