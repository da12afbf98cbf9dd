package main

import (
	"context"
	"testing"
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
)

// Tap to sign out asks the key for a touch, gives up after a while and
// asks again, for as long as the session lasts. A request given up on must
// leave the key free for the next one: the key is told to stop
// (CTAPHID_CANCEL), and its last word on the old channel is not taken for
// a fault. Before, the key went on waiting for the touch, the next request
// met "channel busy", then the old channel's reply, and after three such
// "faults" tap to sign out switched itself off.
func TestTapRequestsAfterGivingUpFindTheKeyFree(t *testing.T) {
	k, err := softkey.New(softkey.Config{PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	v := newVirtualKeys(k)
	v.SetTouch(0)
	v.Plug()
	<-v.events
	id := v.Present()[0].ID
	reg, err := v.MakeCredential(t.Context(), id, kiosk.MakeCredentialRequest{RPID: "passkiosk.local", RPName: "passkiosk",
		UserID: []byte("alice"), UserName: "alice", DisplayName: "Alice", UV: kiosk.UV{PIN: []byte("1234")}})
	if err != nil || len(reg.AttestationObject) == 0 {
		t.Fatalf("registration: %v", err)
	}
	req := kiosk.AssertRequest{RPID: "passkiosk.local"}
	for i := range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := v.Assert(ctx, id, req)
		cancel()
		if kiosk.KindOf(err) != kiosk.KindTimeout {
			t.Fatalf("touch request %d: %v (kind %v), want a timeout", i, err, kiosk.KindOf(err))
		}
	}
	// And a touch still answers the next one.
	go func() {
		for range 100 {
			time.Sleep(50 * time.Millisecond)
			v.Touch()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := v.Assert(ctx, id, req); err != nil || len(got) == 0 {
		t.Fatalf("touch request after the timeouts: %v", err)
	}
}
