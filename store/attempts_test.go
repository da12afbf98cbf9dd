package store_test

import (
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

func TestFailedAttemptsSlideOutOfTheWindow(t *testing.T) {
	db, clock := storetest.Open(t, nil)
	const window = 10 * time.Minute
	fail := func(user, cred, term string) store.AttemptCounts {
		t.Helper()
		c, seq, err := db.RecordFailedAttempt(store.FailedAttempt{
			UserID: []byte(user), CredentialID: []byte(cred), Terminal: term, Reason: kiosk.KindPINInvalid,
		}, window)
		if err != nil {
			t.Fatal(err)
		}
		if evs, _ := db.Events(seq, 1); len(evs) != 1 || evs[0].Type != kiosk.EventSignInFailed || evs[0].Reason != kiosk.KindPINInvalid {
			t.Fatalf("audit entry %d = %+v", seq, evs)
		}
		return c
	}
	fail("alice", "k1", "t1")
	clock.Advance(4 * time.Minute)
	fail("alice", "k2", "t1")
	clock.Advance(4 * time.Minute)
	got := fail("alice", "k1", "t2")
	if want := (store.AttemptCounts{User: 3, Credential: 2, Terminal: 1}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	// 11 minutes after the first failure it has left the window.
	clock.Advance(3 * time.Minute)
	got, err := db.AttemptCounts(time.Time{}, window, []byte("alice"), []byte("k1"), "t1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.AttemptCounts{User: 2, Credential: 1, Terminal: 1}); got != want {
		t.Errorf("later counts = %+v, want %+v", got, want)
	}
	// A success clears the person's counts but not the terminal's.
	if err := db.ClearAttempts([]byte("alice"), []byte("k1")); err != nil {
		t.Fatal(err)
	}
	got, _ = db.AttemptCounts(time.Time{}, window, []byte("alice"), []byte("k1"), "t1")
	if want := (store.AttemptCounts{Terminal: 1}); got != want {
		t.Errorf("after clear = %+v, want %+v", got, want)
	}
	// Nothing survives the horizon.
	clock.Advance(store.DefaultAttemptHorizon)
	if err := db.PruneAttempts(time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, _ = db.AttemptCounts(time.Time{}, store.DefaultAttemptHorizon, []byte("alice"), []byte("k2"), "t1")
	if got != (store.AttemptCounts{}) {
		t.Errorf("after horizon = %+v", got)
	}
}

func TestFailedAttemptsWithoutUserCountForTheTerminal(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	var got store.AttemptCounts
	for i := 0; i < 25; i++ {
		var err error
		got, _, err = db.RecordFailedAttempt(store.FailedAttempt{Terminal: "lobby", Reason: kiosk.KindNoCredentials}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
	}
	if got != (store.AttemptCounts{Terminal: 25}) {
		t.Errorf("counts = %+v", got)
	}
	_, _, err := db.RecordFailedAttempt(store.FailedAttempt{Terminal: "lobby"}, 48*time.Hour)
	mustKind(t, err, kiosk.KindMalformed)
	_, err = db.AttemptCounts(time.Time{}, 0, nil, nil, "lobby")
	mustKind(t, err, kiosk.KindMalformed)
}
