package fleet_test

import (
	"context"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

// A key seen at counter 7 at one terminal and at 7 again, later, at
// another is suspected: every mirror audits it, and with the fleet's
// policy refusing clones it is revoked everywhere.
func TestCounterGoingBackAcrossTerminalsIsASuspectedClone(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	rev := seed(t, dir, 2)
	mirror := startTerminal(t, cl, "t3", termOpts{})
	mirror.waitRevision(t, rev, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	det := &fleet.Detector{Client: cl, Refuse: true, Log: quiet}
	go det.Run(ctx)

	cred := key(0, 0).ID
	at := time.Now()
	see := func(terminal string, counter uint32, when time.Time) {
		v, _ := fleet.EncodeSeen(fleet.Seen{CredentialID: cred, Counter: counter, At: when})
		if _, err := cl.Put(ctx, fleet.SeenKey(terminal, cred), string(v)); err != nil {
			t.Fatal(err)
		}
	}
	see("t1", 5, at)
	see("t1", 7, at.Add(time.Minute))
	see("t2", 8, at.Add(2*time.Minute)) // the same key, moved on: fine
	see("t1", 8, at.Add(3*time.Minute)) // its clone, behind
	select {
	case got := <-mirror.revoked:
		if string(got) != string(cred) {
			t.Fatalf("revoked %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the suspected clone was not revoked within 10 s")
	}
	evs, _ := mirror.db.Events(0, 1000)
	var clone *store.AuditEvent
	for i, e := range evs {
		if e.Type == kiosk.EventPossibleClone {
			clone = &evs[i]
		}
	}
	if clone == nil || clone.Detail["seen-at"] != "t1" || clone.Detail["earlier-at"] != "t2" || clone.Detail["counter"] != "8" {
		t.Fatalf("possible-clone entry %+v", clone)
	}
	if _, err := mirror.db.CredentialByID(cred); kiosk.KindOf(err) != kiosk.KindNotFound {
		t.Errorf("suspected key still in the mirror: %v", err)
	}
}
