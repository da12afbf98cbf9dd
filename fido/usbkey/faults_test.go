package usbkey

import (
	"testing"
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
)

// wrongChannelTimeout bounds the operations under the WrongChannel fault.
//
// A key that answers on another CTAPHID channel is reported as a timeout,
// not as a faulty key, and only once the operation's time bound has run
// out (45 s by default while a touch is awaited). No clean detection
// exists through libfido2's API (checked against libfido2 1.12, Debian
// 12):
//   - rx_preamble (src/io.c) reads reports in a loop that silently skips
//     every report whose channel is not the handle's and every KEEPALIVE
//     on its own channel; it logs nothing about them and has no callback,
//     so the caller sees neither the stray answer nor the end of the
//     keepalives (CTAP 2.1 §11.2.9.1.3: a key SHOULD send one every
//     100 ms while it waits for a touch).
//   - The only hooks below that loop, fido_dev_set_io_functions and
//     fido_dev_set_transport_functions, replace libfido2's hidraw
//     transport or its CTAPHID framing wholesale; libfido2's own hidraw
//     functions (report sizes, the flock that keeps two clients apart) are
//     not exported, so they could not be wrapped, only rewritten.
//   - Neither signal would prove a fault anyway. Reports on other
//     channels are normal when another client, such as the session's
//     browser, talks to the same key (CTAP 2.1 §11.2.4: channels exist
//     so that clients can share a key); and keepalives are a SHOULD, so a
//     silent but conforming key would be refused as broken.
//
// So the kind stays KindTimeout, and the tests give these operations a
// short bound.
const wrongChannelTimeout = 2 * time.Second

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
		// libfido2 drops reports for other channels and keeps waiting, so
		// the bounded wait ends it (see wrongChannelTimeout).
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
				in.UserTimeout = wrongChannelTimeout
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
		{softkey.WrongChannel, kiosk.KindTimeout},
		{softkey.TruncatedFrame, kiosk.KindDevice},
		{softkey.OversizedLength, kiosk.KindDevice},
		{softkey.BadSignature, kiosk.KindBadAttestation},
		{softkey.UnplugMidOperation, kiosk.KindDeviceGone},
	}
	r := newRig(t, softkey.Config{PIN: "1234"})
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			in := registerIn{UserID: []byte("oscar"), Name: "oscar", PIN: "1234", RootDER: r.key.AttestationRoot().Raw}
			if tt.want == kiosk.KindTimeout {
				in.UserTimeout = wrongChannelTimeout
			}
			r.key.SetFault(tt.fault)
			got, err := r.register(in)
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

// A key pulled during the PIN exchange is reported as gone, not as a
// faulty key (libfido2 says FIDO_ERR_INTERNAL when the key agreement
// never comes back), and the next sign-in after a re-plug works.
func TestKeyPulledDuringThePINExchangeIsGone(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	reg := r.mustRegister(registerIn{UserID: []byte("peggy"), Name: "peggy", Discoverable: true, PIN: "1234"})
	r.key.SetFault(softkey.UnplugDuringPIN)
	got, err := r.signIn(signInIn{PIN: "1234", Known: known(reg)})
	r.key.SetFault(softkey.None)
	if err == nil {
		t.Fatalf("sign-in with the key pulled succeeded: %+v", got)
	}
	wantKind(t, err, kiosk.KindDeviceGone)
	r.plug()
	if _, err := r.signIn(signInIn{PIN: "1234", Known: known(reg)}); err != nil {
		t.Fatalf("sign-in after re-plugging: %v", err)
	}
}

// Tap to sign out through libfido2: a touch request that runs out of time
// is cancelled on the key, and the next one finds the key free, again and
// again, as during a long session (the demo's key adapter once failed
// this way: see cmd/passkiosk's TestTapRequestsAfterGivingUpFindTheKeyFree).
func TestTouchRequestsThatTimeOutLeaveTheKeyFree(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	reg := r.mustRegister(registerIn{UserID: []byte("trent"), Name: "trent", Discoverable: true, PIN: "1234"})
	r.key.SetTouch(softkey.TouchNever, 0)
	for i := range 4 {
		_, err := r.signIn(signInIn{Presence: true, AllowList: [][]byte{reg.CredentialID}, Known: known(reg), UserTimeout: 700 * time.Millisecond})
		if kiosk.KindOf(err) != kiosk.KindTimeout {
			t.Fatalf("touch request %d: %v, want a timeout", i, err)
		}
	}
	r.key.SetTouch(softkey.TouchAfterDelay, 50*time.Millisecond)
	if _, err := r.signIn(signInIn{Presence: true, AllowList: [][]byte{reg.CredentialID}, Known: known(reg)}); err != nil {
		t.Fatalf("touch request after the timeouts: %v", err)
	}
}
