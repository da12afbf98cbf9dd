package usbkey

import (
	"testing"
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
)

// TestKeyMisbehaviourIsRefused turns on each of the virtual key's fault
// switches in turn. Every one must end the sign-in with an error of the
// kind the engine acts on, never with an account, and the adapter must
// carry on working once the key behaves again.
func TestKeyMisbehaviourIsRefused(t *testing.T) {
	tests := []struct {
		fault softkey.Fault
		want  kiosk.Kind
	}{
		// A reply that is not CBOR, or does not decode as a CTAP response.
		{softkey.MalformedCBOR, kiosk.KindDevice},
		// libfido2 drops reports for other channels (CTAP 2.1 §11.2.4) and
		// keeps waiting, so the bounded wait ends it.
		{softkey.WrongChannel, kiosk.KindTimeout},
		// Broken CTAPHID framing from a key that is still plugged in.
		{softkey.TruncatedFrame, kiosk.KindDevice},
		{softkey.OversizedLength, kiosk.KindDevice},
		// Caught by fido.VerifyAssertion, not by libfido2.
		{softkey.BadSignature, kiosk.KindBadSignature},
		{softkey.CounterBackwards, kiosk.KindCounterRegression},
		{softkey.UnplugMidOperation, kiosk.KindDeviceGone},
	}
	r := newRig(t, softkey.Config{PIN: "1234"})
	reg := r.mustRegister(registerIn{UserID: []byte("mallory"), Name: "mallory", Discoverable: true, PIN: "1234"})
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			// The stored counter is the latest one seen, as the store keeps
			// it, so a counter going backwards is noticed.
			good, err := r.signIn(signInIn{PIN: "1234", Known: known(reg)})
			if err != nil {
				t.Fatalf("sign-in before the fault: %v", err)
			}
			stored := known(reg)
			stored[0].Counter = good.Accounts[0].Counter

			// Only the fault that can end in nothing but the time bound gets
			// a short one; the others must fail on their own, and a short
			// bound would turn a slow machine into a false timeout.
			in := signInIn{PIN: "1234", Known: stored}
			if tt.want == kiosk.KindTimeout {
				in.UserTimeout = 2 * time.Second
			}
			r.key.SetFault(tt.fault)
			got, err := r.signIn(in)
			r.key.SetFault(softkey.None)
			if err == nil {
				t.Fatalf("sign-in with %v succeeded: %+v", tt.fault, got)
			}
			wantKind(t, err, tt.want)
			if !r.key.Plugged() || tt.fault == softkey.UnplugMidOperation {
				r.plug()
			}
			// Checked against the registration's counter: after
			// CounterBackwards the key's counter stays below the stored
			// one for good, which is the point of that check.
			if _, err := r.signIn(signInIn{PIN: "1234", Known: known(reg)}); err != nil {
				t.Fatalf("sign-in after clearing %v: %v", tt.fault, err)
			}
		})
	}
}

// TestMisbehaviourDuringEnrollment checks the same switches on
// authenticatorMakeCredential: nothing is enrolled from a key that
// misbehaves.
func TestMisbehaviourDuringEnrollment(t *testing.T) {
	tests := []struct {
		fault softkey.Fault
		want  kiosk.Kind
	}{
		{softkey.MalformedCBOR, kiosk.KindDevice},
		{softkey.TruncatedFrame, kiosk.KindDevice},
		{softkey.OversizedLength, kiosk.KindDevice},
		{softkey.BadSignature, kiosk.KindBadAttestation},
		{softkey.UnplugMidOperation, kiosk.KindDeviceGone},
	}
	r := newRig(t, softkey.Config{PIN: "1234"})
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			r.key.SetFault(tt.fault)
			got, err := r.register(registerIn{UserID: []byte("oscar"), Name: "oscar", PIN: "1234", RootDER: r.key.AttestationRoot().Raw})
			r.key.SetFault(softkey.None)
			if err == nil {
				t.Fatalf("enrollment with %v succeeded: %+v", tt.fault, got)
			}
			wantKind(t, err, tt.want)
			if tt.fault == softkey.UnplugMidOperation {
				r.plug()
			}
			if _, err := r.register(registerIn{UserID: []byte("oscar"), Name: "oscar", PIN: "1234"}); err != nil {
				t.Fatalf("enrollment after clearing %v: %v", tt.fault, err)
			}
		})
	}
}
