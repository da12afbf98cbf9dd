package fleet_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

func TestSessionRecordsRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 5).UTC()
	st := fleet.TermState{At: at, LastEnd: []byte{1, 2}, Ended: true, Build: "1.4.0", OutOfService: "no database",
		Session: &fleet.TermSession{UserID: []byte("u-1"), DisplayName: "Ann", Started: at, EndsAt: at.Add(time.Hour)}}
	b, err := fleet.EncodeTermState(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fleet.DecodeTermState(b)
	if err != nil || got.Session == nil || got.Session.DisplayName != "Ann" || !got.Session.EndsAt.Equal(st.Session.EndsAt) || !got.Ended ||
		got.Build != "1.4.0" || got.OutOfService != "no database" {
		t.Fatalf("state: %+v (%v)", got, err)
	}
	r := fleet.EndRequest{ID: []byte{9}, UserID: []byte("u-1"), By: "alice", At: at}
	if b, err = fleet.EncodeEndRequest(r); err != nil {
		t.Fatal(err)
	}
	if got, err := fleet.DecodeEndRequest(b); err != nil || got.By != "alice" || !got.At.Equal(at) {
		t.Fatalf("end request: %+v (%v)", got, err)
	}
	u := store.User{ID: []byte("u-1"), Name: "ann", State: store.UserDisabled}
	if b, err = fleet.EncodeUserBy(u, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, by, err := fleet.DecodeUserBy(b); err != nil || by != "alice" {
		t.Fatalf("user by %q (%v)", by, err)
	}
	if _, err := fleet.DecodeUser(b); err != nil {
		t.Fatalf("a user with who changed it reads as a user: %v", err)
	}
}

// A terminal answers an end request at once, and refuses one older than
// EndRequestTTL (written while it was away): the administrator was told
// it did not answer.
func TestSessionLinkAnswersEndRequests(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	now := time.Now()
	var mu sync.Mutex
	clock := now
	dir := &fleet.Directory{Client: cl, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }}
	var ends int
	sess := &fleet.TermSession{UserID: []byte("u-1"), DisplayName: "Ann", Started: now}
	link := &fleet.SessionLink{Client: cl, Terminal: "t1", Every: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Current: func() *fleet.TermSession { mu.Lock(); defer mu.Unlock(); return sess },
		End:     func(fleet.EndRequest) bool { mu.Lock(); defer mu.Unlock(); ends++; sess = nil; return true }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); link.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	answered := func(id []byte) fleet.TermState { return answeredState(t, cl, "t1", id) }
	mu.Lock()
	clock = now.Add(-2 * fleet.EndRequestTTL)
	mu.Unlock()
	old, err := dir.RequestEnd(context.Background(), "t1", []byte("u-1"), "alice")
	if err != nil {
		t.Fatal(err)
	}
	st := answered(old)
	mu.Lock()
	n := ends
	mu.Unlock()
	if st.Ended || st.Session == nil || n != 0 {
		t.Fatalf("a stale request ended the session: %+v, %d ends", st, n)
	}
	mu.Lock()
	clock = time.Now()
	mu.Unlock()
	id, err := dir.RequestEnd(context.Background(), "t1", []byte("u-1"), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if st := answered(id); !st.Ended || st.Session != nil {
		t.Fatalf("the request was not taken: %+v", st)
	}
	waitDeleted(t, cl, fleet.EndKey("t1"))
}

// answeredState waits for terminal's state to answer request id.
func answeredState(t *testing.T, cl *clientv3.Client, terminal string, id []byte) fleet.TermState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := cl.Get(context.Background(), fleet.StateKey(terminal))
		if err == nil && len(r.Kvs) == 1 {
			if st, err := fleet.DecodeTermState(r.Kvs[0].Value); err == nil && bytes.Equal(st.LastEnd, id) {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %x never answered", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDeleted waits for key to be gone.
func waitDeleted(t *testing.T, cl *clientv3.Client, key string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := cl.Get(context.Background(), key)
		if err == nil && len(r.Kvs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still there: %v", key, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
