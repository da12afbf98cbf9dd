package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store"
	"passkiosk/store/fleet"
)

// A terminal's session, as its fleet link publishes it: the engine's
// side is a session that End takes away (the appliance's own test ends
// a real engine's session, cmd/internal/appliance).
type heldSession struct {
	mu  sync.Mutex
	s   *fleet.TermSession
	req []fleet.EndRequest
}

func (h *heldSession) current() *fleet.TermSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s
}

func (h *heldSession) end(r fleet.EndRequest) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.req = append(h.req, r)
	if h.s == nil || string(h.s.UserID) != string(r.UserID) {
		return false
	}
	h.s = nil
	return true
}

// passkioskctl --fleet sessions list shows every terminal's session in
// progress; sessions end ends one, refused for an auditor and for a
// session that is not the named person's.
func TestFleetSessionsListAndEnd(t *testing.T) {
	r := startFleetRig(t, false)
	r.grant("alice", "admin")
	r.grant("carol", "auditor")
	ctx := context.Background()
	if _, err := r.dir.PutUser(ctx, store.User{ID: []byte("u-ann"), Name: "ann", DisplayName: "Ann", State: store.UserActive}); err != nil {
		t.Fatal(err)
	}
	h := &heldSession{s: &fleet.TermSession{UserID: []byte("u-ann"), DisplayName: "Ann", Started: time.Now().Add(-time.Minute)}}
	link := &fleet.SessionLink{Client: r.root, Terminal: "bay3", Current: h.current, End: h.end, Every: 50 * time.Millisecond}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); link.Run(lctx) }()
	t.Cleanup(func() { cancel(); <-done })

	var list []fleetapi.FleetSession
	waitFor(t, 10*time.Second, "bay3's session to show", func() bool {
		list = decodeJSON[[]fleetapi.FleetSession](t, r.mustAs("carol", "sessions", "list", "--json"))
		return len(list) == 1
	})
	if list[0].Terminal != "bay3" || list[0].UserName != "ann" || list[0].DisplayName != "Ann" {
		t.Fatalf("sessions list: %+v", list)
	}
	if _, e, code := r.as("carol", "sessions", "end", "bay3"); code != admin.ExitRefused {
		t.Fatalf("an auditor ends a session: exit %d %s", code, e)
	}
	if _, e, code := r.as("alice", "sessions", "end", "bay3", "--user", "bob"); code != admin.ExitConflict || !strings.Contains(e, "ann's") {
		t.Fatalf("ending bob's session where ann's is: exit %d %s", code, e)
	}
	out := r.mustAs("alice", "sessions", "end", "bay3", "--user", "ann")
	if !strings.Contains(out, "ann's session at bay3 ended") || h.current() != nil {
		t.Fatalf("sessions end: %q, session %+v", out, h.current())
	}
	if len(h.req) != 1 || h.req[0].By != "alice" {
		t.Fatalf("the terminal got %+v, want one request by alice", h.req)
	}
	if _, e, code := r.as("alice", "sessions", "end", "bay3"); code != admin.ExitNotFound {
		t.Fatalf("ending a session that ended: exit %d %s", code, e)
	}
}
