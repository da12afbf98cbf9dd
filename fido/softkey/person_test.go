package softkey_test

import (
	"testing"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
)

// TestFingerprintSignIn: a finger gives a token that carries presence, so
// the assertion needs no second touch and has UP and UV.
func TestFingerprintSignIn(t *testing.T) {
	for _, proto := range []int{1, 2} {
		r := newRig(t, softkey.Config{PIN: testPIN, Fingerprint: true})
		tok, err := r.c.UVToken(ctx(t), proto, softkey.PermMakeCredential, testRP)
		if err != nil {
			t.Fatalf("UV token: %v", err)
		}
		reg := r.register(host.MakeCredentialArgs{RK: true, Token: tok}, true)
		tok, err = r.c.UVToken(ctx(t), proto, softkey.PermGetAssertion, testRP)
		if err != nil {
			t.Fatal(err)
		}
		// Nobody touches the key again: the finger was the touch.
		r.key.SetTouch(softkey.TouchNever, 0)
		_, res, err := r.assert(host.GetAssertionArgs{Token: tok}, stored(reg), true)
		if err != nil {
			t.Fatalf("assertion: %v", err)
		}
		if res.Flags&(fido.FlagUP|fido.FlagUV) != fido.FlagUP|fido.FlagUV {
			t.Fatalf("flags %v", res.Flags)
		}
		// The "uv" option reads the finger directly, too.
		r.key.SetTouch(softkey.TouchGiven, 0)
		if _, res, err = r.assert(host.GetAssertionArgs{UV: true}, stored(reg), true); err != nil || res.Flags&fido.FlagUV == 0 {
			t.Fatalf("uv option: %v", err)
		}
	}
}

// TestFingerprintLockoutFallsBackToPIN: five unknown fingers block the
// sensor; the PIN still works and restores the sensor's tries.
func TestFingerprintLockoutFallsBackToPIN(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN, Fingerprint: true})
	r.key.SetFingerprint(false)
	for want := 4; want >= 1; want-- {
		_, err := r.c.UVToken(ctx(t), 2, softkey.PermGetAssertion, testRP)
		wantStatus(t, err, softkey.StatusUVInvalid)
		if n, err := r.c.UVRetries(ctx(t)); err != nil || n != want {
			t.Fatalf("uv retries %d %v, want %d", n, err, want)
		}
	}
	_, err := r.c.UVToken(ctx(t), 2, softkey.PermGetAssertion, testRP)
	wantStatus(t, err, softkey.StatusUVBlocked)
	r.key.SetFingerprint(true)
	_, err = r.c.UVToken(ctx(t), 2, softkey.PermGetAssertion, testRP)
	wantStatus(t, err, softkey.StatusUVBlocked)
	// Re-plugging does not help a blocked sensor.
	r.plug()
	_, err = r.c.UVToken(ctx(t), 2, softkey.PermGetAssertion, testRP)
	wantStatus(t, err, softkey.StatusUVBlocked)
	if r.key.PINRetries() != 8 {
		t.Fatal("fingerprint failures cost PIN tries")
	}
	if _, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermGetAssertion, testRP); err != nil {
		t.Fatalf("PIN fallback: %v", err)
	}
	if r.key.UVRetries() != 5 {
		t.Fatalf("uv retries %d after right PIN", r.key.UVRetries())
	}
	if _, err := r.c.UVToken(ctx(t), 2, softkey.PermGetAssertion, testRP); err != nil {
		t.Fatalf("finger after PIN: %v", err)
	}
}

func TestNoSensorNoBuiltInUV(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN})
	_, err := r.c.UVToken(ctx(t), 2, softkey.PermGetAssertion, testRP)
	wantStatus(t, err, softkey.StatusNotAllowed)
	_, err = r.c.UVRetries(ctx(t))
	wantStatus(t, err, softkey.StatusInvalidSubcommand)
	_, err = r.tryRegister(host.MakeCredentialArgs{UV: true}, false)
	wantStatus(t, err, softkey.StatusInvalidOption)
}

func TestTouchModes(t *testing.T) {
	r := newRig(t, softkey.Config{TouchTimeout: 300 * time.Millisecond})
	r.key.SetTouch(softkey.TouchRefused, 30*time.Millisecond)
	_, err := r.tryRegister(host.MakeCredentialArgs{}, false)
	wantStatus(t, err, softkey.StatusOperationDenied)

	r.key.SetTouch(softkey.TouchNever, 0)
	_, err = r.tryRegister(host.MakeCredentialArgs{}, false)
	wantStatus(t, err, softkey.StatusUserActionTimeout)
	if len(r.key.Credentials()) != 0 {
		t.Fatal("credential made without a touch")
	}

	// A delay longer than the timeout is a timeout too.
	r.key.SetTouch(softkey.TouchAfterDelay, time.Second)
	_, err = r.tryRegister(host.MakeCredentialArgs{}, false)
	wantStatus(t, err, softkey.StatusUserActionTimeout)

	// In TouchNever mode a Touch call answers the wait.
	r.key.SetTouch(softkey.TouchNever, 0)
	done := make(chan error, 1)
	go func() {
		_, err := r.tryRegister(host.MakeCredentialArgs{}, false)
		done <- err
	}()
	// Touch until the key has taken one: a touch before the key asks is
	// forgotten, as on a real key.
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("touched: %v", err)
			}
			waiting = false
		case <-time.After(20 * time.Millisecond):
			r.key.Touch()
		}
	}
	if len(r.key.Credentials()) != 1 {
		t.Fatal("no credential after the touch")
	}
}

func TestResetWindowAndEffect(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN, ResetWindow: 300 * time.Millisecond})
	r.register(host.MakeCredentialArgs{}, false)
	_, err := r.c.PINToken(ctx(t), 2, "0000", softkey.PermGetAssertion, testRP)
	wantStatus(t, err, softkey.StatusPINInvalid)

	r.key.SetTouch(softkey.TouchRefused, 0)
	wantStatus(t, r.c.Reset(ctx(t)), softkey.StatusOperationDenied)
	r.key.SetTouch(softkey.TouchGiven, 0)
	time.Sleep(350 * time.Millisecond) // let the reset window close
	wantStatus(t, r.c.Reset(ctx(t)), softkey.StatusNotAllowed)

	r.plug()
	if err := r.c.Reset(ctx(t)); err != nil {
		t.Fatalf("reset after plug: %v", err)
	}
	if r.key.PINSet() || len(r.key.Credentials()) != 0 || r.key.PINRetries() != 8 {
		t.Fatalf("after reset: pin %v creds %d retries %d", r.key.PINSet(), len(r.key.Credentials()), r.key.PINRetries())
	}
}
