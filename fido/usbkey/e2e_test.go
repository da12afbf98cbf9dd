package usbkey

import (
	"bytes"
	"context"
	"testing"
	"time"

	"passkiosk/fido/hidtest"
	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
)

// CTAP command bytes (CTAP 2.1 §6) the harness can wait for.
const (
	cmdMakeCredential = 0x01
	cmdGetAssertion   = 0x02
)

type rig struct {
	t   testing.TB
	b   *hidtest.Testbed
	c   *hidtest.Client
	key *softkey.Key
	dev *hidtest.Device
}

func newRig(t testing.TB, cfg softkey.Config) *rig {
	t.Helper()
	b := hidtest.New(t)
	k, err := softkey.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, b: b, key: k}
	r.plug()
	r.c = b.StartClient(t)
	return r
}

func (r *rig) plug() {
	r.t.Helper()
	d, err := r.b.Plug(r.key.Plug(), hidtest.Identity{})
	if err != nil {
		r.t.Fatal(err)
	}
	r.dev = d
}

// replug pulls the key and puts it back: a power cycle.
func (r *rig) replug() {
	r.t.Helper()
	r.dev.Unplug()
	r.plug()
}

func (r *rig) call(method string, in, out any) error {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	return r.c.Call(ctx, method, in, out)
}

func (r *rig) register(in registerIn) (registerOut, error) {
	r.t.Helper()
	in.Path = r.dev.Path()
	var out registerOut
	err := r.call("register", in, &out)
	return out, err
}

func (r *rig) mustRegister(in registerIn) registerOut {
	r.t.Helper()
	out, err := r.register(in)
	if err != nil {
		r.t.Fatalf("register %s: %v", in.Name, err)
	}
	return out
}

func (r *rig) signIn(in signInIn) (signInOut, error) {
	r.t.Helper()
	in.Path = r.dev.Path()
	var out signInOut
	err := r.call("signin", in, &out)
	return out, err
}

func known(regs ...registerOut) []storedCred {
	var out []storedCred
	for _, g := range regs {
		out = append(out, storedCred{ID: g.CredentialID, PublicKey: g.PublicKey, Counter: g.Counter})
	}
	return out
}

func wantKind(t *testing.T, err error, kind kiosk.Kind) {
	t.Helper()
	if kiosk.KindOf(err) != kind {
		t.Fatalf("error = %v (kind %v), want kind %v", err, kiosk.KindOf(err), kind)
	}
}

func TestInfoAndRetriesThroughLibfido2(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234", Fingerprint: true})
	var info Info
	if err := r.call("info", r.dev.Path(), &info); err != nil {
		t.Fatal(err)
	}
	if info.AAGUID != r.key.AAGUID() || !info.PINSet() || !info.HasFingerprint() {
		t.Fatalf("info = %+v, want the key's AAGUID with clientPin and uv", info)
	}
	var tries [2]int
	if err := r.call("retries", r.dev.Path(), &tries); err != nil {
		t.Fatal(err)
	}
	if tries != [2]int{8, r.key.UVRetries()} {
		t.Fatalf("retries = %v, want [8 %d]", tries, r.key.UVRetries())
	}
}

func TestEnrollWithPINThenSignInWithPIN(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	reg := r.mustRegister(registerIn{
		UserID: []byte("alice-0001"), Name: "alice", Discoverable: true, PIN: "1234",
		RequireUV: true, RootDER: r.key.AttestationRoot().Raw,
	})
	if reg.Method != "pin" || !reg.PINAsked || !reg.Trusted || reg.Format != "packed" || reg.AAGUID != r.key.AAGUID() {
		t.Fatalf("registration = %+v, want a trusted packed attestation made with the PIN", reg)
	}
	got, err := r.signIn(signInIn{PIN: "1234", Known: known(reg), RequireUV: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Accounts) != 1 || got.Method != "pin" {
		t.Fatalf("sign-in = %+v, want one account by PIN", got)
	}
	a := got.Accounts[0]
	if !bytes.Equal(a.UserHandle, []byte("alice-0001")) || !bytes.Equal(a.CredentialID, reg.CredentialID) || !a.UV || a.Counter <= reg.Counter {
		t.Fatalf("account = %+v, want alice's credential with UV and a counter past %d", a, reg.Counter)
	}
	// The same credential through an allow list.
	if _, err := r.signIn(signInIn{PIN: "1234", Known: known(reg), AllowList: [][]byte{reg.CredentialID}}); err != nil {
		t.Fatalf("sign-in with an allow list: %v", err)
	}
	// A key with nothing for us.
	_, err = r.signIn(signInIn{PIN: "1234", AllowList: [][]byte{[]byte("not a credential of this key")}})
	wantKind(t, err, kiosk.KindNoCredentials)
}

// A touch only, as "tap your key to sign out" asks for: no PIN is asked
// even though the key has one, no fingerprint is read even though it has a
// sensor, and the assertion verifies with UP set and UV clear.
func TestPresenceOnly(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234", Fingerprint: true})
	r.key.SetFingerprint(true)
	reg := r.mustRegister(registerIn{UserID: []byte("carol"), Name: "carol", Discoverable: true, PIN: "1234", RequireUV: true})
	r.key.SetTouch(softkey.TouchNever, 0)
	done := make(chan struct{})
	var got signInOut
	var err error
	go func() {
		defer close(done)
		got, err = r.signIn(signInIn{PIN: "1234", Known: known(reg), AllowList: [][]byte{reg.CredentialID}, Presence: true})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.dev.WaitCommand(ctx, cmdGetAssertion, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatalf("the assertion came back before the key was touched: %+v, %v", got, err)
	case <-time.After(200 * time.Millisecond):
	}
	r.key.Touch()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Accounts) != 1 || got.PINAsked || got.Method != "presence" || got.Accounts[0].UV {
		t.Fatalf("presence = %+v, want one account, no PIN asked, method presence, UV clear", got)
	}
	r.key.SetTouch(softkey.TouchGiven, 0)
	if _, err := r.signIn(signInIn{Known: known(reg), AllowList: [][]byte{reg.CredentialID}, Presence: true, RequireUV: true}); kiosk.KindOf(err) != kiosk.KindUVMissing {
		t.Fatalf("presence with UV required: %v, want %v", err, kiosk.KindUVMissing)
	}
}

func TestSignInWithFingerprint(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234", Fingerprint: true})
	r.key.SetFingerprint(true)
	reg := r.mustRegister(registerIn{UserID: []byte("bob"), Name: "bob", Discoverable: true, PIN: "1234", RequireUV: true})
	if reg.Method != "fingerprint" || reg.PINAsked {
		t.Fatalf("registration = %+v, want the fingerprint and no PIN prompt", reg)
	}
	got, err := r.signIn(signInIn{PIN: "1234", Known: known(reg), RequireUV: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "fingerprint" || got.PINAsked || len(got.Accounts) != 1 || !got.Accounts[0].UV {
		t.Fatalf("sign-in = %+v, want one account by fingerprint without a PIN prompt", got)
	}
}

func TestFingerprintLockoutFallsBackToPIN(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234", Fingerprint: true})
	r.key.SetFingerprint(true)
	reg := r.mustRegister(registerIn{UserID: []byte("carol"), Name: "carol", Discoverable: true, PIN: "1234"})
	r.key.SetFingerprint(false)
	last := r.key.UVRetries()
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("fingerprint never locked")
		}
		got, err := r.signIn(signInIn{PIN: "1234", Known: known(reg), RequireUV: true})
		if err == nil {
			if got.Method != "pin" || !got.PINAsked || len(got.Accounts) != 1 || !got.Accounts[0].UV {
				t.Fatalf("after lockout, sign-in = %+v, want the PIN", got)
			}
			// Four misses report tries left; the fifth blocks the sensor
			// and the same sign-in goes on with the PIN. A correct PIN
			// gives the sensor its tries back (CTAP 2.1 §6.5.2).
			if i != 4 || last != 1 {
				t.Fatalf("PIN fallback after %d misses with %d tries shown, want 4 misses then the block", i, last)
			}
			if r.key.UVRetries() != 5 {
				t.Fatalf("after the PIN, the sensor has %d tries, want 5", r.key.UVRetries())
			}
			return
		}
		wantKind(t, err, kiosk.KindUVInvalid)
		if tries := kiosk.TriesLeft(err); tries != last-1 || tries != r.key.UVRetries() {
			t.Fatalf("fingerprint miss reports %d tries left, want %d (key says %d)", tries, last-1, r.key.UVRetries())
		}
		last--
	}
}

func TestWrongPINTriesReplugAndBlock(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	reg := r.mustRegister(registerIn{UserID: []byte("dave"), Name: "dave", Discoverable: true, PIN: "1234"})
	wrong := signInIn{PIN: "9999", Known: known(reg)}
	right := signInIn{PIN: "1234", Known: known(reg)}

	// 8 tries in all; three wrong in a row block PIN entry until the key
	// is power-cycled (CTAP 2.1 §6.5.2), so the eight take three plugs.
	for round, wantTries := range [][]int{{7, 6}, {4, 3}} {
		for _, want := range wantTries {
			_, err := r.signIn(wrong)
			wantKind(t, err, kiosk.KindPINInvalid)
			if kiosk.TriesLeft(err) != want {
				t.Fatalf("round %d: wrong PIN reports %d tries left, want %d", round, kiosk.TriesLeft(err), want)
			}
		}
		_, err := r.signIn(wrong)
		wantKind(t, err, kiosk.KindPINAuthBlocked)
		// Even the right PIN is refused until re-plug.
		_, err = r.signIn(right)
		wantKind(t, err, kiosk.KindPINAuthBlocked)
		r.replug()
	}
	_, err := r.signIn(wrong)
	wantKind(t, err, kiosk.KindPINInvalid)
	if kiosk.TriesLeft(err) != 1 {
		t.Fatalf("7th wrong PIN reports %d tries left, want 1", kiosk.TriesLeft(err))
	}
	_, err = r.signIn(wrong)
	wantKind(t, err, kiosk.KindPINBlocked)
	_, err = r.signIn(right)
	wantKind(t, err, kiosk.KindPINBlocked)
	r.replug()
	_, err = r.signIn(right)
	wantKind(t, err, kiosk.KindPINBlocked)
}

func TestTwoAccountsOnOneKey(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	alice := r.mustRegister(registerIn{UserID: []byte("u-alice"), Name: "alice", Discoverable: true, PIN: "1234"})
	bob := r.mustRegister(registerIn{UserID: []byte("u-bob"), Name: "bob", Discoverable: true, PIN: "1234"})
	got, err := r.signIn(signInIn{PIN: "1234", Known: known(alice, bob), RequireUV: true})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, a := range got.Accounts {
		names[a.UserName] = string(a.UserHandle)
	}
	if len(got.Accounts) != 2 || names["alice"] != "u-alice" || names["bob"] != "u-bob" {
		t.Fatalf("accounts = %+v, want alice and bob with their user handles", got.Accounts)
	}
	// An account the appliance never enrolled is left out, not trusted.
	got, err = r.signIn(signInIn{PIN: "1234", Known: known(bob)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Accounts) != 1 || got.Accounts[0].UserName != "bob" {
		t.Fatalf("with only bob known, accounts = %+v", got.Accounts)
	}
}

func TestKeyPulledMidOperation(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	reg := r.mustRegister(registerIn{UserID: []byte("erin"), Name: "erin", Discoverable: true, PIN: "1234"})
	r.key.SetTouch(softkey.TouchNever, 0)
	errc := make(chan error, 1)
	go func() {
		_, err := r.signIn(signInIn{PIN: "1234", Known: known(reg)})
		errc <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.dev.WaitCommand(ctx, cmdGetAssertion, 1); err != nil {
		t.Fatal(err)
	}
	r.dev.Unplug()
	wantKind(t, <-errc, kiosk.KindDeviceGone)
}

func TestCancelThroughContext(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	reg := r.mustRegister(registerIn{UserID: []byte("frank"), Name: "frank", Discoverable: true, PIN: "1234"})
	r.key.SetTouch(softkey.TouchNever, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- r.c.Call(ctx, "signin", signInIn{Path: r.dev.Path(), PIN: "1234", Known: known(reg)}, nil)
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := r.dev.WaitCommand(wctx, cmdGetAssertion, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	wantKind(t, <-errc, kiosk.KindCancelled)
	// The key is usable right after: the cancel reached it and it stopped.
	r.key.SetTouch(softkey.TouchGiven, 0)
	if _, err := r.signIn(signInIn{PIN: "1234", Known: known(reg)}); err != nil {
		t.Fatalf("sign-in after a cancel: %v", err)
	}
}

func TestCancelWhileAskingForPIN(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := r.c.Call(ctx, "signin", signInIn{Path: r.dev.Path(), PINHangs: true}, nil)
	wantKind(t, err, kiosk.KindCancelled)
	if r.dev.CommandCount(cmdGetAssertion) != 0 {
		t.Fatal("the key was asked for an assertion without a PIN")
	}
}

func TestNoTouchTimesOut(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	reg := r.mustRegister(registerIn{UserID: []byte("gina"), Name: "gina", Discoverable: true, PIN: "1234"})
	r.key.SetTouch(softkey.TouchNever, 0)
	_, err := r.signIn(signInIn{PIN: "1234", Known: known(reg), UserTimeout: 500 * time.Millisecond})
	wantKind(t, err, kiosk.KindTimeout)
	r.key.SetTouch(softkey.TouchRefused, 0)
	_, err = r.signIn(signInIn{PIN: "1234", Known: known(reg)})
	wantKind(t, err, kiosk.KindNotAllowed)
}

func TestEnrollRefusals(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1234"})
	first := r.mustRegister(registerIn{UserID: []byte("hank"), Name: "hank", Discoverable: true, PIN: "1234"})
	_, err := r.register(registerIn{UserID: []byte("hank"), Name: "hank", PIN: "1234", Exclude: [][]byte{first.CredentialID}})
	wantKind(t, err, kiosk.KindExcluded)
	// Attestation from another CA is refused when trust is required.
	other := newRig(t, softkey.Config{PIN: "1234"})
	_, err = r.register(registerIn{UserID: []byte("ivan"), Name: "ivan", PIN: "1234", RootDER: other.key.AttestationRoot().Raw})
	if kiosk.KindOf(err) != kiosk.KindUntrustedAttestation {
		t.Fatalf("registration under a foreign root: %v", err)
	}

	// A key without a PIN cannot give user verification.
	bare := newRig(t, softkey.Config{})
	_, err = bare.register(registerIn{UserID: []byte("judy"), Name: "judy", RequireUV: true})
	wantKind(t, err, kiosk.KindPINNotSet)
	reg := bare.mustRegister(registerIn{UserID: []byte("judy"), Name: "judy", Discoverable: true})
	if reg.Method != "presence" {
		t.Fatalf("registration on a bare key used %s", reg.Method)
	}
}

func TestTwoKeysAtOnce(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: "1111"})
	second, err := softkey.New(softkey.Config{PIN: "2222", Fingerprint: true})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := r.b.Plug(second.Plug(), hidtest.Identity{Product: "second key"})
	if err != nil {
		t.Fatal(err)
	}
	kate := r.mustRegister(registerIn{UserID: []byte("kate"), Name: "kate", Discoverable: true, PIN: "1111"})
	var leo registerOut
	if err := r.call("register", registerIn{Path: d2.Path(), UserID: []byte("leo"), Name: "leo", Discoverable: true, PIN: "2222"}, &leo); err != nil {
		t.Fatal(err)
	}
	// Both sign in at the same time, each on their own key.
	type result struct {
		out signInOut
		err error
	}
	first, other := make(chan result, 1), make(chan result, 1)
	go func() {
		var out signInOut
		err := r.call("signin", signInIn{Path: r.dev.Path(), PIN: "1111", Known: known(kate, leo)}, &out)
		first <- result{out, err}
	}()
	go func() {
		var out signInOut
		err := r.call("signin", signInIn{Path: d2.Path(), PIN: "2222", Known: known(kate, leo)}, &out)
		other <- result{out, err}
	}()
	for _, c := range []struct {
		res    result
		name   string
		method string
	}{{<-first, "kate", "pin"}, {<-other, "leo", "fingerprint"}} {
		if c.res.err != nil {
			t.Fatalf("%s: %v", c.name, c.res.err)
		}
		if len(c.res.out.Accounts) != 1 || string(c.res.out.Accounts[0].UserHandle) != c.name || c.res.out.Method != c.method {
			t.Fatalf("%s's key answered %+v", c.name, c.res.out)
		}
	}
}
