package softkey_test

import (
	"errors"
	"testing"
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
	"passkiosk/kiosk"
)

// TestFramingFaults: each broken reply is caught by a strict host as the
// specific framing error, and the key works again once the fault is off.
func TestFramingFaults(t *testing.T) {
	cases := []struct {
		fault softkey.Fault
		check func(error) bool
	}{
		{softkey.MalformedCBOR, func(err error) bool { return err != nil && !errors.As(err, new(softkey.Status)) }},
		{softkey.WrongChannel, func(err error) bool { return errors.Is(err, host.ErrWrongChannel) }},
		{softkey.TruncatedFrame, func(err error) bool { return errors.Is(err, host.ErrTruncated) }},
		{softkey.OversizedLength, func(err error) bool { return errors.Is(err, host.ErrTooLong) }},
	}
	for _, tc := range cases {
		t.Run(tc.fault.String(), func(t *testing.T) {
			r := newRig(t, softkey.Config{})
			reg := r.register(host.MakeCredentialArgs{RK: true}, false)
			// getInfo is not affected, so a host can still open the key.
			r.key.SetFault(tc.fault)
			if _, err := r.c.GetInfo(ctx(t)); err != nil {
				t.Fatalf("getInfo under %v: %v", tc.fault, err)
			}
			_, _, err := r.assert(host.GetAssertionArgs{}, stored(reg), false)
			if !tc.check(err) {
				t.Fatalf("assertion under %v: %v", tc.fault, err)
			}
			if tc.fault == softkey.WrongChannel {
				// The host heard nothing on its channel; its cancel ends
				// the wait.
				if err := r.c.Cancel(); err != nil {
					t.Fatal(err)
				}
				r.c.SkipOtherChannels = true
				_, reply, err := r.c.Recv(ctx(t))
				r.c.SkipOtherChannels = false
				if err != nil || softkey.Status(reply[0]) != softkey.StatusKeepaliveCancel {
					t.Fatalf("cancel after a stray answer: %x %v", reply, err)
				}
			}
			_, err = r.tryRegister(host.MakeCredentialArgs{}, false)
			if !tc.check(err) {
				t.Fatalf("registration under %v: %v", tc.fault, err)
			}
			r.key.SetFault(softkey.None)
			r.plug() // a confused host starts over
			if _, _, err := r.assert(host.GetAssertionArgs{}, stored(reg), false); err != nil {
				t.Fatalf("after the fault: %v", err)
			}
		})
	}
}

// TestBadSignatureFault: well-formed replies whose signatures do not
// verify, for both attestation and assertion.
func TestBadSignatureFault(t *testing.T) {
	r := newRig(t, softkey.Config{})
	reg := r.register(host.MakeCredentialArgs{RK: true}, false)
	r.key.SetFault(softkey.BadSignature)
	_, _, err := r.assert(host.GetAssertionArgs{}, stored(reg), false)
	if !errors.Is(err, kiosk.ErrBadSignature) {
		t.Fatalf("assertion: %v, want bad-signature", err)
	}
	// The key's packed attestation carries x5c, so the statement's
	// signature is checked as part of the attestation (WebAuthn §8.2
	// step 2): always bad-attestation, never bad-signature.
	_, err = r.tryRegister(host.MakeCredentialArgs{UserID: []byte("other")}, false)
	if !errors.Is(err, kiosk.ErrBadAttestation) {
		t.Fatalf("registration: %v, want bad-attestation", err)
	}
}

// TestTruncatedFrameCutsShortReplies: a reply that fits in one
// initialization packet (here the one-byte status of a getAssertion that
// finds no credential) is cut short as well.
func TestTruncatedFrameCutsShortReplies(t *testing.T) {
	r := newRig(t, softkey.Config{})
	args := host.GetAssertionArgs{RPID: "nobody.example", ClientDataHash: make([]byte, 32)}
	_, err := r.c.GetAssertion(ctx(t), args)
	wantStatus(t, err, softkey.StatusNoCredentials)
	r.key.SetFault(softkey.TruncatedFrame)
	if _, err := r.c.GetAssertion(ctx(t), args); !errors.Is(err, host.ErrTruncated) {
		t.Fatalf("short reply under TruncatedFrame: %v, want ErrTruncated", err)
	}
}

// TestCounterBackwardsFault: the relying party sees the counter fall.
func TestCounterBackwardsFault(t *testing.T) {
	r := newRig(t, softkey.Config{})
	reg := r.register(host.MakeCredentialArgs{RK: true}, false)
	cred := stored(reg)
	_, res, err := r.assert(host.GetAssertionArgs{}, cred, false)
	if err != nil {
		t.Fatal(err)
	}
	cred = &res.Updated
	r.key.SetFault(softkey.CounterBackwards)
	_, _, err = r.assert(host.GetAssertionArgs{}, cred, false)
	if !errors.Is(err, kiosk.ErrCounterRegression) {
		t.Fatalf("got %v, want counter-regression", err)
	}
}

// TestUnplugMidOperationFault: the key drops off the bus while it works;
// the host's read ends with ErrUnplugged, and a re-plug brings it back.
func TestUnplugMidOperationFault(t *testing.T) {
	r := newRig(t, softkey.Config{})
	reg := r.register(host.MakeCredentialArgs{RK: true}, false)
	r.key.SetFault(softkey.UnplugMidOperation)
	_, _, err := r.assert(host.GetAssertionArgs{}, stored(reg), false)
	if !errors.Is(err, softkey.ErrUnplugged) {
		t.Fatalf("got %v, want ErrUnplugged", err)
	}
	if r.key.Plugged() {
		t.Fatal("key still plugged")
	}
	select {
	case <-r.conn.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed")
	}
	r.plug()
	if _, _, err := r.assert(host.GetAssertionArgs{}, stored(reg), false); err != nil {
		t.Fatalf("after re-plug: %v", err)
	}
}

func TestFaultNames(t *testing.T) {
	tests := []struct {
		fault softkey.Fault
		want  string
	}{
		{softkey.None, "None"},
		{softkey.MalformedCBOR, "MalformedCBOR"},
		{softkey.WrongChannel, "WrongChannel"},
		{softkey.TruncatedFrame, "TruncatedFrame"},
		{softkey.OversizedLength, "OversizedLength"},
		{softkey.BadSignature, "BadSignature"},
		{softkey.CounterBackwards, "CounterBackwards"},
		{softkey.UnplugMidOperation, "UnplugMidOperation"},
		{softkey.UnplugMidOperation + 1, "Fault(?)"},
		{-1, "Fault(?)"},
	}
	for _, tt := range tests {
		if got := tt.fault.String(); got != tt.want {
			t.Errorf("Fault(%d).String() = %q, want %q", int(tt.fault), got, tt.want)
		}
	}
}
