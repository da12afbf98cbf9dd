package auditfile

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Signature is an export header's signature by the terminal's TPM: its
// attestation key, which stays the same for as long as the TPM keeps its
// endorsement seed, so an auditor who once noted the key's fingerprint
// (passkioskctl status shows it) can tell the file came from that
// terminal.
type Signature struct {
	Alg string `json:"alg"` // ES256: ECDSA P-256 over SHA-256
	Key string `json:"key"` // the public key, DER SubjectPublicKeyInfo, base64
	Sig string `json:"sig"` // ASN.1 ECDSA signature over Statement, base64
}

// statementPrefix names what is signed, so the signature cannot be taken
// for one over anything else.
const statementPrefix = "passkiosk-audit-export-header/1 "

// Statement is what an export header's signature covers: a fixed prefix
// and the SHA-256, in hex, of the header's JSON without its signature.
// Short enough for TPM2_Hash, and the header (with the head hash) is
// bound by it.
func Statement(h Header) ([]byte, error) {
	h.Signature = nil
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return []byte(statementPrefix + hex.EncodeToString(sum[:])), nil
}

// Sign puts the signature of h's statement in the header: sign returns
// the ASN.1 ECDSA signature over SHA-256 of the statement and its key.
func Sign(h *Header, sign func(statement []byte) ([]byte, *ecdsa.PublicKey, error)) error {
	st, err := Statement(*h)
	if err != nil {
		return err
	}
	sig, pub, err := sign(st)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	h.Signature = &Signature{Alg: "ES256", Key: base64.StdEncoding.EncodeToString(der), Sig: base64.StdEncoding.EncodeToString(sig)}
	return nil
}

// KeyFingerprint is how a signing key is named to people: SHA-256 of its
// DER SubjectPublicKeyInfo, in hex.
func KeyFingerprint(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// checkSignature verifies h's signature and returns its key's
// fingerprint ("" when the header is not signed).
func checkSignature(h Header) (string, error) {
	s := h.Signature
	if s == nil {
		return "", nil
	}
	if s.Alg != "ES256" {
		return "", fmt.Errorf("signature algorithm %q, want ES256", s.Alg)
	}
	der, err := base64.StdEncoding.DecodeString(s.Key)
	if err != nil {
		return "", errors.New("signature key is not base64")
	}
	k, err := x509.ParsePKIXPublicKey(der)
	pub, ok := k.(*ecdsa.PublicKey)
	if err != nil || !ok {
		return "", errors.New("signature key is not an ECDSA public key")
	}
	sig, err := base64.StdEncoding.DecodeString(s.Sig)
	if err != nil {
		return "", errors.New("signature is not base64")
	}
	st, err := Statement(h)
	if err != nil {
		return "", err
	}
	d := sha256.Sum256(st)
	if !ecdsa.VerifyASN1(pub, d[:], sig) {
		return "", errors.New("the header's signature does not verify: the header was changed, or not signed by that key")
	}
	return KeyFingerprint(pub), nil
}
