package tpm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/fido"
	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

const (
	rpID   = "kiosk.ward7.example-hospital.org"
	origin = "https://kiosk.ward7.example-hospital.org"
	pin    = "482916"
)

var ctx = context.Background()

// ceremony is one WebAuthn ceremony as the engine runs it: a challenge and
// the client data built from it.
type ceremony struct {
	challenge  fido.Challenge
	clientData []byte
	hash       [32]byte
}

func newCeremony(t testing.TB, typ string) ceremony {
	t.Helper()
	ch, err := fido.NewChallenge()
	if err != nil {
		t.Fatal(err)
	}
	cd := fido.ClientDataJSON(typ, ch, origin)
	return ceremony{challenge: ch, clientData: cd, hash: fido.ClientDataHash(cd)}
}

// enroll registers a credential and verifies the registration with fido,
// as the engine does for any authenticator.
func enroll(t testing.TB, k *tpm.TPM, pin string) (*tpm.Enrollment, fido.StoredCredential) {
	t.Helper()
	c := newCeremony(t, fido.TypeCreate)
	e, err := k.Enroll(ctx, tpm.EnrollRequest{RPID: rpID, PIN: []byte(pin), ClientDataHash: c.hash})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	reg, err := fido.VerifyRegistration(fido.RegistrationInput{
		RPID: rpID, Origin: origin, Challenge: c.challenge,
		ClientDataJSON: c.clientData, AttestationObject: e.AttestationObject,
		RequireUV: true,
	})
	if err != nil {
		t.Fatalf("VerifyRegistration: %v", err)
	}
	return e, fido.StoredCredential{ID: reg.CredentialID, PublicKey: reg.PublicKey, Counter: reg.Counter}
}

// signIn signs in and verifies the assertion with fido.VerifyAssertion.
func signIn(t testing.TB, k *tpm.TPM, blobs *tpm.KeyBlobs, cred fido.StoredCredential, pin string) (*fido.AssertionResult, error) {
	t.Helper()
	c := newCeremony(t, fido.TypeGet)
	a, err := k.SignIn(ctx, blobs, rpID, c.hash, []byte(pin))
	if err != nil {
		return nil, err
	}
	res, err := fido.VerifyAssertion(fido.AssertionInput{
		RPID: rpID, Origin: origin, Challenge: c.challenge, Credential: cred,
		CredentialID: a.CredentialID, AuthData: a.AuthData,
		ClientDataJSON: c.clientData, Signature: a.Signature, RequireUV: true,
	})
	if err != nil {
		t.Fatalf("VerifyAssertion of a TPM assertion: %v", err)
	}
	if res.Counter != a.Counter {
		t.Fatalf("verified counter %d, TPM reported %d", res.Counter, a.Counter)
	}
	return res, nil
}

func TestEnrollAndSignInVerifyLikeASecurityKey(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})

	e, cred := enroll(t, k, pin)
	if e.AAGUID != tpm.AAGUID || e.Format != "none" {
		t.Errorf("AAGUID %v format %q", e.AAGUID, e.Format)
	}
	if id, err := tpm.CredentialID(&e.Blobs); err != nil || string(id) != string(e.CredentialID) {
		t.Errorf("CredentialID(blobs) = %x, %v; want %x", id, err, e.CredentialID)
	}
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if !res.Flags.Has(fido.FlagUP | fido.FlagUV) {
		t.Errorf("flags %08b lack UP|UV", res.Flags)
	}
	if res.Counter <= cred.Counter {
		t.Errorf("counter %d did not move past registration's %d", res.Counter, cred.Counter)
	}
}

func TestCounterOnlyMovesForwardAcrossReopenAndKeys(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	a, credA := enroll(t, k, pin)
	b, credB := enroll(t, k, "11112222")

	last := credB.Counter
	for i := 0; i < 3; i++ {
		resA, err := signIn(t, k, &a.Blobs, credA, pin)
		if err != nil {
			t.Fatal(err)
		}
		credA = resA.Updated
		resB, err := signIn(t, k, &b.Blobs, credB, "11112222")
		if err != nil {
			t.Fatal(err)
		}
		credB = resB.Updated
		if resA.Counter <= last || resB.Counter <= resA.Counter {
			t.Fatalf("counters %d, %d after %d", resA.Counter, resB.Counter, last)
		}
		last = resB.Counter
	}

	// A restart of the appliance opens the TPM again: the SRK and counter
	// are found, not re-created, and the counter carries on.
	tr.Reset()
	k2 := tpmtest.Open(t, tr, tpm.Config{})
	for cc, n := range tr.Counts() {
		for _, bad := range append(tpmtest.KeyCreating, tpm2.TPMCCNVDefineSpace, tpm2.TPMCCEvictControl) {
			if cc == bad {
				t.Errorf("reopening ran %s %d times", tpmtest.Name(cc), n)
			}
		}
	}
	res, err := signIn(t, k2, &a.Blobs, credA, pin)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counter <= last {
		t.Errorf("counter after reopen %d, before %d", res.Counter, last)
	}
}

func TestSignInCreatesNoKey(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	tr.Reset()
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatal(err)
	}
	// Six commands, in this order: the assertion is signed over the
	// counter the last increment read back + 1 (cachedCounter), and the
	// counter is moved only after the PIN proved right (signLocked).
	want := []tpm2.TPMCC{
		tpm2.TPMCCLoad, tpm2.TPMCCStartAuthSession, tpm2.TPMCCSign,
		tpm2.TPMCCNVIncrement, tpm2.TPMCCNVRead, tpm2.TPMCCFlushContext,
	}
	got := tr.Commands()
	if len(got) != len(want) {
		t.Fatalf("sign-in commands: %s\nwant %s", names(got), names(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sign-in commands: %s\nwant %s", names(got), names(want))
		}
	}
}

func names(ccs []tpm2.TPMCC) string {
	var out []string
	for _, cc := range ccs {
		out = append(out, tpmtest.Name(cc))
	}
	return strings.Join(out, " ")
}

func TestWrongPINIsPINInvalidWithTriesLeft(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	if err := k.SetDictionaryAttackParameters(ctx, nil, 5, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	e, cred := enroll(t, k, pin)
	before, err := k.Lockout(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = signIn(t, k, &e.Blobs, cred, "000000")
	if !errors.Is(err, kiosk.ErrPINInvalid) {
		t.Fatalf("wrong PIN: %v, want pin-invalid", err)
	}
	if !errors.Is(err, tpm2.TPMRCBadAuth) && !errors.Is(err, tpm2.TPMRCAuthFail) {
		t.Errorf("wrong PIN error does not carry the TPM code: %v", err)
	}
	tries := kiosk.TriesLeft(err)
	if want := before.TriesLeft() - 1; tries != want {
		t.Errorf("tries left %d, want %d (%v)", tries, want, err)
	}
	after, err := k.Lockout(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Failures != before.Failures+1 || after.TriesLeft() != tries {
		t.Errorf("lockout state %+v after one wrong PIN, before %+v", after, before)
	}
	// The right PIN still works.
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatalf("right PIN after a wrong one: %v", err)
	}
}

// The simulator transport works through Open, and, as doc.go says, keeps
// nothing across a restart: a key enrolled before is reported as gone.
func TestSimulatorTransportLosesStateAcrossRestart(t *testing.T) {
	k, err := tpm.Open(tpm.Config{Transport: tpm.TransportSimulator})
	if err != nil {
		t.Fatalf("Open simulator: %v", err)
	}
	e, cred := enroll(t, k, pin)
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatal(err)
	}
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k))
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k2, err := tpm.Open(tpm.Config{Transport: tpm.TransportSimulator})
	if err != nil {
		t.Fatalf("Open simulator again: %v", err)
	}
	defer k2.Close()
	if _, err := signIn(t, k2, &e.Blobs, cred, pin); !errors.Is(err, kiosk.ErrTPMCleared) {
		t.Fatalf("key from before the restart: %v; want tpm-cleared", err)
	}
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k2))
}

// A passkiosk key is an ordinary TPM object: plain TPM2_Load under the
// persistent SRK and TPM2_ReadPublic show the template doc.go documents.
func TestKeyIsAnOrdinaryTPMObjectWithTheDocumentedTemplate(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, _ := enroll(t, k, pin)

	srk, err := (tpm2.ReadPublic{ObjectHandle: tpm.DefaultSRKHandle}).Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	srkPub, err := srk.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	sa := srkPub.ObjectAttributes
	if srkPub.Type != tpm2.TPMAlgECC || !sa.Restricted || !sa.Decrypt || !sa.NoDA || !sa.FixedTPM {
		t.Errorf("SRK attributes %+v", sa)
	}

	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](e.Blobs.Public)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](e.Blobs.Private)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := (tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: tpm.DefaultSRKHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    *priv,
		InPublic:     *pub,
	}).Execute(tr)
	if err != nil {
		t.Fatalf("plain TPM2_Load of passkiosk blobs: %v", err)
	}
	defer func() {
		if _, err := (tpm2.FlushContext{FlushHandle: loaded.ObjectHandle}).Execute(tr); err != nil {
			t.Error(err)
		}
	}()
	if string(loaded.Name.Buffer) != string(e.CredentialID) {
		t.Errorf("credential ID %x is not the TPM Name %x", e.CredentialID, loaded.Name.Buffer)
	}
	rp, err := (tpm2.ReadPublic{ObjectHandle: loaded.ObjectHandle}).Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rp.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	want := tpm2.TPMAObject{
		FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
		UserWithAuth: true, SignEncrypt: true,
	}
	if p.ObjectAttributes != want || p.Type != tpm2.TPMAlgECC || p.NameAlg != tpm2.TPMAlgSHA256 || len(p.AuthPolicy.Buffer) != 0 {
		t.Errorf("key public area: type %v nameAlg %v attributes %+v", p.Type, p.NameAlg, p.ObjectAttributes)
	}
	ecc, err := p.Parameters.ECCDetail()
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := ecc.Scheme.Details.ECDSA()
	if err != nil || ecc.CurveID != tpm2.TPMECCNistP256 || scheme.HashAlg != tpm2.TPMAlgSHA256 || ecc.Symmetric.Algorithm != tpm2.TPMAlgNull {
		t.Errorf("key parameters: curve %v scheme %+v %v", ecc.CurveID, scheme, err)
	}
}

// Sign-ins from several goroutines are serialised: each gets its own
// counter value and no handle is left behind.
func TestConcurrentSignInsGetDistinctCounters(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, _ := enroll(t, k, pin)
	const workers, each = 4, 3
	counters := make(chan uint32, workers*each)
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				a, err := k.SignIn(ctx, &e.Blobs, rpID, [32]byte{byte(i)}, []byte(pin))
				if err != nil {
					errs <- err
					return
				}
				counters <- a.Counter
			}
		}()
	}
	wg.Wait()
	close(counters)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for c := range counters {
		if seen[c] {
			t.Fatalf("counter %d handed out twice", c)
		}
		seen[c] = true
	}
	if len(seen) != workers*each {
		t.Fatalf("%d counters for %d sign-ins", len(seen), workers*each)
	}
}

// A statement signed with the attestation key verifies with its public
// key, which stays the same from one signature to the next.
func TestSignStatementWithTheAttestationKey(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	msg := []byte("passkiosk audit export/1 0123abcd")
	sig, pub, err := k.SignStatement(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub, d[:], sig) {
		t.Fatal("signature does not verify")
	}
	_, pub2, err := k.SignStatement(context.Background(), []byte("another"))
	if err != nil || !pub.Equal(pub2) {
		t.Fatalf("second key %v, %v", pub2, err)
	}
	if _, _, err := k.SignStatement(context.Background(), make([]byte, 1025)); kiosk.KindOf(err) != kiosk.KindMalformed {
		t.Fatalf("an oversized statement: %v", err)
	}
	tpmtest.CheckNoHandles(t, tr)
}
