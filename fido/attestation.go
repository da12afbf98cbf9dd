package fido

import (
	"crypto/x509"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"passkiosk/kiosk"
)

// Attestation statements are verified by go-webauthn's protocol package: it
// implements the packed (§8.2) and fido-u2f (§8.6) procedures, including the
// certificate requirements that are easy to get subtly wrong. The tpm
// format (§8.3) is checked in attestation_tpm.go, which says why.
// Everything else (client data, authenticator data, flags, algorithms) is
// checked in this package first, and trust is decided here: go-webauthn
// only checks chains against FIDO metadata, which a kiosk fleet does not
// use; our anchors come from policy.
//
// Time. Which clock each certificate check uses:
//   - every x5c certificate of every format is within its validity period
//     at RegistrationInput.Now (checkValidity, below), with or without
//     trust anchors;
//   - the chain to the policy's anchors, intermediates and anchor
//     included, is built at Now (verifyChain);
//   - for packed and fido-u2f, go-webauthn (v0.18) also requires every x5c
//     certificate to be valid at time.Now(): handleBasicAttestation and the
//     fido-u2f procedure call time.Now() themselves and take no time
//     parameter or option, so that check cannot be moved to Now or turned
//     off. A packed or fido-u2f certificate valid at Now but not at the
//     wall clock is therefore refused (bad-attestation); the tpm format,
//     verified here, uses Now only.

type statementResult struct {
	typ AttestationType
	x5c []*x509.Certificate
}

// formats this package accepts. Others (android-key, apple, safetynet,
// compound) are refused: no kiosk authenticator produces them.
var formats = map[string]bool{"none": true, "packed": true, "tpm": true, "fido-u2f": true}

func verifyStatement(ao attestationObject, ad *AuthData, clientDataHash [32]byte) (statementResult, error) {
	if !formats[ao.Fmt] {
		return statementResult{}, fail(kiosk.KindBadAttestation, "attestation format %q is not supported", ao.Fmt)
	}
	if ao.Fmt == "tpm" {
		return verifyTPMStatement(ad, ao.AuthData, ao.AttStmt, clientDataHash)
	}
	var stmt map[string]any
	if err := webauthncbor.Unmarshal(ao.AttStmt, &stmt); err != nil {
		return statementResult{}, fail(kiosk.KindMalformed, "attestation statement: %v", err)
	}
	pao := protocol.AttestationObject{RawAuthData: ao.AuthData, Format: ao.Fmt, AttStatement: stmt}
	if err := pao.AuthData.Unmarshal(ao.AuthData); err != nil {
		return statementResult{}, fail(kiosk.KindMalformed, "authenticator data: %v", err)
	}
	if err := pao.VerifyAttestation(clientDataHash[:], nil, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
		return statementResult{}, fail(kiosk.KindBadAttestation, "%s attestation statement: %v", ao.Fmt, describe(err))
	}
	res := statementResult{typ: attestationType(pao.Type)}
	if raw, ok := stmt["x5c"].([]any); ok {
		for i, c := range raw {
			der, ok := c.([]byte)
			if !ok {
				return res, fail(kiosk.KindMalformed, "x5c[%d] is not a byte string", i)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return res, fail(kiosk.KindMalformed, "x5c[%d]: %v", i, err)
			}
			res.x5c = append(res.x5c, cert)
		}
	}
	return res, nil
}

func attestationType(t string) AttestationType {
	switch t {
	case "basic_full":
		return AttestationBasic
	case "basic_surrogate":
		return AttestationSelf
	case "attca", "anonca":
		return AttestationAttCA
	}
	return AttestationNone
}

// describe gives go-webauthn's detail along with its summary.
func describe(err error) string {
	if e, ok := err.(*protocol.Error); ok && e.Details != "" {
		return e.Details + " (" + e.DevInfo + ")"
	}
	return err.Error()
}

// checkValidity requires every x5c certificate to be within its validity
// period at now. go-webauthn checks packed and fido-u2f certificates at the
// wall clock only, and nothing checked the TPM's AIK certificate without
// trust anchors; this is the check at the caller's time, for every format.
func checkValidity(x5c []*x509.Certificate, now time.Time) error {
	for i, c := range x5c {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return fail(kiosk.KindBadAttestation, "attestation certificate x5c[%d] %q is not valid at %s (valid from %s to %s)",
				i, c.Subject.CommonName, now.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// verifyChain checks that x5c[0] chains, through x5c[1:], to one of the
// anchors at time now (§7.1 step 23).
func verifyChain(x5c []*x509.Certificate, anchors *x509.CertPool, now time.Time) ([]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range x5c[1:] {
		inter.AddCert(c)
	}
	chains, err := x5c[0].Verify(x509.VerifyOptions{
		Roots:         anchors,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fail(kiosk.KindUntrustedAttestation, "attestation certificate %q does not chain to a trust anchor: %v", x5c[0].Subject.CommonName, err)
	}
	return chains[0], nil
}
