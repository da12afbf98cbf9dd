package fido

import (
	"bytes"
	"slices"

	"passkiosk/kiosk"
)

// StoredCredential is what the relying party keeps about a credential and
// needs to verify an assertion made with it.
type StoredCredential struct {
	ID        []byte
	PublicKey []byte // COSE_Key
	Counter   uint32
	// UserHandle, when set, must match a user handle the authenticator
	// returns (§7.2 step 6).
	UserHandle []byte
	// BackupEligible is the BE flag seen at registration; it may not change
	// (§7.2 step 17 in Level 3).
	BackupEligible bool
}

// AssertionInput is one assertion to verify, with the expectations of the
// ceremony that asked for it.
type AssertionInput struct {
	RPID   string
	Origin string
	// Challenge is the challenge this ceremony issued. Single use is the
	// job of Challenges.Redeem, which the caller runs before verifying.
	Challenge  Challenge
	Credential StoredCredential

	// CredentialID is the credential the authenticator used, as it
	// returned it; required. (An adapter whose key left it out because the
	// allow list named exactly one credential, CTAP 2.1 §6.2.2, passes
	// that one.)
	CredentialID   []byte
	AuthData       []byte
	ClientDataJSON []byte
	Signature      []byte
	UserHandle     []byte

	RequireUV bool
	// Algs is the algorithm allow-list; empty means DefaultAlgs.
	Algs []Alg
}

// AssertionResult is a verified assertion: the flags the authenticator set
// and the credential record to store back.
type AssertionResult struct {
	Flags   Flags
	Counter uint32
	// Updated is Credential with the new counter.
	Updated StoredCredential
	// UserHandle is the user handle the authenticator returned, if any.
	UserHandle []byte
}

// VerifyAssertion verifies an assertion (WebAuthn §7.2 as it applies to a
// kiosk that is its own client and relying party). Every check runs in the
// order the specification lists them; the first failure is returned with
// its kind.
func VerifyAssertion(in AssertionInput) (*AssertionResult, error) {
	cred := in.Credential
	// Steps 5–6: the credential is the one we looked up, and belongs to the
	// user the authenticator names.
	if len(in.CredentialID) == 0 {
		return nil, fail(kiosk.KindMalformed, "assertion names no credential")
	}
	if !bytes.Equal(in.CredentialID, cred.ID) {
		return nil, fail(kiosk.KindNotFound, "assertion names a credential other than the stored one")
	}
	if len(in.UserHandle) > 0 && len(cred.UserHandle) > 0 && !bytes.Equal(in.UserHandle, cred.UserHandle) {
		return nil, fail(kiosk.KindNotFound, "user handle does not match the credential's owner")
	}
	pub, err := ParsePublicKey(cred.PublicKey)
	if err != nil {
		return nil, err
	}
	if !algAllowed(pub.Alg(), in.Algs) {
		return nil, fail(kiosk.KindAlgorithm, "algorithm %s is not allowed by policy", pub.Alg())
	}
	// Steps 10–13: client data.
	if err := verifyClientData(in.ClientDataJSON, TypeGet, in.Challenge, in.Origin); err != nil {
		return nil, err
	}
	// Steps 14–17: authenticator data.
	ad, err := ParseAuthData(in.AuthData)
	if err != nil {
		return nil, err
	}
	if err := checkRPAndFlags(ad, in.RPID, in.RequireUV); err != nil {
		return nil, err
	}
	if ad.Flags.Has(FlagBE) != cred.BackupEligible {
		return nil, fail(kiosk.KindPolicy, "backup eligibility changed since registration")
	}
	// Steps 19–21: signature over authData ‖ SHA-256(clientDataJSON).
	hash := ClientDataHash(in.ClientDataJSON)
	if err := pub.Verify(slices.Concat(in.AuthData, hash[:]), in.Signature); err != nil {
		return nil, err
	}
	// Step 22: the signature counter. When either side is non-zero the new
	// value must be greater; otherwise the authenticator may be cloned.
	if (ad.Counter != 0 || cred.Counter != 0) && ad.Counter <= cred.Counter {
		return nil, fail(kiosk.KindCounterRegression, "signature counter %d is not above the stored %d: the authenticator may be cloned", ad.Counter, cred.Counter)
	}
	updated := cred
	updated.Counter = ad.Counter
	return &AssertionResult{Flags: ad.Flags, Counter: ad.Counter, Updated: updated, UserHandle: in.UserHandle}, nil
}

// checkRPAndFlags runs the authenticator-data steps shared by registration
// and assertion: RP ID hash, user presence, user verification.
func checkRPAndFlags(ad *AuthData, rpID string, requireUV bool) error {
	if ad.RPIDHash != RPIDHash(rpID) {
		return fail(kiosk.KindWrongRP, "RP ID hash is not SHA-256(%q)", rpID)
	}
	if !ad.Flags.Has(FlagUP) {
		return fail(kiosk.KindNoUserPresence, "authenticator did not report user presence")
	}
	if requireUV && !ad.Flags.Has(FlagUV) {
		return fail(kiosk.KindUVMissing, "policy requires user verification and the authenticator did not perform it")
	}
	return nil
}

func algAllowed(a Alg, allowed []Alg) bool {
	if len(allowed) == 0 {
		allowed = DefaultAlgs
	}
	return slices.Contains(allowed, a)
}
