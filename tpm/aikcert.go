package tpm

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"

	"passkiosk/fido"
	"passkiosk/kiosk"
)

// NewAIKCertificate issues a certificate for a TPM attestation key that
// meets the WebAuthn requirements for "tpm" attestation (§8.3.1): X.509
// version 3, empty subject, a critical subject alternative name holding the
// TPM's manufacturer, model and version, the tcg-kp-AIKCertificate extended
// key usage, CA=false, and passkiosk's AAGUID. A site's attestation CA (for
// instance in the admin tool) signs it with caKey after it has satisfied
// itself that ak lives in the TPM described by info.
func NewAIKCertificate(ak crypto.PublicKey, info Info, ca *x509.Certificate, caKey crypto.Signer, notBefore time.Time, validity time.Duration) ([]byte, error) {
	const op = "tpm aik certificate"
	dn, err := asn1.Marshal(pkix.RDNSequence{
		{{Type: fido.OIDTPMManufacturer, Value: info.Manufacturer}},
		{{Type: fido.OIDTPMModel, Value: info.Model}},
		{{Type: fido.OIDTPMVersion, Value: info.Version}},
	})
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, op, err)
	}
	// GeneralName directoryName is [4] EXPLICIT Name (RFC 5280 §4.2.1.6).
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dn}})
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, op, err)
	}
	id := AAGUID
	aaguid, err := asn1.Marshal(id[:])
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, op, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, op, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{fido.OIDAIKCertificate},
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions: []pkix.Extension{
			// Critical because the subject is empty (RFC 5280 §4.2.1.6).
			{Id: fido.OIDSubjectAltName, Critical: true, Value: san},
			{Id: fido.OIDFIDOAAGUID, Value: aaguid},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, ak, caKey)
	if err != nil {
		return nil, kiosk.E(kiosk.KindBadAttestation, op, err)
	}
	return der, nil
}
