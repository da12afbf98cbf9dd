package fido_test

import (
	"errors"
	"testing"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
	"passkiosk/fido/fidotest"
	"passkiosk/kiosk"
)

func TestRegistrationRejections(t *testing.T) {
	type input = fido.RegistrationInput
	cases := []struct {
		name   string
		mutate func(a *fidotest.Authenticator, in *input)
		want   kiosk.Kind
	}{
		{"wrong RP", func(a *fidotest.Authenticator, in *input) {
			in.AttestationObject = a.MakeCredential("other.example", in.ClientDataJSON)
		}, kiosk.KindWrongRP},
		{"assertion client data", func(a *fidotest.Authenticator, in *input) {
			in.ClientDataJSON = fido.ClientDataJSON(fido.TypeGet, in.Challenge, origin)
			in.AttestationObject = a.MakeCredential(rpID, in.ClientDataJSON)
		}, kiosk.KindClientData},
		{"other challenge", func(_ *fidotest.Authenticator, in *input) { in.Challenge[3] ^= 1 }, kiosk.KindChallenge},
		{"no user presence", func(a *fidotest.Authenticator, in *input) {
			a.Flags = fido.FlagUV
			in.AttestationObject = a.MakeCredential(rpID, in.ClientDataJSON)
		}, kiosk.KindNoUserPresence},
		{"UV required", func(a *fidotest.Authenticator, in *input) {
			a.Flags = fido.FlagUP
			in.AttestationObject = a.MakeCredential(rpID, in.ClientDataJSON)
			in.RequireUV = true
		}, kiosk.KindUVMissing},
		{"algorithm not allowed", func(_ *fidotest.Authenticator, in *input) { in.Algs = []fido.Alg{fido.AlgRS256} }, kiosk.KindAlgorithm},
		{"self attestation under a trusted-only policy", func(_ *fidotest.Authenticator, in *input) {
			in.RequireTrustedAttestation = true
		}, kiosk.KindUntrustedAttestation},
		{"self attestation signed over other client data", func(a *fidotest.Authenticator, in *input) {
			in.AttestationObject = a.MakeCredential(rpID, append([]byte(" "), in.ClientDataJSON...))
		}, kiosk.KindBadAttestation},
		{"unsupported format", func(a *fidotest.Authenticator, in *input) {
			var ao struct {
				Fmt      string          `cbor:"fmt"`
				AttStmt  cbor.RawMessage `cbor:"attStmt"`
				AuthData []byte          `cbor:"authData"`
			}
			cbor.Unmarshal(in.AttestationObject, &ao)
			in.AttestationObject, _ = fido.MarshalAttestationObject("android-safetynet", ao.AuthData, ao.AttStmt)
		}, kiosk.KindBadAttestation},
		{"none with a statement", func(a *fidotest.Authenticator, in *input) {
			var ao struct {
				Fmt      string          `cbor:"fmt"`
				AttStmt  cbor.RawMessage `cbor:"attStmt"`
				AuthData []byte          `cbor:"authData"`
			}
			cbor.Unmarshal(in.AttestationObject, &ao)
			in.AttestationObject, _ = fido.MarshalAttestationObject("none", ao.AuthData, ao.AttStmt)
		}, kiosk.KindBadAttestation},
		{"truncated attestation object", func(_ *fidotest.Authenticator, in *input) {
			in.AttestationObject = in.AttestationObject[:len(in.AttestationObject)-1]
		}, kiosk.KindMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := fidotest.NewAuthenticator(fido.AlgES256)
			ch, _ := fido.NewChallenge()
			cd := fido.ClientDataJSON(fido.TypeCreate, ch, origin)
			in := input{RPID: rpID, Origin: origin, Challenge: ch, ClientDataJSON: cd, AttestationObject: a.MakeCredential(rpID, cd)}
			tc.mutate(a, &in)
			reg, err := fido.VerifyRegistration(in)
			if reg != nil || err == nil {
				t.Fatalf("accepted: %+v", reg)
			}
			if got := kiosk.KindOf(err); got != tc.want {
				t.Fatalf("kind %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

func TestMarshalAttestationObjectRejectsBadStatement(t *testing.T) {
	if _, err := fido.MarshalAttestationObject("packed", nil, cbor.RawMessage{0xa1, 0x01}); !errors.Is(err, kiosk.ErrMalformed) {
		t.Fatalf("got %v", err)
	}
}
