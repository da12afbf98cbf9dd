package softkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"passkiosk/fido"
)

// attestation is the key's packed-attestation identity: a test CA made at
// key creation and a leaf certificate it issued for the attestation key.
type attestation struct {
	root *x509.Certificate
	leaf *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newAttestation makes the CA and the leaf, valid for twenty years from an
// hour ago.
func newAttestation(aaguid fido.AAGUID) (*attestation, error) {
	notBefore := time.Now().Add(-time.Hour)
	root, leaf, key, err := NewAttestationCA(aaguid, notBefore, notBefore.AddDate(20, 0, 0))
	if err != nil {
		return nil, err
	}
	return &attestation{root: root, leaf: leaf, key: key}, nil
}

// NewAttestationCA makes a test attestation CA and the certificate it
// issues to the authenticator model aaguid for packed basic attestation
// (WebAuthn §8.2), both valid from notBefore to notAfter; key is the
// leaf's private key, the attestation key. Tests that check attestation
// chains (expired ones included) use it as well as the virtual key.
func NewAttestationCA(aaguid fido.AAGUID, notBefore, notAfter time.Time) (root, leaf *x509.Certificate, key *ecdsa.PrivateKey, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	caTmpl := caTemplate(notBefore, notAfter)
	root, err = issue("attestation CA", caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	leafTmpl, err := leafTemplate(aaguid, notBefore, notAfter)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf, err = issue("attestation certificate", leafTmpl, root, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	return root, leaf, leafKey, nil
}

// caTemplate describes the test CA: certificates only, no intermediates
// below it.
func caTemplate(notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			Country: []string{"XX"}, Organization: []string{"passkiosk test"},
			CommonName: "passkiosk virtual key test attestation CA",
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
}

// leafTemplate describes the attestation certificate as WebAuthn §8.2.1
// requires it of packed attestation: version 3; subject C, O, OU
// "Authenticator Attestation" and CN; basic constraints CA=false; and the
// AAGUID extension, not critical.
func leafTemplate(aaguid fido.AAGUID, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	ext, err := asn1.Marshal(aaguid[:])
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			Country:            []string{"XX"},
			Organization:       []string{"passkiosk test"},
			OrganizationalUnit: []string{"Authenticator Attestation"},
			CommonName:         "passkiosk virtual key " + aaguid.String(),
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       []pkix.Extension{{Id: fido.OIDFIDOAAGUID, Value: ext}},
	}, nil
}

// issue signs tmpl for pub with the parent's key and parses the result;
// what names the certificate in an error.
func issue(what string, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, parentKey *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return x509.ParseCertificate(der)
}

func randomSerial() *big.Int { return new(big.Int).SetBytes(randomBytes(16)) }
