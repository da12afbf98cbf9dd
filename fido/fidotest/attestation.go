package fidotest

import (
	"crypto/ecdsa"
	"crypto/x509"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/softkey"
)

// AttestationCA is a test attestation CA and the certificate it issued to
// an authenticator model for packed basic attestation (WebAuthn §8.2).
type AttestationCA struct {
	Root *x509.Certificate
	Leaf *x509.Certificate
	// Key is the leaf's private key: the attestation key.
	Key *ecdsa.PrivateKey
}

// NewAttestationCA makes a CA and a leaf for aaguid, both valid from
// notBefore to notAfter, as the virtual key makes its own
// (softkey.NewAttestationCA): the leaf meets WebAuthn §8.2.1.
func NewAttestationCA(aaguid fido.AAGUID, notBefore, notAfter time.Time) *AttestationCA {
	root, leaf, key, err := softkey.NewAttestationCA(aaguid, notBefore, notAfter)
	if err != nil {
		panic(err)
	}
	return &AttestationCA{Root: root, Leaf: leaf, Key: key}
}

// Roots is the CA as a pool, for fido.RegistrationInput.TrustAnchors.
func (a *AttestationCA) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Root)
	return p
}
