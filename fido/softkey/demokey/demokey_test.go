package demokey

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
)

const testPIN = "1234"

// Tap to sign out keeps one touch-only request waiting on the key; when
// the engine's bound and the key's own touch timeout end together, the
// next request must find the key free: the abandoned one is cancelled
// and its answer drained, not left to land on the next request's channel
// (which used to give CTAPHID_ERROR 0x06, "reply on another channel" and
// "bad INIT reply", after which tap to sign out switched itself off).
func TestAbandonedTouchRequestLeavesTheKeyFree(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	k, err := softkey.New(softkey.Config{StatePath: filepath.Join(t.TempDir(), "key.state"), PIN: testPIN, TouchTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	v := New(k)
	v.SetTouch(softkey.TouchAfterDelay, 700*time.Millisecond)
	v.Plug()
	ev := <-v.Events()
	cred := enrollVirtual(t, v, ev.Key.ID)
	req := kiosk.AssertRequest{RPID: "kiosk.example", AllowList: [][]byte{cred}}
	for round := 0; round < 3; round++ {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		_, err := v.Assert(ctx, ev.Key.ID, req)
		cancel()
		if k := kiosk.KindOf(err); k != kiosk.KindTimeout && k != kiosk.KindCancelled {
			t.Fatalf("round %d: an untouched request ended with %v, want a timeout", round, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { time.Sleep(300 * time.Millisecond); v.Touch() }()
	got, err := v.Assert(ctx, ev.Key.ID, req)
	if err != nil || len(got) != 1 {
		t.Fatalf("a touch after abandoned requests: %d assertions, %v", len(got), err)
	}
}

// enrollVirtual registers a credential on the virtual key with its PIN.
func enrollVirtual(t *testing.T, v *Keys, key string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	att, err := v.MakeCredential(ctx, key, kiosk.MakeCredentialRequest{RPID: "kiosk.example", RPName: "Kiosk",
		UserID: []byte("alice"), UserName: "alice", DisplayName: "Alice", UV: kiosk.UV{PIN: []byte(testPIN)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	as, err := v.Assert(ctx2, key, kiosk.AssertRequest{RPID: "kiosk.example", UV: kiosk.UV{PIN: []byte(testPIN)}})
	if err != nil || len(as) != 1 || len(att.AttestationObject) == 0 {
		t.Fatalf("sign-in after enrollment: %+v, %v", as, err)
	}
	return as[0].CredentialID
}
