package fidotest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"

	"passkiosk/fido"
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
// notBefore to notAfter. The leaf meets WebAuthn §8.2.1: version 3;
// subject C, O, OU "Authenticator Attestation" and CN; basic constraints
// CA=false; the AAGUID extension, not critical.
func NewAttestationCA(aaguid fido.AAGUID, notBefore, notAfter time.Time) *AttestationCA {
	caKey := mustKey()
	leafKey := mustKey()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Country: []string{"XX"}, Organization: []string{"fidotest"}, CommonName: "fidotest attestation CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	root := mustCert(ca, ca, &caKey.PublicKey, caKey)
	ext, err := asn1.Marshal(aaguid[:])
	if err != nil {
		panic(err)
	}
	leaf := mustCert(&x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject: pkix.Name{
			Country: []string{"XX"}, Organization: []string{"fidotest"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "fidotest authenticator",
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}, Value: ext}},
	}, root, &leafKey.PublicKey, caKey)
	return &AttestationCA{Root: root, Leaf: leaf, Key: leafKey}
}

// Roots is the CA as a pool, for fido.RegistrationInput.TrustAnchors.
func (a *AttestationCA) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Root)
	return p
}

func mustKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func mustCert(tmpl, parent *x509.Certificate, pub any, priv *ecdsa.PrivateKey) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}
