package storeport_test

import (
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
