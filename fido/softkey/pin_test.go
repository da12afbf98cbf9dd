package softkey_test

import (
	"path/filepath"
	"testing"

	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
)

// TestPINRetryRules walks the CTAP 2.1 §6.5.2.2 rules: every wrong PIN
// costs one of 8 tries, three in a row block PIN use until the key is
// re-plugged, a right PIN restores all tries, and at zero the PIN is
// blocked for good. Both protocols share one counter.
func TestPINRetryRules(t *testing.T) {
	for _, proto := range []int{1, 2} {
		t.Run(map[int]string{1: "protocol 1", 2: "protocol 2"}[proto], func(t *testing.T) {
			r := newRig(t, softkey.Config{PIN: testPIN})
			wrong := func(want softkey.Status, triesAfter int) {
				t.Helper()
				_, err := r.c.PINToken(ctx(t), proto, "0000", softkey.PermGetAssertion, testRP)
				wantStatus(t, err, want)
				if n, err := r.c.PINRetries(ctx(t)); err != nil || n != triesAfter || r.key.PINRetries() != triesAfter {
					t.Fatalf("retries %d (%v), key says %d, want %d", n, err, r.key.PINRetries(), triesAfter)
				}
			}
			wrong(softkey.StatusPINInvalid, 7)
			wrong(softkey.StatusPINInvalid, 6)
			// A right PIN in between restores every try.
			if _, err := r.c.PINToken(ctx(t), proto, testPIN, softkey.PermGetAssertion, testRP); err != nil {
				t.Fatal(err)
			}
			if r.key.PINRetries() != 8 {
				t.Fatalf("retries %d after right PIN", r.key.PINRetries())
			}
			wrong(softkey.StatusPINInvalid, 7)
			wrong(softkey.StatusPINInvalid, 6)
			wrong(softkey.StatusPINAuthBlocked, 5)
			// Blocked for this power cycle: even the right PIN is refused
			// and costs nothing.
			_, err := r.c.PINToken(ctx(t), proto, testPIN, softkey.PermGetAssertion, testRP)
			wantStatus(t, err, softkey.StatusPINAuthBlocked)
			if r.key.PINRetries() != 5 {
				t.Fatalf("blocked attempt cost a try: %d", r.key.PINRetries())
			}
			r.plug()
			wrong(softkey.StatusPINInvalid, 4)
			wrong(softkey.StatusPINInvalid, 3)
			wrong(softkey.StatusPINAuthBlocked, 2)
			r.plug()
			wrong(softkey.StatusPINInvalid, 1)
			wrong(softkey.StatusPINBlocked, 0)
			r.plug()
			_, err = r.c.PINToken(ctx(t), proto, testPIN, softkey.PermGetAssertion, testRP)
			wantStatus(t, err, softkey.StatusPINBlocked)
		})
	}
}

func TestPINRetriesSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.state")
	r := newRig(t, softkey.Config{PIN: testPIN, StatePath: path})
	_, err := r.c.PINToken(ctx(t), 2, "9999", softkey.PermGetAssertion, testRP)
	wantStatus(t, err, softkey.StatusPINInvalid)
	r2 := newRig(t, softkey.Config{StatePath: path})
	if n, err := r2.c.PINRetries(ctx(t)); err != nil || n != 7 {
		t.Fatalf("retries after restart %d %v", n, err)
	}
}

func TestPINManagement(t *testing.T) {
	for _, proto := range []int{1, 2} {
		r := newRig(t, softkey.Config{})
		_, err := r.c.PINToken(ctx(t), proto, testPIN, softkey.PermGetAssertion, testRP)
		wantStatus(t, err, softkey.StatusPINNotSet)
		wantStatus(t, r.c.SetPIN(ctx(t), proto, "123"), softkey.StatusPINPolicyViolation)
		if err := r.c.SetPIN(ctx(t), proto, "12345678"); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, r.c.SetPIN(ctx(t), proto, "87654321"), softkey.StatusNotAllowed)
		wantStatus(t, r.c.ChangePIN(ctx(t), proto, "00000000", "2468"), softkey.StatusPINInvalid)
		if r.key.PINRetries() != 7 {
			t.Fatalf("wrong current PIN in changePIN left %d tries", r.key.PINRetries())
		}
		if err := r.c.ChangePIN(ctx(t), proto, "12345678", "2468"); err != nil {
			t.Fatalf("changePIN: %v", err)
		}
		_, err = r.c.PINToken(ctx(t), proto, "12345678", softkey.PermGetAssertion, testRP)
		wantStatus(t, err, softkey.StatusPINInvalid)
		if _, err := r.c.PINToken(ctx(t), proto, "2468", 0, ""); err != nil {
			t.Fatalf("legacy getPinToken with new PIN: %v", err)
		}
		// A four-character PIN of multi-byte characters meets the
		// minimum, which counts code points.
		wantStatus(t, r.c.ChangePIN(ctx(t), proto, "2468", "äöü"), softkey.StatusPINPolicyViolation)
		if err := r.c.ChangePIN(ctx(t), proto, "2468", "äöüß"); err != nil {
			t.Fatalf("changePIN to 4 runes: %v", err)
		}
	}
}

// TestTokenPermissions: a token works only for what it was asked for, for
// the RP it was asked for, under the protocol that made it, and only the
// newest token works.
func TestTokenPermissions(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN})
	gaOnly, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermGetAssertion, testRP)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.tryRegister(host.MakeCredentialArgs{Token: gaOnly}, false)
	wantStatus(t, err, softkey.StatusPINAuthInvalid)

	other, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermMakeCredential, "other.example")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.tryRegister(host.MakeCredentialArgs{Token: other}, false)
	wantStatus(t, err, softkey.StatusPINAuthInvalid)

	old, err := r.c.PINToken(ctx(t), 1, testPIN, softkey.PermMakeCredential, testRP)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := r.c.PINToken(ctx(t), 1, testPIN, softkey.PermMakeCredential, testRP)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.tryRegister(host.MakeCredentialArgs{Token: old}, false)
	wantStatus(t, err, softkey.StatusPINAuthInvalid)
	swapped := &host.Token{Protocol: 2, Value: fresh.Value}
	_, err = r.tryRegister(host.MakeCredentialArgs{Token: swapped}, false)
	wantStatus(t, err, softkey.StatusPINAuthInvalid)
	if _, err := r.tryRegister(host.MakeCredentialArgs{Token: fresh}, true); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	// A power cycle forgets the token.
	r.plug()
	_, err = r.tryRegister(host.MakeCredentialArgs{Token: fresh}, false)
	wantStatus(t, err, softkey.StatusPINAuthInvalid)

	// Permissions this key does not offer (credential management).
	_, err = r.c.PINToken(ctx(t), 2, testPIN, 0x04, testRP)
	wantStatus(t, err, softkey.StatusUnauthorizedPermission)
}

func TestOfferedProtocolsOnly(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN, PINProtocols: []int{1}})
	in, err := r.c.GetInfo(ctx(t))
	if err != nil || len(in.PINProtocols) != 1 || in.PINProtocols[0] != 1 {
		t.Fatalf("pinUvAuthProtocols %v %v", in.PINProtocols, err)
	}
	_, err = r.c.PINToken(ctx(t), 2, testPIN, softkey.PermGetAssertion, testRP)
	wantStatus(t, err, softkey.StatusInvalidParameter)
	if _, err := r.c.PINToken(ctx(t), 1, testPIN, softkey.PermGetAssertion, testRP); err != nil {
		t.Fatal(err)
	}
	if _, err := softkey.New(softkey.Config{PINProtocols: []int{3}}); err == nil {
		t.Fatal("protocol 3 accepted")
	}
}
