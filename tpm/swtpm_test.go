package tpm_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/fido"
	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/swtpm"
	"passkiosk/tpm/tpmtest"
)

// TestSwtpmIntegration runs the whole life of a TPM credential against a
// real swtpm process started for this test on its own socket: enroll, sign
// in, wrong PIN, change PIN, and a restart of the TPM process, after which
// the stored blobs still work and the counter has not gone back.
func TestSwtpmIntegration(t *testing.T) {
	s := tpmtest.StartSwtpm(t)
	cfg := tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: s.Address(), CommandTimeout: 20 * time.Second}
	k, err := tpm.Open(cfg)
	if err != nil {
		t.Fatalf("Open swtpm: %v", err)
	}
	e, cred := enroll(t, k, pin)
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatalf("SignIn on swtpm: %v", err)
	}
	cred = res.Updated
	_, err = signIn(t, k, &e.Blobs, cred, "000000")
	if !errors.Is(err, kiosk.ErrPINInvalid) || kiosk.TriesLeft(err) < 0 {
		t.Fatalf("wrong PIN on swtpm: %v", err)
	}
	nb, err := k.ChangePIN(ctx, &e.Blobs, []byte(pin), []byte("24681357"))
	if err != nil {
		t.Fatalf("ChangePIN on swtpm: %v", err)
	}
	if err := k.ResetLockout(ctx, nil); err != nil {
		t.Fatal(err)
	}

	// Attestation by swtpm's own attestation key, certified by a site CA.
	ca, caKey := testCA(t)
	ak, err := k.AttestationKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := k.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	aik, err := tpm.NewAIKCertificate(ak, info, ca, caKey, time.Now().Add(-time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetAttestationCertificates([][]byte{aik}); err != nil {
		t.Fatal(err)
	}
	c := newCeremony(t, fido.TypeCreate)
	ae, err := k.Enroll(ctx, tpm.EnrollRequest{RPID: rpID, PIN: []byte(pin), ClientDataHash: c.hash, Attest: true})
	if err != nil {
		t.Fatalf("attested Enroll on swtpm (%+v): %v", info, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := fido.VerifyRegistration(fido.RegistrationInput{
		RPID: rpID, Origin: origin, Challenge: c.challenge, ClientDataJSON: c.clientData,
		AttestationObject: ae.AttestationObject, RequireUV: true,
		TrustAnchors: roots, RequireTrustedAttestation: true,
	}); err != nil {
		t.Fatalf("swtpm attestation (%+v): %v", info, err)
	}

	// Before the restart, which would flush anything left loaded.
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k))
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	s.Restart()
	k2, err := tpm.Open(cfg)
	if err != nil {
		t.Fatalf("Open after restart: %v", err)
	}
	defer k2.Close()
	res2, err := signIn(t, k2, nb, cred, "24681357")
	if err != nil {
		t.Fatalf("SignIn after swtpm restart: %v", err)
	}
	if res2.Counter <= res.Counter {
		t.Errorf("counter after restart %d, before %d", res2.Counter, res.Counter)
	}
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k2))
}

// The swtpm-over-TCP transport ("tcp:127.0.0.1:port") through Open: enroll,
// sign in, a wrong PIN, and a restart of the TPM process on a new port,
// after which the stored key still works and the counter has gone on.
func TestSwtpmOverTCP(t *testing.T) {
	s := tpmtest.StartSwtpmWith(t, swtpm.Options{TCP: true})
	if !strings.HasPrefix(s.Address(), "tcp:127.0.0.1:") {
		t.Fatalf("swtpm TCP address %q is not on 127.0.0.1", s.Address())
	}
	cfg := tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: s.Address(), CommandTimeout: 20 * time.Second}
	k, err := tpm.Open(cfg)
	if err != nil {
		t.Fatalf("Open swtpm over TCP: %v", err)
	}
	e, cred := enroll(t, k, pin)
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatalf("SignIn over TCP: %v", err)
	}
	if _, err := signIn(t, k, &e.Blobs, res.Updated, "000000"); !errors.Is(err, kiosk.ErrPINInvalid) {
		t.Fatalf("wrong PIN over TCP: %v; want pin-invalid", err)
	}
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k))
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	s.Restart()
	cfg.Swtpm = s.Address()
	k2, err := tpm.Open(cfg)
	if err != nil {
		t.Fatalf("Open over TCP after restart: %v", err)
	}
	defer k2.Close()
	res2, err := signIn(t, k2, &e.Blobs, res.Updated, pin)
	if err != nil {
		t.Fatalf("SignIn over TCP after restart: %v", err)
	}
	if res2.Counter <= res.Counter {
		t.Errorf("counter after restart %d, before %d", res2.Counter, res.Counter)
	}
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k2))
}

func TestSwtpmTPM12IsRefused(t *testing.T) {
	if !swtpm.Available() {
		t.Skip("swtpm is not installed (Debian package swtpm)")
	}
	p, err := swtpm.StartWith(context.Background(), t.TempDir(), swtpm.Options{TPM12: true})
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer p.Stop()
	k, err := tpm.Open(tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: p.Address()})
	if k != nil || !errors.Is(err, kiosk.ErrNoTPM) || !strings.Contains(err.Error(), "TPM 1.2") {
		t.Fatalf("Open on a TPM 1.2: %v; want no-tpm naming TPM 1.2", err)
	}
	conn, done := tpmtest.Dial(t, p)
	defer done()
	tpmtest.CheckNoHandlesTPM12(t, conn)
}

// BenchmarkSignInSwtpm measures one sign-in on a real swtpm process: wall
// time per sign-in, and TPM commands per sign-in by command code. It fails
// if the sign-in path creates any key.
func BenchmarkSignInSwtpm(b *testing.B) { benchmarkSignInSwtpm(b, tpm.Config{}) }

// BenchmarkSignInSwtpmKeptSession is BenchmarkSignInSwtpm with one salted
// session kept open across sign-ins, as the appliance runs.
func BenchmarkSignInSwtpmKeptSession(b *testing.B) {
	benchmarkSignInSwtpm(b, tpm.Config{KeepSession: true})
}

func benchmarkSignInSwtpm(b *testing.B, cfg tpm.Config) {
	s := tpmtest.StartSwtpm(b)
	conn, done := tpmtest.Dial(b, s.Process)
	defer done()
	k, err := tpm.New(conn, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	e, _ := enroll(b, k, pin)
	c := newCeremony(b, fido.TypeGet)
	conn.Reset()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.SignIn(ctx, &e.Blobs, rpID, c.hash, []byte(pin)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	counts := conn.Counts()
	for _, cc := range tpmtest.KeyCreating {
		if counts[cc] != 0 {
			b.Fatalf("sign-in created keys: %s", tpmtest.Summary(counts))
		}
	}
	b.ReportMetric(float64(conn.Total())/float64(b.N), "tpm-cmds/op")
	for cc, n := range counts {
		b.ReportMetric(float64(n)/float64(b.N), tpmtest.Name(cc)+"/op")
	}
	for cc, d := range conn.Times() {
		b.ReportMetric(float64(d.Microseconds())/float64(b.N), "us-"+tpmtest.Name(cc)+"/op")
	}
}

// The demo's persistent TPM: Open starts swtpm on a state directory and
// Close stops it; a second Open on the same directory finds the SRK, the
// counter and so the enrolled key.
func TestOwnSwtpmKeepsStateAcrossOpen(t *testing.T) {
	if !swtpm.Available() {
		t.Skip("swtpm is not installed (Debian package swtpm)")
	}
	cfg := tpm.Config{Transport: tpm.TransportSwtpm, SwtpmStateDir: t.TempDir()}
	k, err := tpm.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	e, cred := enroll(t, k, pin)
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k))
	if err := k.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	k2, err := tpm.Open(cfg)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if _, err := signIn(t, k2, &e.Blobs, cred, pin); err != nil {
		t.Fatalf("sign-in after reopening the demo TPM: %v", err)
	}
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k2))
	if err := k2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestSwtpmRepeatedWrongPINsReachLockout(t *testing.T) {
	s := tpmtest.StartSwtpm(t)
	conn, done := tpmtest.Dial(t, s.Process)
	t.Cleanup(done)
	lockoutScenario(t, tpmtest.Open(t, conn, tpm.Config{}))
}

func TestSwtpmLockoutEndsWhenItsIntervalPasses(t *testing.T) {
	s := tpmtest.StartSwtpm(t)
	conn, done := tpmtest.Dial(t, s.Process)
	t.Cleanup(done)
	lockoutExpiryScenario(t, tpmtest.Open(t, conn, tpm.Config{}))
}

// A TPM nobody started answers TPM_RC_INITIALIZE; Open starts it with
// TPM2_Startup(CLEAR) and carries on.
func TestSwtpmNotStartedIsStartedByOpen(t *testing.T) {
	if !swtpm.Available() {
		t.Skip("swtpm is not installed (Debian package swtpm)")
	}
	p, err := swtpm.StartWith(context.Background(), t.TempDir(), swtpm.Options{NoStartup: true})
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer p.Stop()
	conn, err := tpm.DialSwtpm(p.Address(), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	counted := tpmtest.Count(conn)
	k, err := tpm.New(counted, tpm.Config{})
	if err != nil {
		t.Fatalf("New on an unstarted TPM: %v", err)
	}
	defer k.Close()
	if n := counted.Counts()[tpm2.TPMCCStartup]; n != 1 {
		t.Errorf("TPM2_Startup sent %d times", n)
	}
	e, cred := enroll(t, k, pin)
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatal(err)
	}
	tpmtest.CheckNoHandles(t, counted)
}
