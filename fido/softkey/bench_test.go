package softkey_test

import (
	"context"
	"testing"

	"passkiosk/fido"
	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
)

// BenchmarkSignIn is one full sign-in over CTAPHID as the appliance does
// it: allocate a channel, getInfo, a PIN token (protocol 2), a discoverable
// assertion, and its verification.
func BenchmarkSignIn(b *testing.B) {
	k, err := softkey.New(softkey.Config{PIN: testPIN})
	if err != nil {
		b.Fatal(err)
	}
	conn := k.Plug()
	defer conn.Unplug()
	ctx := context.Background()
	c, err := host.Open(ctx, conn)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := c.PINToken(ctx, 2, testPIN, softkey.PermMakeCredential, testRP)
	if err != nil {
		b.Fatal(err)
	}
	ch, _ := fido.NewChallenge()
	cdj := fido.ClientDataJSON(fido.TypeCreate, ch, testOrigin)
	h := fido.ClientDataHash(cdj)
	att, err := c.MakeCredential(ctx, host.MakeCredentialArgs{ClientDataHash: h[:], RPID: testRP, UserID: []byte("bench"), RK: true, Token: tok})
	if err != nil {
		b.Fatal(err)
	}
	obj, _ := att.Object()
	reg, err := fido.VerifyRegistration(fido.RegistrationInput{RPID: testRP, Origin: testOrigin, Challenge: ch, ClientDataJSON: cdj, AttestationObject: obj})
	if err != nil {
		b.Fatal(err)
	}
	cred := fido.StoredCredential{ID: reg.CredentialID, PublicKey: reg.PublicKey, Counter: reg.Counter}
	b.ResetTimer()
	for b.Loop() {
		c, err := host.Open(ctx, conn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.GetInfo(ctx); err != nil {
			b.Fatal(err)
		}
		tok, err := c.PINToken(ctx, 2, testPIN, softkey.PermGetAssertion, testRP)
		if err != nil {
			b.Fatal(err)
		}
		ch, _ := fido.NewChallenge()
		cdj := fido.ClientDataJSON(fido.TypeGet, ch, testOrigin)
		h := fido.ClientDataHash(cdj)
		as, err := c.GetAssertion(ctx, host.GetAssertionArgs{RPID: testRP, ClientDataHash: h[:], Token: tok})
		if err != nil {
			b.Fatal(err)
		}
		res, err := fido.VerifyAssertion(fido.AssertionInput{
			RPID: testRP, Origin: testOrigin, Challenge: ch, Credential: cred,
			CredentialID: as.CredentialID(), AuthData: as.AuthData, ClientDataJSON: cdj,
			Signature: as.Signature, UserHandle: as.User.ID, RequireUV: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		cred = res.Updated
	}
}

// BenchmarkPing is the CTAPHID round trip of a message that needs
// continuation packets.
func BenchmarkPing(b *testing.B) {
	k, err := softkey.New(softkey.Config{})
	if err != nil {
		b.Fatal(err)
	}
	conn := k.Plug()
	defer conn.Unplug()
	ctx := context.Background()
	c, err := host.Open(ctx, conn)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := c.Ping(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
}
