package softkey_test

import (
	"bytes"
	"testing"

	"passkiosk/fido"
	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
)

// TestSeveralAccountsOnOneKey: three discoverable credentials for one RP
// come back newest first through getAssertion and getNextAssertion, each
// with its user, each verifying, with the counter rising.
func TestSeveralAccountsOnOneKey(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN})
	users := []string{"alice", "bob", "carol"}
	creds := map[string]*fido.StoredCredential{}
	for _, u := range users {
		tok, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermMakeCredential, testRP)
		if err != nil {
			t.Fatal(err)
		}
		reg := r.register(host.MakeCredentialArgs{RK: true, Token: tok, UserID: []byte(u), UserName: u + "@ward", DisplayName: u}, true)
		creds[u] = stored(reg)
	}
	// Another RP's account must not show up.
	tok, _ := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermMakeCredential, "elsewhere.example")
	if _, err := r.c.MakeCredential(ctx(t), host.MakeCredentialArgs{
		ClientDataHash: make([]byte, 32), RPID: "elsewhere.example", UserID: []byte("mallory"), RK: true, Token: tok,
	}); err != nil {
		t.Fatal(err)
	}

	tok, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermGetAssertion, testRP)
	if err != nil {
		t.Fatal(err)
	}
	cer := newCeremony(t, fido.TypeGet)
	first, err := r.c.GetAssertion(ctx(t), host.GetAssertionArgs{RPID: testRP, ClientDataHash: cer.hash, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if first.NumberOfCredentials != 3 {
		t.Fatalf("numberOfCredentials %d", first.NumberOfCredentials)
	}
	got := []*host.Assertion{first}
	for i := 0; i < 2; i++ {
		as, err := r.c.GetNextAssertion(ctx(t))
		if err != nil {
			t.Fatalf("getNextAssertion %d: %v", i, err)
		}
		got = append(got, as)
	}
	_, err = r.c.GetNextAssertion(ctx(t))
	wantStatus(t, err, softkey.StatusNotAllowed)

	var last uint32
	for i, as := range got {
		want := users[len(users)-1-i]
		if as.User == nil || string(as.User.ID) != want || as.User.Name != want+"@ward" {
			t.Fatalf("assertion %d user %+v, want %s", i, as.User, want)
		}
		cred := creds[want]
		res, err := verifyAssertion(cer, as, cred, true)
		if err != nil {
			t.Fatalf("assertion %d (%s): %v", i, want, err)
		}
		if res.Counter <= last {
			t.Fatalf("counter %d after %d", res.Counter, last)
		}
		last = res.Counter
	}
}

func TestAllowListAndNonDiscoverable(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN})
	// makeCredUvNotRqd: a non-discoverable credential needs no PIN.
	reg := r.register(host.MakeCredentialArgs{}, false)
	if reg.Flags&fido.FlagUV != 0 {
		t.Fatal("UV flag without verification")
	}
	// Not discoverable: without an allow list there is nothing.
	_, _, err := r.assert(host.GetAssertionArgs{}, stored(reg), false)
	wantStatus(t, err, softkey.StatusNoCredentials)
	as, res, err := r.assert(host.GetAssertionArgs{Allow: [][]byte{[]byte("unknown"), reg.CredentialID}}, stored(reg), false)
	if err != nil {
		t.Fatal(err)
	}
	if as.User != nil || res.Flags&fido.FlagUV != 0 || res.Flags&fido.FlagUP == 0 {
		t.Fatalf("user %+v flags %v", as.User, res.Flags)
	}
	// A silent assertion (up=false) has no UP flag.
	// The relying party refuses it (fido requires UP), so look at the
	// authenticator data itself.
	silent, err := r.c.GetAssertion(ctx(t), host.GetAssertionArgs{
		RPID: testRP, ClientDataHash: make([]byte, 32), Allow: [][]byte{reg.CredentialID}, NoUP: true})
	if err != nil {
		t.Fatal(err)
	}
	ad, err := fido.ParseAuthData(silent.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	if ad.Flags&fido.FlagUP != 0 {
		t.Fatalf("flags %v on a silent assertion", ad.Flags)
	}
	// A discoverable credential with a PIN set needs the PIN.
	_, err = r.tryRegister(host.MakeCredentialArgs{RK: true}, false)
	wantStatus(t, err, softkey.StatusPUATRequired)
}

func TestMakeCredentialRules(t *testing.T) {
	r := newRig(t, softkey.Config{})
	_, err := r.tryRegister(host.MakeCredentialArgs{Algs: []int64{-8, -257}}, false)
	wantStatus(t, err, softkey.StatusUnsupportedAlg)

	reg := r.register(host.MakeCredentialArgs{Algs: []int64{-8, -7}, RK: true, UserName: "first"}, false)
	_, err = r.tryRegister(host.MakeCredentialArgs{Exclude: [][]byte{reg.CredentialID}}, false)
	wantStatus(t, err, softkey.StatusCredentialExcluded)

	// A second discoverable credential for the same account replaces the
	// first.
	r.register(host.MakeCredentialArgs{RK: true, UserName: "second"}, false)
	var n int
	for _, c := range r.key.Credentials() {
		if c.Discoverable {
			n++
			if c.UserName != "second" || bytes.Equal(c.ID, reg.CredentialID) {
				t.Fatalf("kept %+v", c)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d discoverable credentials", n)
	}

	// The touch probe hosts use to pick a key.
	_, err = r.c.MakeCredential(ctx(t), host.MakeCredentialArgs{ClientDataHash: make([]byte, 32), RPID: testRP, UserID: []byte("u"), EmptyPINAuth: true})
	wantStatus(t, err, softkey.StatusPINNotSet)
	if err := r.c.SetPIN(ctx(t), 2, testPIN); err != nil {
		t.Fatal(err)
	}
	_, err = r.c.GetAssertion(ctx(t), host.GetAssertionArgs{ClientDataHash: make([]byte, 32), RPID: testRP, EmptyPINAuth: true})
	wantStatus(t, err, softkey.StatusPINInvalid)
	_, err = r.c.GetNextAssertion(ctx(t))
	wantStatus(t, err, softkey.StatusNotAllowed)
}

// TestCredProtect: level 3 credentials appear only after verification;
// level 2 ones are not discoverable without it but work from an allow
// list (CTAP 2.1 §12.1).
func TestCredProtect(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN})
	mk := func(level int, user string) *fido.Registration {
		tok, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermMakeCredential, testRP)
		if err != nil {
			t.Fatal(err)
		}
		return r.register(host.MakeCredentialArgs{RK: true, Token: tok, CredProtect: level, UserID: []byte(user)}, true)
	}
	req := mk(3, "strict")
	opt := mk(2, "list")
	for _, c := range r.key.Credentials() {
		if want := map[string]int{"strict": 3, "list": 2}[string(c.UserID)]; c.CredProtect != want {
			t.Fatalf("credential %s has level %d", c.UserID, c.CredProtect)
		}
	}
	_, _, err := r.assert(host.GetAssertionArgs{}, stored(req), false)
	wantStatus(t, err, softkey.StatusNoCredentials)
	_, _, err = r.assert(host.GetAssertionArgs{Allow: [][]byte{req.CredentialID}}, stored(req), false)
	wantStatus(t, err, softkey.StatusNoCredentials)
	if _, _, err := r.assert(host.GetAssertionArgs{Allow: [][]byte{opt.CredentialID}}, stored(opt), false); err != nil {
		t.Fatalf("level 2 from allow list: %v", err)
	}
	tok, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermGetAssertion, testRP)
	if err != nil {
		t.Fatal(err)
	}
	as, err := r.c.GetAssertion(ctx(t), host.GetAssertionArgs{RPID: testRP, ClientDataHash: make([]byte, 32), Token: tok})
	if err != nil || as.NumberOfCredentials != 2 {
		t.Fatalf("with UV: %+v %v", as, err)
	}
}

// TestHMACSecret: the same salt gives the same output for one credential
// and verification state, a different one with and without UV, nothing for
// a credential made without the extension, and one or two outputs for one
// or two salts, under both protocols.
func TestHMACSecret(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN})
	tok, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermMakeCredential, testRP)
	if err != nil {
		t.Fatal(err)
	}
	with := r.register(host.MakeCredentialArgs{RK: true, HMACSecret: true, Token: tok, UserID: []byte("h")}, true)
	without := r.register(host.MakeCredentialArgs{UserID: []byte("n")}, false)
	salt := bytes.Repeat([]byte{7}, 32)
	get := func(proto int, salts []byte, uv bool, id []byte) []byte {
		t.Helper()
		args := host.GetAssertionArgs{Allow: [][]byte{id}, HMACSalt: salts, HMACProtocol: proto}
		if uv {
			tk, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermGetAssertion, testRP)
			if err != nil {
				t.Fatal(err)
			}
			args.Token = tk
		}
		cred := stored(with)
		if bytes.Equal(id, without.CredentialID) {
			cred = stored(without)
		}
		as, _, err := r.assert(args, cred, uv)
		if err != nil {
			t.Fatalf("assertion with hmac-secret: %v", err)
		}
		return as.HMACOutput
	}
	a1 := get(1, salt, false, with.CredentialID)
	a2 := get(2, salt, false, with.CredentialID)
	if len(a1) != 32 || !bytes.Equal(a1, a2) {
		t.Fatalf("outputs %x and %x for one salt", a1, a2)
	}
	if uvOut := get(2, salt, true, with.CredentialID); len(uvOut) != 32 || bytes.Equal(uvOut, a1) {
		t.Fatalf("output with UV %x, without %x", uvOut, a1)
	}
	two := get(2, append(bytes.Repeat([]byte{9}, 32), salt...), false, with.CredentialID)
	if len(two) != 64 || !bytes.Equal(two[32:], a1) {
		t.Fatalf("two salts gave %x", two)
	}
	if out := get(2, salt, false, without.CredentialID); out != nil {
		t.Fatalf("credential without hmac-secret gave %x", out)
	}
}
