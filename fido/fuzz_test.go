package fido_test

import (
	"bytes"
	"errors"
	"testing"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
	"passkiosk/fido/fidotest"
	"passkiosk/kiosk"
)

// Seeds come from the conformance vectors when they are present, and from
// the test authenticator always.
func vectorsOrNone(f *testing.F) []*fidotest.Vector {
	dir, ok := fidotest.Dir()
	if !ok {
		return nil
	}
	vs, err := fidotest.Load(dir)
	if err != nil {
		f.Fatal(err)
	}
	return vs
}

// mustKind fails unless err is a *kiosk.Error with a known kind: every
// rejection must say what was wrong.
func mustKind(t *testing.T, err error) {
	t.Helper()
	var ke *kiosk.Error
	if !errors.As(err, &ke) || ke.Kind == kiosk.KindUnknown {
		t.Fatalf("error without a kind: %v", err)
	}
}

func FuzzParseAuthData(f *testing.F) {
	for _, v := range vectorsOrNone(f) {
		if len(v.AuthenticatorData) > 0 {
			f.Add([]byte(v.AuthenticatorData))
		}
	}
	f.Add(attestedAuthData(32, nil))
	f.Add(attestedAuthData(16, []byte{0xa1, 0x61, 'x', 0xf5}))
	f.Add(nonCanonicalKeyAuthData(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		ad, err := fido.ParseAuthData(b)
		if err != nil {
			if ad != nil {
				t.Fatal("error with a result")
			}
			mustKind(t, err)
			return
		}
		if !bytes.Equal(ad.Marshal(), b) {
			t.Fatal("what parses does not re-encode to the same bytes")
		}
		if ad.Attested != nil && (len(ad.Attested.CredentialID) > fido.MaxCredentialIDLen || len(ad.Attested.CredentialID) == 0) {
			t.Fatal("credential ID length out of range")
		}
		if ad.Flags.Has(fido.FlagBS) && !ad.Flags.Has(fido.FlagBE) {
			t.Fatal("BS without BE accepted")
		}
		if ad.Attested != nil && cbor.CanonicalKeys(ad.Attested.PublicKey) != nil {
			t.Fatal("a credential public key out of canonical order accepted")
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	for _, v := range vectorsOrNone(f) {
		if len(v.Credential.PublicKey) > 0 {
			f.Add([]byte(v.Credential.PublicKey))
		}
	}
	for _, alg := range fido.DefaultAlgs {
		f.Add(fidotest.NewAuthenticator(alg).PublicKey())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := fido.ParsePublicKey(b)
		if err != nil {
			if k != nil {
				t.Fatal("error with a result")
			}
			mustKind(t, err)
			return
		}
		k2, err := fido.ParsePublicKey(k.Bytes())
		if err != nil {
			t.Fatalf("canonical form does not parse: %v", err)
		}
		if k2.Alg() != k.Alg() || !bytes.Equal(k2.Bytes(), k.Bytes()) {
			t.Fatal("canonical form is not stable")
		}
		if k.Verify([]byte("m"), nil) == nil {
			t.Fatal("empty signature verified")
		}
	})
}

func FuzzVerifyRegistration(f *testing.F) {
	a := fidotest.NewAuthenticator(fido.AlgES256)
	var ch fido.Challenge
	cd := fido.ClientDataJSON(fido.TypeCreate, ch, origin)
	f.Add(a.MakeCredential(rpID, cd))
	for _, v := range vectorsOrNone(f) {
		if len(v.AttestationObject) > 0 {
			f.Add([]byte(v.AttestationObject))
		}
	}
	f.Fuzz(func(t *testing.T, ao []byte) {
		reg, err := fido.VerifyRegistration(fido.RegistrationInput{
			RPID: rpID, Origin: origin, Challenge: ch, ClientDataJSON: cd, AttestationObject: ao,
		})
		if err != nil {
			if reg != nil {
				t.Fatal("error with a result")
			}
			mustKind(t, err)
			return
		}
		if !reg.Flags.Has(fido.FlagUP) {
			t.Fatal("registration without user presence accepted")
		}
		if _, err := fido.ParsePublicKey(reg.PublicKey); err != nil {
			t.Fatalf("accepted registration stores a key that does not parse: %v", err)
		}
		if reg.Trusted {
			t.Fatal("trusted without trust anchors")
		}
		// The only attestation here that verifies is self attestation by
		// the credential key over our client data: anything else accepted
		// would be a forgery.
		if reg.Type != fido.AttestationSelf && reg.Type != fido.AttestationNone {
			t.Fatalf("accepted %s attestation", reg.Type)
		}
	})
}

func FuzzVerifyAssertion(f *testing.F) {
	a := fidotest.NewAuthenticator(fido.AlgES256)
	cred := fido.StoredCredential{ID: a.CredID, PublicKey: a.PublicKey(), Counter: 5}
	a.Count = 10
	in := assertion(a, cred)
	f.Add(in.AuthData, in.Signature, in.ClientDataJSON)
	for _, v := range vectorsOrNone(f) {
		if v.Kind == "authentication" {
			f.Add([]byte(v.AuthenticatorData), []byte(v.Signature), []byte(v.ClientDataJSON))
		}
	}
	f.Fuzz(func(t *testing.T, authData, sig, clientData []byte) {
		try := in
		try.AuthData, try.Signature, try.ClientDataJSON = authData, sig, clientData
		res, err := fido.VerifyAssertion(try)
		if err != nil {
			if res != nil {
				t.Fatal("error with a result")
			}
			mustKind(t, err)
			return
		}
		if !res.Flags.Has(fido.FlagUP | fido.FlagUV) {
			t.Fatal("accepted without UP and UV under a UV-required policy")
		}
		if res.Updated.Counter <= cred.Counter {
			t.Fatal("accepted a counter that did not increase")
		}
		// Only the authenticator's own signature over exactly these bytes
		// can pass; ECDSA signatures are malleable only by the signer.
		k, _ := fido.ParsePublicKey(cred.PublicKey)
		h := fido.ClientDataHash(clientData)
		if k.Verify(append(bytes.Clone(authData), h[:]...), sig) != nil {
			t.Fatal("accepted a signature that does not verify")
		}
	})
}

func FuzzStrictCBOR(f *testing.F) {
	f.Add([]byte{0xa2, 0x01, 0x02, 0x03, 0x04})
	f.Add([]byte{0xa2, 0x01, 0x02, 0x01, 0x04})
	f.Add([]byte{0x9f, 0x01, 0xff})
	f.Add([]byte{0xc1, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if cbor.Unmarshal(b, &v) != nil {
			return
		}
		// What strict decoding accepts contains no duplicate keys, tags or
		// indefinite lengths, so canonical re-encoding must succeed and
		// decode back to an equal value.
		enc, err := cbor.Marshal(v)
		if err != nil {
			t.Fatalf("accepted value does not re-encode: %v", err)
		}
		var v2 any
		if err := cbor.Unmarshal(enc, &v2); err != nil {
			t.Fatalf("canonical encoding does not decode: %v", err)
		}
		enc2, _ := cbor.Marshal(v2)
		if !bytes.Equal(enc, enc2) {
			t.Fatal("canonical encoding is not stable")
		}
	})
}
