package fido_test

import (
	"errors"
	"testing"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/fidotest"
	"passkiosk/kiosk"
)

const (
	rpID   = "kiosk.ward7.example"
	origin = "https://kiosk.ward7.example"
)

// ceremony enrolls a test authenticator and returns what the relying party
// stored, ready for assertions.
func ceremony(t *testing.T, alg fido.Alg) (*fidotest.Authenticator, fido.StoredCredential) {
	t.Helper()
	a := fidotest.NewAuthenticator(alg)
	ch, _ := fido.NewChallenge()
	cd := fido.ClientDataJSON(fido.TypeCreate, ch, origin)
	reg, err := fido.VerifyRegistration(fido.RegistrationInput{
		RPID: rpID, Origin: origin, Challenge: ch, ClientDataJSON: cd,
		AttestationObject: a.MakeCredential(rpID, cd), RequireUV: true,
	})
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	if reg.Type != fido.AttestationSelf || reg.Trusted || reg.AAGUID != a.AAGUID || reg.Alg != alg {
		t.Fatalf("registration = %+v", reg)
	}
	return a, fido.StoredCredential{ID: reg.CredentialID, PublicKey: reg.PublicKey, Counter: reg.Counter}
}

func assertion(a *fidotest.Authenticator, cred fido.StoredCredential) fido.AssertionInput {
	ch, _ := fido.NewChallenge()
	cd := fido.ClientDataJSON(fido.TypeGet, ch, origin)
	ad, sig := a.GetAssertion(rpID, cd)
	return fido.AssertionInput{
		RPID: rpID, Origin: origin, Challenge: ch, Credential: cred,
		CredentialID: cred.ID, AuthData: ad, ClientDataJSON: cd, Signature: sig, RequireUV: true,
	}
}

func TestAssertionEveryAlgorithmVerifiesAndAdvancesCounter(t *testing.T) {
	for _, alg := range fido.DefaultAlgs {
		t.Run(alg.String(), func(t *testing.T) {
			a, cred := ceremony(t, alg)
			for i := 1; i <= 3; i++ {
				res, err := fido.VerifyAssertion(assertion(a, cred))
				if err != nil {
					t.Fatalf("assertion %d: %v", i, err)
				}
				if res.Updated.Counter != uint32(i) || !res.Flags.Has(fido.FlagUP|fido.FlagUV) {
					t.Fatalf("assertion %d: result %+v", i, res)
				}
				cred = res.Updated
			}
		})
	}
}

func TestAssertionRejections(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(a *fidotest.Authenticator, cred *fido.StoredCredential, in *fido.AssertionInput)
		want   kiosk.Kind
	}{
		{"wrong RP", func(a *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.RPID = "other.example"
		}, kiosk.KindWrongRP},
		{"wrong origin", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.Origin = "https://evil.example"
		}, kiosk.KindClientData},
		{"other challenge", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.Challenge[0] ^= 1
		}, kiosk.KindChallenge},
		{"registration client data", func(a *fidotest.Authenticator, cred *fido.StoredCredential, in *fido.AssertionInput) {
			in.ClientDataJSON = fido.ClientDataJSON(fido.TypeCreate, in.Challenge, origin)
			in.AuthData, in.Signature = a.GetAssertion(rpID, in.ClientDataJSON)
		}, kiosk.KindClientData},
		{"no user presence", func(a *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			a.Flags = fido.FlagUV
			in.AuthData, in.Signature = a.GetAssertion(rpID, in.ClientDataJSON)
		}, kiosk.KindNoUserPresence},
		{"UV required but absent", func(a *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			a.Flags = fido.FlagUP
			in.AuthData, in.Signature = a.GetAssertion(rpID, in.ClientDataJSON)
		}, kiosk.KindUVMissing},
		{"signature over other data", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.Signature[len(in.Signature)/2] ^= 0x40
		}, kiosk.KindBadSignature},
		{"counter equal to stored", func(_ *fidotest.Authenticator, cred *fido.StoredCredential, in *fido.AssertionInput) {
			in.Credential.Counter = 1
		}, kiosk.KindCounterRegression},
		{"counter went backwards", func(_ *fidotest.Authenticator, cred *fido.StoredCredential, in *fido.AssertionInput) {
			in.Credential.Counter = 40
		}, kiosk.KindCounterRegression},
		{"algorithm not allowed", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.Algs = []fido.Alg{fido.AlgEdDSA}
		}, kiosk.KindAlgorithm},
		{"another credential", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.CredentialID = []byte("someone else")
		}, kiosk.KindNotFound},
		{"no credential ID", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.CredentialID = nil
		}, kiosk.KindMalformed},
		{"no credential ID and a stored record without one", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.CredentialID, in.Credential.ID = []byte{}, nil
		}, kiosk.KindMalformed},
		{"user handle of another person", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.Credential.UserHandle = []byte("alice")
			in.UserHandle = []byte("bob")
		}, kiosk.KindNotFound},
		{"backup eligibility changed", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.Credential.BackupEligible = true
		}, kiosk.KindPolicy},
		{"trailing byte after authenticator data", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.AuthData = append(in.AuthData, 0)
		}, kiosk.KindMalformed},
		{"client data not JSON", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.ClientDataJSON = []byte("{")
		}, kiosk.KindMalformed},
		{"stored key corrupt", func(_ *fidotest.Authenticator, _ *fido.StoredCredential, in *fido.AssertionInput) {
			in.Credential.PublicKey = in.Credential.PublicKey[:10]
		}, kiosk.KindMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, cred := ceremony(t, fido.AlgES256)
			in := assertion(a, cred)
			tc.mutate(a, &cred, &in)
			res, err := fido.VerifyAssertion(in)
			if res != nil || err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			if got := kiosk.KindOf(err); got != tc.want {
				t.Fatalf("kind %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

// Both counters zero is how authenticators without a counter behave; that
// is allowed. A counter that goes back to zero is not.
func TestAssertionZeroCounters(t *testing.T) {
	a, cred := ceremony(t, fido.AlgES256)
	a.Count = ^uint32(0) // next assertion wraps to 0
	in := assertion(a, cred)
	if _, err := fido.VerifyAssertion(in); err != nil {
		t.Fatalf("0 after stored 0: %v", err)
	}
	a.Count = ^uint32(0)
	in = assertion(a, cred)
	in.Credential.Counter = 7
	if _, err := fido.VerifyAssertion(in); !errors.Is(err, kiosk.ErrCounterRegression) {
		t.Fatalf("0 after stored 7: %v", err)
	}
}

func TestChallengesAreSingleUseAndExpire(t *testing.T) {
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	cs := fido.NewChallenges(30*time.Second, 4, func() time.Time { return now })
	ch, err := cs.Issue()
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Redeem(ch); err != nil {
		t.Fatalf("first redeem: %v", err)
	}
	if err := cs.Redeem(ch); !errors.Is(err, kiosk.ErrChallenge) {
		t.Fatalf("replayed challenge: %v", err)
	}
	old, _ := cs.Issue()
	now = now.Add(30 * time.Second)
	if err := cs.Redeem(old); !errors.Is(err, kiosk.ErrChallenge) {
		t.Fatalf("expired challenge: %v", err)
	}
	var never fido.Challenge
	if err := cs.Redeem(never); !errors.Is(err, kiosk.ErrChallenge) {
		t.Fatalf("never-issued challenge: %v", err)
	}
	var issued []fido.Challenge
	for range 6 {
		c, _ := cs.Issue()
		issued = append(issued, c)
	}
	if n := cs.Outstanding(); n != 4 {
		t.Fatalf("outstanding = %d, want the bound 4", n)
	}
	if err := cs.Redeem(issued[5]); err != nil {
		t.Fatalf("newest challenge dropped: %v", err)
	}
}

func TestClientDataJSONIsWhatVerificationExpects(t *testing.T) {
	var ch fido.Challenge
	got := string(fido.ClientDataJSON(fido.TypeGet, ch, `https://a"b`))
	want := `{"type":"webauthn.get","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","origin":"https://a\"b","crossOrigin":false}`
	if got != want {
		t.Fatalf("client data\n got %s\nwant %s", got, want)
	}
}
