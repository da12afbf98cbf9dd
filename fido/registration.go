package fido

import (
	"crypto/x509"
	"time"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// AttestationType says what an attestation proves (WebAuthn §6.5.4).
type AttestationType string

const (
	AttestationNone  AttestationType = "none"  // nothing
	AttestationSelf  AttestationType = "self"  // signed by the credential key itself
	AttestationBasic AttestationType = "basic" // signed by an attestation certificate (x5c)
	AttestationAttCA AttestationType = "attca" // signed by a key an attestation CA certified (TPM AIK)
)

// RegistrationInput is one registration to verify, with the expectations of
// the ceremony that asked for it and the policy's attestation rules.
type RegistrationInput struct {
	RPID      string
	Origin    string
	Challenge Challenge

	ClientDataJSON    []byte
	AttestationObject []byte

	RequireUV bool
	// Algs is the algorithm allow-list; empty means DefaultAlgs.
	Algs []Alg
	// TrustAnchors are the roots an attestation certificate chain must reach
	// for the attestation to count as trusted.
	TrustAnchors *x509.CertPool
	// RequireTrustedAttestation refuses any registration whose attestation
	// does not chain to TrustAnchors (none and self attestation included).
	RequireTrustedAttestation bool
	// Now is the time attestation certificates are checked at; zero means
	// the current time. Every certificate in x5c must be within its
	// validity period at Now (bad-attestation otherwise), and the chain to
	// TrustAnchors is built at Now. For packed and fido-u2f statements
	// go-webauthn, which checks their signatures, also requires every x5c
	// certificate to be valid at the wall clock and offers no way to give
	// it another time; see attestation.go. The engine passes its clock,
	// which is the wall clock in production, so the two agree there.
	Now time.Time
}

// Registration is a verified new credential, ready to store.
type Registration struct {
	CredentialID []byte
	PublicKey    []byte // COSE_Key, canonical
	Alg          Alg
	AAGUID       AAGUID
	Counter      uint32
	Flags        Flags
	Format       string
	Type         AttestationType
	// Trusted is true when the attestation chains to a policy trust anchor.
	Trusted bool
	// Chain is the verified chain from the attestation certificate to its
	// anchor when Trusted.
	Chain []*x509.Certificate
}

// attestationObject is the CBOR attestation object (WebAuthn §6.5.4).
type attestationObject struct {
	Fmt      string          `cbor:"fmt"`
	AttStmt  cbor.RawMessage `cbor:"attStmt"`
	AuthData []byte          `cbor:"authData"`
}

// MarshalAttestationObject builds an attestation object from its parts, as
// CTAP's authenticatorMakeCredential returns them separately.
func MarshalAttestationObject(format string, authData []byte, attStmt cbor.RawMessage) ([]byte, error) {
	if len(attStmt) == 0 {
		attStmt = cbor.RawMessage{0xa0} // empty map
	}
	if err := cbor.Valid(attStmt); err != nil {
		return nil, fail(kiosk.KindMalformed, "attestation statement: %v", err)
	}
	return cbor.Marshal(attestationObject{Fmt: format, AttStmt: attStmt, AuthData: authData})
}

// VerifyRegistration verifies a registration (WebAuthn §7.1 as it applies
// to a kiosk that is its own client and relying party).
func VerifyRegistration(in RegistrationInput) (*Registration, error) {
	// Steps 7–10: client data.
	if err := verifyClientData(in.ClientDataJSON, TypeCreate, in.Challenge, in.Origin); err != nil {
		return nil, err
	}
	// Step 12: decode the attestation object.
	ao, ad, err := decodeAttestationObject(in.AttestationObject)
	if err != nil {
		return nil, err
	}
	// Steps 13–16: RP, presence, verification.
	if err := checkRPAndFlags(ad, in.RPID, in.RequireUV); err != nil {
		return nil, err
	}
	if ad.Attested == nil {
		return nil, fail(kiosk.KindMalformed, "registration authenticator data has no attested credential")
	}
	// Step 18: the credential's algorithm is one we asked for.
	pub, err := ParsePublicKey(ad.Attested.PublicKey)
	if err != nil {
		return nil, err
	}
	if !algAllowed(pub.Alg(), in.Algs) {
		return nil, fail(kiosk.KindAlgorithm, "algorithm %s is not allowed by policy", pub.Alg())
	}
	// Steps 20–23: the attestation statement, its certificates' validity
	// at Now, then trust.
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	att, err := verifyStatement(ao, ad, ClientDataHash(in.ClientDataJSON))
	if err != nil {
		return nil, err
	}
	if err := checkValidity(att.x5c, now); err != nil {
		return nil, err
	}
	reg := &Registration{
		CredentialID: ad.Attested.CredentialID,
		PublicKey:    pub.Bytes(),
		Alg:          pub.Alg(),
		AAGUID:       ad.Attested.AAGUID,
		Counter:      ad.Counter,
		Flags:        ad.Flags,
		Format:       ao.Fmt,
		Type:         att.typ,
	}
	if err := assessTrust(reg, att.x5c, in, now); err != nil {
		return nil, err
	}
	return reg, nil
}

// decodeAttestationObject parses an attestation object and the
// authenticator data it holds (WebAuthn §7.1 step 12).
func decodeAttestationObject(raw []byte) (attestationObject, *AuthData, error) {
	var ao attestationObject
	if err := cbor.Unmarshal(raw, &ao); err != nil {
		return ao, nil, fail(kiosk.KindMalformed, "attestation object: %v", err)
	}
	if ao.Fmt == "" || len(ao.AttStmt) == 0 || ao.AttStmt[0]>>5 != 5 {
		return ao, nil, fail(kiosk.KindMalformed, "attestation object lacks fmt or an attStmt map")
	}
	ad, err := ParseAuthData(ao.AuthData)
	if err != nil {
		return ao, nil, err
	}
	return ao, ad, nil
}

// assessTrust decides whether the attestation chains to the policy's trust
// anchors at now (WebAuthn §7.1 steps 22–23), records the answer in reg,
// and refuses the registration when the policy requires trust and there is
// none.
func assessTrust(reg *Registration, x5c []*x509.Certificate, in RegistrationInput, now time.Time) error {
	if len(x5c) > 0 && in.TrustAnchors != nil {
		chain, err := verifyChain(x5c, in.TrustAnchors, now)
		if err != nil && in.RequireTrustedAttestation {
			return err
		}
		reg.Trusted, reg.Chain = err == nil, chain
	}
	if in.RequireTrustedAttestation && !reg.Trusted {
		return fail(kiosk.KindUntrustedAttestation, "policy requires attestation from a trusted authenticator; got %s attestation (%s)", reg.Type, reg.Format)
	}
	return nil
}
