package tpm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

// signRequest is what a fleet CA does with a terminal's certificate
// request.
func signRequest(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, csrDER []byte, usage x509.ExtKeyUsage) []byte {
	t.Helper()
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("the request's signature by the TPM does not verify: %v", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: csr.Subject, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{"localhost"}, IPAddresses: csr.IPAddresses}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, csr.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// A fleet terminal's key is made in the TPM and signs its certificate
// request and its TLS handshakes there; its file loads again, and is
// refused by another TPM.
func TestClientKeySignsARequestAndATLSHandshake(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	key, err := k.NewClientKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file, err := key.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	key, err = k.LoadClientKey(file)
	if err != nil {
		t.Fatalf("the key's own file: %v", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ward7-bay2"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, caKey := testCA(t)
	clientDER := signRequest(t, ca, caKey, csr, x509.ExtKeyUsageClientAuth)

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: v, MaxVersion: v,
			Certificates: []tls.Certificate{{Certificate: [][]byte{clientDER}, PrivateKey: key}}}}}
		rsp, err := cl.Get(srv.URL)
		if err != nil {
			t.Fatalf("TLS %x with the TPM's key: %v", v, err)
		}
		name, _ := io.ReadAll(rsp.Body)
		rsp.Body.Close()
		if string(name) != "ward7-bay2" {
			t.Fatalf("TLS %x: the server saw %q", v, name)
		}
	}
	tpmtest.CheckNoHandles(t, tr)

	// Not a SHA-256 digest: refused, not signed with another scheme.
	d := sha256.Sum256([]byte("x"))
	if _, err := key.Sign(rand.Reader, d[:20], tlsHash(0)); kiosk.KindOf(err) != kiosk.KindAlgorithm {
		t.Fatalf("a SHA-1-sized digest: %v", err)
	}

	// The simulator is one per process: the other TPM is a swtpm.
	other, err := tpm.Open(tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: tpmtest.StartSwtpm(t).Address()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.LoadClientKey(file); !errors.Is(err, kiosk.ErrTPMCleared) && kiosk.KindOf(err) != kiosk.KindTPMCleared {
		t.Fatalf("another TPM loaded the key: %v", err)
	}
	if _, err := k.LoadClientKey(file[:len(file)-3]); kiosk.KindOf(err) != kiosk.KindMalformed {
		t.Fatalf("a cut file: %v", err)
	}
}

type tlsHash int

func (tlsHash) HashFunc() crypto.Hash { return crypto.SHA1 }

// People's wrong PINs put the TPM in lockout; the terminal's fleet key
// has no PIN, is not under dictionary-attack protection, and still signs.
// A person's key is refused meanwhile.
func TestClientKeySignsDuringALockout(t *testing.T) {
	s := tpmtest.StartSwtpm(t)
	k, err := tpm.Open(tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: s.Address(),
		DA: &tpm.DAParams{MaxTries: 2, Interval: time.Hour, Recovery: 86400 * time.Second}, SaveSealedLockoutAuth: func([]byte) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	key, err := k.NewClientKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, cred := enroll(t, k, pin)
	for range 2 {
		signIn(t, k, &e.Blobs, cred, "000000")
	}
	if _, err := signIn(t, k, &e.Blobs, cred, pin); !errors.Is(err, kiosk.ErrTPMLockout) {
		t.Fatalf("a person's key in the lockout: %v", err)
	}
	d := sha256.Sum256([]byte("handshake"))
	sig, err := key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("the fleet key in the lockout: %v", err)
	}
	if !ecdsa.VerifyASN1(key.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("the signature does not verify")
	}
}
