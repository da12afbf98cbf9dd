package fido_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

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

// TestRegistrationCertificateValidityAtNow: RegistrationInput.Now is the
// time attestation certificates are checked at, with or without trust
// anchors. go-webauthn additionally checks packed certificates at the wall
// clock (see attestation.go), so a certificate valid at Now but expired at
// the wall clock is refused too; that case pins the documented limitation.
func TestRegistrationCertificateValidityAtNow(t *testing.T) {
	wall := time.Now()
	current := [2]time.Time{wall.Add(-time.Hour), wall.AddDate(1, 0, 0)}
	past := [2]time.Time{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}
	cases := []struct {
		name     string
		validity [2]time.Time
		now      time.Time
		want     kiosk.Kind // KindUnknown: accepted
	}{
		{"valid at the wall clock and at Now", current, wall.Add(time.Minute), kiosk.KindUnknown},
		{"valid at the wall clock, not yet at Now", current, wall.AddDate(0, 0, -1), kiosk.KindBadAttestation},
		{"valid at the wall clock, expired at Now", current, wall.AddDate(2, 0, 0), kiosk.KindBadAttestation},
		{"valid at Now, expired at the wall clock (go-webauthn)", past, time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC), kiosk.KindBadAttestation},
	}
	for _, tc := range cases {
		for _, anchored := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/anchors=%v", tc.name, anchored), func(t *testing.T) {
				a := fidotest.NewAuthenticator(fido.AlgES256)
				a.Attestation = fidotest.NewAttestationCA(a.AAGUID, tc.validity[0], tc.validity[1])
				ch, _ := fido.NewChallenge()
				cd := fido.ClientDataJSON(fido.TypeCreate, ch, origin)
				in := fido.RegistrationInput{RPID: rpID, Origin: origin, Challenge: ch, ClientDataJSON: cd,
					AttestationObject: a.MakeCredential(rpID, cd), Now: tc.now}
				if anchored {
					in.TrustAnchors = a.Attestation.Roots()
				}
				reg, err := fido.VerifyRegistration(in)
				if tc.want == kiosk.KindUnknown {
					if err != nil {
						t.Fatal(err)
					}
					if reg.Type != fido.AttestationBasic || reg.Trusted != anchored {
						t.Fatalf("type %s, trusted %v; want basic, trusted %v", reg.Type, reg.Trusted, anchored)
					}
					return
				}
				if got := kiosk.KindOf(err); reg != nil || got != tc.want {
					t.Fatalf("got %+v, %v (kind %v); want kind %v", reg, err, got, tc.want)
				}
			})
		}
	}
}
