package usbkey

import (
	"bytes"
	"testing"

	"passkiosk/fido"
	"passkiosk/fido/fidotest"
	"passkiosk/kiosk"
)

// TestAssertionWithoutCredentialID: a key may leave the credential out of
// its answer when the allow list named exactly one (CTAP 2.1 §6.2.2); the
// adapter then names that one, and the assertion verifies against it.
// Without an allow list of one, such an answer is the key's fault, never
// a silent skip.
func TestAssertionWithoutCredentialID(t *testing.T) {
	const rpID, origin = "kiosk.example", "https://kiosk.example"
	a := fidotest.NewAuthenticator(fido.AlgES256)
	stored := fido.StoredCredential{ID: a.CredID, PublicKey: a.PublicKey()}
	for _, tt := range []struct {
		name  string
		allow [][]byte
		want  kiosk.Kind // KindUnknown: verified
	}{
		{"allow list of one", [][]byte{a.CredID}, kiosk.KindUnknown},
		{"discoverable", nil, kiosk.KindDevice},
		{"allow list of two", [][]byte{a.CredID, []byte("other")}, kiosk.KindDevice},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch, _ := fido.NewChallenge()
			cd := fido.ClientDataJSON(fido.TypeGet, ch, origin)
			authData, sig := a.GetAssertion(rpID, cd)
			req := SignInRequest{RPID: rpID, ClientDataHash: fido.ClientDataHash(cd), AllowList: tt.allow}
			got, err := accounts("sign in", &req, []rawAssertion{{authData: authData, sig: sig}}, MethodPresence)
			if tt.want != kiosk.KindUnknown {
				if got != nil || kiosk.KindOf(err) != tt.want {
					t.Fatalf("got %+v, %v; want kind %v", got, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Accounts) != 1 || !bytes.Equal(got.Accounts[0].CredentialID, a.CredID) {
				t.Fatalf("accounts %+v", got.Accounts)
			}
			acc := got.Accounts[0]
			if _, err := fido.VerifyAssertion(fido.AssertionInput{RPID: rpID, Origin: origin, Challenge: ch, Credential: stored,
				CredentialID: acc.CredentialID, AuthData: acc.AuthData, ClientDataJSON: cd, Signature: acc.Signature}); err != nil {
				t.Fatalf("the named credential does not verify: %v", err)
			}
		})
	}
}
