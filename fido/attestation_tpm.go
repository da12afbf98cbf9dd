package fido

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"slices"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// The "tpm" attestation format (WebAuthn §8.3) is verified here rather than
// by go-webauthn: go-webauthn additionally requires the TPM manufacturer in
// the attestation certificate to be on the TCG vendor list compiled into it,
// which is not a §8.3 rule and refuses the W3C test vectors and test TPMs
// such as swtpm. Whether a TPM is trusted is the policy's trust anchors'
// call. The TPM structures are parsed with go-tpm's tpm2 package.

// The object identifiers of a TPM attestation key's certificate
// (WebAuthn §8.3.1, TCG EK Credential Profile §3.2.9), for the TPM that
// issues one (package tpm) and the verification here.
var (
	OIDSubjectAltName  = asn1.ObjectIdentifier{2, 5, 29, 17}
	OIDTPMManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	OIDTPMModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	OIDTPMVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	OIDAIKCertificate  = asn1.ObjectIdentifier{2, 23, 133, 8, 3}
	OIDFIDOAAGUID      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}
)

// TPMStatement is the "tpm" attestation statement (WebAuthn §8.3.1): the
// one definition for the TPM that writes it (package tpm) and the
// verification here.
type TPMStatement struct {
	Ver      string   `cbor:"ver"`
	Alg      int64    `cbor:"alg"`
	X5C      [][]byte `cbor:"x5c"`
	Sig      []byte   `cbor:"sig"`
	CertInfo []byte   `cbor:"certInfo"`
	PubArea  []byte   `cbor:"pubArea"`
}

// verifyTPMStatement is the §8.3.2 verification procedure.
func verifyTPMStatement(ad *AuthData, rawAuthData []byte, attStmt []byte, clientDataHash [32]byte) (statementResult, error) {
	st, err := decodeTPMStatement(attStmt)
	if err != nil {
		return statementResult{}, err
	}
	if err := checkPubArea(st.PubArea, ad.Attested.PublicKey); err != nil {
		return statementResult{}, err
	}
	info, err := parseCertInfo(st.CertInfo)
	if err != nil {
		return statementResult{}, err
	}
	sigKey, hash, err := tpmSigAlg(Alg(st.Alg))
	if err != nil {
		return statementResult{}, err
	}
	h := hash.New()
	h.Write(rawAuthData)
	h.Write(clientDataHash[:])
	if err := checkCertified(info, h.Sum(nil), st.PubArea); err != nil {
		return statementResult{}, err
	}
	certs, err := checkAIK(&st, sigKey, hash, ad.Attested.AAGUID)
	if err != nil {
		return statementResult{}, err
	}
	return statementResult{typ: AttestationAttCA, x5c: certs}, nil
}

// decodeTPMStatement parses the statement and requires version 2.0 and an
// AIK certificate.
func decodeTPMStatement(attStmt []byte) (TPMStatement, error) {
	var st TPMStatement
	if err := cbor.Unmarshal(attStmt, &st); err != nil {
		return st, fail(kiosk.KindMalformed, "tpm attestation statement: %v", err)
	}
	if st.Ver != "2.0" {
		return st, fail(kiosk.KindBadAttestation, "tpm attestation version %q, want 2.0", st.Ver)
	}
	if len(st.X5C) == 0 {
		return st, fail(kiosk.KindBadAttestation, "tpm attestation without x5c (ECDAA is not supported)")
	}
	return st, nil
}

// checkPubArea requires the credential key in pubArea to be the one in
// authenticator data.
func checkPubArea(pubArea, credentialKey []byte) error {
	pub, err := parseExact[tpm2.TPMTPublic](pubArea, "pubArea")
	if err != nil {
		return err
	}
	credKey, err := ParsePublicKey(credentialKey)
	if err != nil {
		return err
	}
	return samePublicKey(pub, credKey)
}

// parseCertInfo parses certInfo and requires a TPM-generated certify
// structure.
func parseCertInfo(certInfo []byte) (*tpm2.TPMSAttest, error) {
	info, err := parseExact[tpm2.TPMSAttest](certInfo, "certInfo")
	if err != nil {
		return nil, err
	}
	if info.Magic != tpm2.TPMGeneratedValue || info.Type != tpm2.TPMSTAttestCertify {
		return nil, fail(kiosk.KindBadAttestation, "certInfo is not a TPM-generated certify structure")
	}
	return info, nil
}

// checkCertified requires certInfo to certify exactly the key of pubArea,
// over extraData, the hash of authData ‖ clientDataHash.
func checkCertified(info *tpm2.TPMSAttest, extraData, pubArea []byte) error {
	if !bytes.Equal(info.ExtraData.Buffer, extraData) {
		return fail(kiosk.KindBadAttestation, "certInfo extraData is not the hash of authData and client data")
	}
	certify, err := info.Attested.Certify()
	if err != nil {
		return fail(kiosk.KindBadAttestation, "certInfo: %v", err)
	}
	name, err := nameOf(pubArea)
	if err != nil {
		return err
	}
	if !bytes.Equal(certify.Name.Buffer, name) {
		return fail(kiosk.KindBadAttestation, "certInfo certifies another key than pubArea")
	}
	return nil
}

// checkAIK requires the AIK certificate to have signed certInfo and to meet
// §8.3.1, and returns the parsed x5c ready for chain building.
func checkAIK(st *TPMStatement, sigKey sigVerifier, hash crypto.Hash, aaguid AAGUID) ([]*x509.Certificate, error) {
	certs, err := parseCerts(st.X5C)
	if err != nil {
		return nil, err
	}
	aik := certs[0]
	if err := sigKey(aik.PublicKey, hash, st.CertInfo, st.Sig); err != nil {
		return nil, err
	}
	if err := checkAIKCert(aik, aaguid); err != nil {
		return nil, err
	}
	// The SAN is critical and holds only a directory name, which crypto/x509
	// does not parse; it was checked above, so chain building may ignore it.
	aik.UnhandledCriticalExtensions = slices.DeleteFunc(slices.Clone(aik.UnhandledCriticalExtensions),
		func(o asn1.ObjectIdentifier) bool { return o.Equal(OIDSubjectAltName) })
	return certs, nil
}

// parseExact unmarshals a TPM structure and refuses trailing bytes by
// checking that it re-marshals to as many bytes as the input. (Not to the
// same bytes: TPMI_YES_NO fields such as clockInfo.safe may hold any
// non-zero value, which go-tpm reads as true and writes back as 1.)
func parseExact[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](b []byte, what string) (*T, error) {
	v, err := tpm2.Unmarshal[T, P](b)
	if err != nil {
		return nil, fail(kiosk.KindMalformed, "%s: %v", what, err)
	}
	if len(tpm2.Marshal(*v)) != len(b) {
		return nil, fail(kiosk.KindMalformed, "%s has trailing bytes", what)
	}
	return v, nil
}

// nameOf computes the TPM Name of a public area from its exact bytes:
// nameAlg ‖ H_nameAlg(pubArea) (TPM 2.0 Part 1 §16).
func nameOf(pubArea []byte) ([]byte, error) {
	if len(pubArea) < 4 {
		return nil, fail(kiosk.KindMalformed, "pubArea too short")
	}
	alg := tpm2.TPMIAlgHash(uint16(pubArea[2])<<8 | uint16(pubArea[3]))
	h, err := alg.Hash()
	if err != nil {
		return nil, fail(kiosk.KindBadAttestation, "pubArea nameAlg: %v", err)
	}
	d := h.New()
	d.Write(pubArea)
	return d.Sum(pubArea[2:4:4]), nil
}

func samePublicKey(pub *tpm2.TPMTPublic, key PublicKey) error {
	switch k := key.CryptoPublicKey().(type) {
	case *ecdsa.PublicKey:
		parms, err := pub.Parameters.ECCDetail()
		if err != nil || parms.CurveID != tpm2.TPMECCNistP256 {
			return fail(kiosk.KindBadAttestation, "pubArea is not a P-256 key like the credential")
		}
		pt, err := pub.Unique.ECC()
		if err != nil {
			return fail(kiosk.KindBadAttestation, "pubArea unique: %v", err)
		}
		raw, _ := k.Bytes()
		if !bytes.Equal(leftPad(pt.X.Buffer, 32), raw[1:33]) || !bytes.Equal(leftPad(pt.Y.Buffer, 32), raw[33:]) {
			return fail(kiosk.KindBadAttestation, "pubArea key differs from the credential key")
		}
		return nil
	case *rsa.PublicKey:
		parms, err := pub.Parameters.RSADetail()
		if err != nil {
			return fail(kiosk.KindBadAttestation, "pubArea is not an RSA key like the credential")
		}
		n, err := pub.Unique.RSA()
		if err != nil {
			return fail(kiosk.KindBadAttestation, "pubArea unique: %v", err)
		}
		e := int(parms.Exponent)
		if e == 0 {
			e = 65537 // TPM 2.0 Part 2 §12.2.3.5: zero means the default exponent
		}
		if new(big.Int).SetBytes(n.Buffer).Cmp(k.N) != 0 || e != k.E {
			return fail(kiosk.KindBadAttestation, "pubArea key differs from the credential key")
		}
		return nil
	}
	return fail(kiosk.KindAlgorithm, "tpm attestation of a %s credential is not supported", key.Alg())
}

func leftPad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}

type sigVerifier func(pub any, hash crypto.Hash, msg, sig []byte) error

// tpmSigAlg returns how to check the AIK's signature for a COSE algorithm.
func tpmSigAlg(a Alg) (sigVerifier, crypto.Hash, error) {
	switch a {
	case AlgES256:
		return func(pub any, hash crypto.Hash, msg, sig []byte) error {
			k, ok := pub.(*ecdsa.PublicKey)
			d := sha256.Sum256(msg)
			if !ok || !ecdsa.VerifyASN1(k, d[:], sig) {
				return fail(kiosk.KindBadAttestation, "AIK signature over certInfo does not verify")
			}
			return nil
		}, crypto.SHA256, nil
	case AlgRS256:
		return func(pub any, hash crypto.Hash, msg, sig []byte) error {
			k, ok := pub.(*rsa.PublicKey)
			d := sha256.Sum256(msg)
			if !ok || rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) != nil {
				return fail(kiosk.KindBadAttestation, "AIK signature over certInfo does not verify")
			}
			return nil
		}, crypto.SHA256, nil
	}
	return nil, 0, fail(kiosk.KindAlgorithm, "tpm attestation algorithm %s is not supported", a)
}

func parseCerts(ders [][]byte) ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fail(kiosk.KindMalformed, "x5c[%d]: %v", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// checkAIKCert applies the TPM attestation certificate requirements
// (WebAuthn §8.3.1).
func checkAIKCert(c *x509.Certificate, aaguid AAGUID) error {
	if c.Version != 3 {
		return fail(kiosk.KindBadAttestation, "AIK certificate version %d, want 3", c.Version)
	}
	if len(c.Subject.Names) != 0 {
		return fail(kiosk.KindBadAttestation, "AIK certificate subject must be empty")
	}
	if c.IsCA || !c.BasicConstraintsValid {
		return fail(kiosk.KindBadAttestation, "AIK certificate must have basic constraints CA=false")
	}
	if !slices.ContainsFunc(c.UnknownExtKeyUsage, OIDAIKCertificate.Equal) {
		return fail(kiosk.KindBadAttestation, "AIK certificate lacks the tcg-kp-AIKCertificate extended key usage")
	}
	var san []byte
	for _, ext := range c.Extensions {
		switch {
		case ext.Id.Equal(OIDSubjectAltName):
			san = ext.Value
		case ext.Id.Equal(OIDFIDOAAGUID):
			var got []byte
			if _, err := asn1.Unmarshal(ext.Value, &got); err != nil || !bytes.Equal(got, aaguid[:]) {
				return fail(kiosk.KindBadAttestation, "AIK certificate AAGUID extension does not match authenticator data")
			}
		}
	}
	if san == nil {
		return fail(kiosk.KindBadAttestation, "AIK certificate lacks the subject alternative name")
	}
	return checkTPMSAN(san)
}

// checkTPMSAN requires the TPM manufacturer, model and version attributes
// in a directoryName of the subject alternative name (TCG EK Credential
// Profile §3.2.9).
func checkTPMSAN(ext []byte) error {
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(ext, &names); err != nil || len(rest) != 0 {
		return fail(kiosk.KindMalformed, "AIK certificate subject alternative name does not parse")
	}
	found := map[string]bool{}
	for _, n := range names {
		if n.Class != asn1.ClassContextSpecific || n.Tag != 4 {
			continue
		}
		var rdns pkix.RDNSequence
		if _, err := asn1.Unmarshal(n.Bytes, &rdns); err != nil {
			return fail(kiosk.KindMalformed, "AIK certificate directory name does not parse")
		}
		for _, rdn := range rdns {
			for _, atv := range rdn {
				if s, ok := atv.Value.(string); ok && s != "" {
					found[atv.Type.String()] = true
				}
			}
		}
	}
	for _, oid := range []asn1.ObjectIdentifier{OIDTPMManufacturer, OIDTPMModel, OIDTPMVersion} {
		if !found[oid.String()] {
			return fail(kiosk.KindBadAttestation, "AIK certificate lacks TPM attribute %s", oid)
		}
	}
	return nil
}
