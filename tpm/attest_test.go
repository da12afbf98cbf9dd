package tpm_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"passkiosk/fido"
	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

// testCA is a site attestation CA made for one test.
func testCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Ward 7 TPM attestation CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestAttestedEnrollmentVerifiesAsTPMAttestation(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	ca, caKey := testCA(t)

	c := newCeremony(t, fido.TypeCreate)
	_, err := k.Enroll(ctx, tpm.EnrollRequest{RPID: rpID, PIN: []byte(pin), ClientDataHash: c.hash, Attest: true})
	if kiosk.KindOf(err) != kiosk.KindPolicy {
		t.Fatalf("attested enrollment without a certificate: %v; want policy", err)
	}

	ak, err := k.AttestationKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := k.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Manufacturer == "" || info.Model == "" || info.Version == "" {
		t.Fatalf("TPM info %+v", info)
	}
	aik, err := tpm.NewAIKCertificate(ak, info, ca, caKey, time.Now().Add(-time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetAttestationCertificates([][]byte{aik}); err != nil {
		t.Fatal(err)
	}

	e, err := k.Enroll(ctx, tpm.EnrollRequest{RPID: rpID, PIN: []byte(pin), ClientDataHash: c.hash, Attest: true})
	if err != nil {
		t.Fatalf("attested Enroll: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	reg, err := fido.VerifyRegistration(fido.RegistrationInput{
		RPID: rpID, Origin: origin, Challenge: c.challenge,
		ClientDataJSON: c.clientData, AttestationObject: e.AttestationObject,
		RequireUV: true, TrustAnchors: roots, RequireTrustedAttestation: true,
	})
	if err != nil {
		t.Fatalf("VerifyRegistration of tpm attestation: %v", err)
	}
	if reg.Format != "tpm" || reg.Type != fido.AttestationAttCA || !reg.Trusted || reg.AAGUID != tpm.AAGUID {
		t.Errorf("registration %+v", reg)
	}

	// The same statement does not pass for another client data hash: the
	// TPM's certInfo is bound to this ceremony.
	other := newCeremony(t, fido.TypeCreate)
	_, err = fido.VerifyRegistration(fido.RegistrationInput{
		RPID: rpID, Origin: origin, Challenge: other.challenge,
		ClientDataJSON: other.clientData, AttestationObject: e.AttestationObject,
		RequireUV: true, TrustAnchors: roots,
	})
	if err == nil {
		t.Fatal("attestation accepted for another ceremony")
	}

	cred := fido.StoredCredential{ID: reg.CredentialID, PublicKey: reg.PublicKey, Counter: reg.Counter}
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatalf("sign-in with attested key: %v", err)
	}
}

func TestAttestationCertificateForAnotherKeyIsRefused(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	ca, caKey := testCA(t)
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	info := tpm.Info{Manufacturer: "id:4D534654", Model: "x", Version: "id:00000001"}
	aik, err := tpm.NewAIKCertificate(&stranger.PublicKey, info, ca, caKey, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetAttestationCertificates([][]byte{aik}); err != nil {
		t.Fatal(err)
	}
	_, err = k.Enroll(ctx, tpm.EnrollRequest{RPID: rpID, PIN: []byte(pin), Attest: true})
	if !errors.Is(err, kiosk.ErrBadAttestation) {
		t.Fatalf("certificate for another key: %v; want bad-attestation", err)
	}
}
