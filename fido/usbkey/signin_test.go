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
// adapter then verifies against that one. Without an allow list of one,
// such an answer is the key's fault, never a silent skip.
func TestAssertionWithoutCredentialID(t *testing.T) {
	const rpID, origin = "kiosk.example", "https://kiosk.example"
	a := fidotest.NewAuthenticator(fido.AlgES256)
	stored := fido.StoredCredential{ID: a.CredID, PublicKey: a.PublicKey()}
	lookup := func(id, _ []byte) (fido.StoredCredential, error) {
		if !bytes.Equal(id, stored.ID) {
			return fido.StoredCredential{}, kiosk.Errorf(kiosk.KindNotFound, "test", "unknown credential")
		}
		return stored, nil
	}
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
			req := SignInRequest{RPID: rpID, Origin: origin, Challenge: ch, AllowList: tt.allow, Lookup: lookup}
			got, err := verifyAssertions("sign in", &req, cd, []rawAssertion{{authData: authData, sig: sig}}, MethodPresence)
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
		})
	}
}
