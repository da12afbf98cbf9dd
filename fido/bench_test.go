package fido_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"passkiosk/fido"
	"passkiosk/fido/fidotest"
)

// BenchmarkVerifyAssertion measures one assertion verification (parse the
// client data, authenticator data and stored COSE key, check everything,
// verify the signature) per algorithm, and the same assertion parsed and
// verified by go-webauthn as a reference. Compare the ratio within a run:
//
//	go test -run '^$' -bench VerifyAssertion ./fido/
func BenchmarkVerifyAssertion(b *testing.B) {
	for _, alg := range fido.DefaultAlgs {
		a := fidotest.NewAuthenticator(alg)
		cred := fido.StoredCredential{ID: a.CredID, PublicKey: a.PublicKey()}
		in := assertion(a, cred)
		b.Run("passkiosk/"+alg.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fido.VerifyAssertion(in); err != nil {
					b.Fatal(err)
				}
			}
		})
		body := goWebAuthnBody(in)
		challenge := base64.RawURLEncoding.EncodeToString(in.Challenge[:])
		b.Run("go-webauthn/"+alg.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := protocol.ParseCredentialRequestResponseBytes(body)
				if err != nil {
					b.Fatal(err)
				}
				err = p.Verify(challenge, rpID, "", []string{origin}, nil, nil,
					protocol.TopOriginExplicitVerificationMode, false, true, true, cred.PublicKey, protocol.SignaturePolicy{})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func goWebAuthnBody(in fido.AssertionInput) []byte {
	enc := base64.RawURLEncoding.EncodeToString
	body, err := json.Marshal(map[string]any{
		"id": enc(in.CredentialID), "rawId": enc(in.CredentialID), "type": "public-key",
		"response": map[string]string{
			"authenticatorData": enc(in.AuthData),
			"clientDataJSON":    enc(in.ClientDataJSON),
			"signature":         enc(in.Signature),
		},
	})
	if err != nil {
		panic(err)
	}
	return body
}
