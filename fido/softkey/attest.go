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

// oidFIDOAAGUID is id-fido-gen-ce-aaguid, the certificate extension that
// names the authenticator model (WebAuthn §8.2.1).
var oidFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// attestation is the key's packed-attestation identity: a test CA made at
// key creation and a leaf certificate it issued for the attestation key.
type attestation struct {
	root *x509.Certificate
	leaf *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newAttestation makes the CA and the leaf. The leaf carries what WebAuthn
// §8.2.1 requires of a packed attestation certificate: version 3; subject
// C, O, OU "Authenticator Attestation" and CN; basic constraints CA=false;
// and the AAGUID extension, not critical.
func newAttestation(aaguid fido.AAGUID) (*attestation, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour)
	serial := func() *big.Int { return new(big.Int).SetBytes(randomBytes(16)) }
	caTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			Country: []string{"XX"}, Organization: []string{"passkiosk test"},
			CommonName: "passkiosk virtual key test attestation CA",
		},
		NotBefore:             now,
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("attestation CA: %w", err)
	}
	root, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	ext, err := asn1.Marshal(aaguid[:])
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			Country:            []string{"XX"},
			Organization:       []string{"passkiosk test"},
			OrganizationalUnit: []string{"Authenticator Attestation"},
			CommonName:         "passkiosk virtual key " + aaguid.String(),
		},
		NotBefore:             now,
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       []pkix.Extension{{Id: oidFIDOAAGUID, Value: ext}},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("attestation certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, err
	}
	return &attestation{root: root, leaf: leaf, key: leafKey}, nil
}
