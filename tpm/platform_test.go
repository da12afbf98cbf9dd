package tpm_test

import (
	"errors"
	"testing"

	"passkiosk/fido"
	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

// The engine's port: enroll and sign in through kiosk.Platform, with the
// credential record stored the way kiosk.Credential holds it.
func TestPlatformPortEnrollAndAssert(t *testing.T) {
	tr := tpmtest.Simulator(t)
	var p kiosk.Platform = tpm.NewPlatform(tpmtest.Open(t, tr, tpm.Config{}), nil)
	if ok, why := p.Status(); !ok {
		t.Fatalf("Status: %s", why)
	}
	c := newCeremony(t, fido.TypeCreate)
	pe, err := p.Enroll(ctx, rpID, []byte("user-17"), c.hash, []byte(pin))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := fido.VerifyRegistration(fido.RegistrationInput{
		RPID: rpID, Origin: origin, Challenge: c.challenge,
		ClientDataJSON: c.clientData, AttestationObject: pe.AttestationObject, RequireUV: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	cred := kiosk.Credential{
		ID: reg.CredentialID, PublicKey: reg.PublicKey, Counter: reg.Counter, AAGUID: reg.AAGUID,
		Attachment: kiosk.AttachPlatform, TPMPublic: pe.TPMPublic, TPMPrivate: pe.TPMPrivate,
	}

	g := newCeremony(t, fido.TypeGet)
	authData, sig, err := p.Assert(ctx, cred, rpID, g.hash, []byte(pin))
	if err != nil {
		t.Fatal(err)
	}
	res, err := fido.VerifyAssertion(fido.AssertionInput{
		RPID: rpID, Origin: origin, Challenge: g.challenge,
		Credential:   fido.StoredCredential{ID: cred.ID, PublicKey: cred.PublicKey, Counter: cred.Counter},
		CredentialID: cred.ID, AuthData: authData, ClientDataJSON: g.clientData, Signature: sig, RequireUV: true,
	})
	if err != nil {
		t.Fatalf("VerifyAssertion: %v", err)
	}
	if res.Counter <= cred.Counter {
		t.Error("counter did not advance")
	}

	// A record whose blobs are another credential's is refused.
	other := cred
	other.ID = append([]byte(nil), cred.ID...)
	other.ID[5] ^= 1
	if _, _, err := p.Assert(ctx, other, rpID, g.hash, []byte(pin)); !errors.Is(err, kiosk.ErrStoreCorrupt) {
		t.Fatalf("mismatched record: %v", err)
	}
	_, _, err = p.Assert(ctx, cred, rpID, g.hash, []byte("0000"))
	if !errors.Is(err, kiosk.ErrPINInvalid) || kiosk.TriesLeft(err) < 0 {
		t.Fatalf("wrong PIN through the port: %v", err)
	}
}

func TestPlatformWithoutTPMSaysWhy(t *testing.T) {
	_, err := tpm.Open(tpm.Config{Device: "/nonexistent/tpmrm0"})
	p := tpm.NewPlatform(nil, err)
	ok, why := p.Status()
	if ok || why == "" || why != err.Error() {
		t.Fatalf("Status = %v, %q", ok, why)
	}
	if _, err := p.Enroll(ctx, rpID, nil, [32]byte{}, []byte(pin)); !errors.Is(err, kiosk.ErrNoTPM) {
		t.Fatalf("Enroll without TPM: %v", err)
	}
}
