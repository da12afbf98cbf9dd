package fidotest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"slices"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
)

// Authenticator is a minimal in-memory authenticator for tests of code that
// consumes registrations and assertions: one credential, packed self
// attestation (or basic attestation when given an Attestation), a counter
// it can be told to misreport. It is deliberately not a CTAP device;
// fido/softkey is that.
type Authenticator struct {
	Key    crypto.Signer
	Alg    fido.Alg
	AAGUID fido.AAGUID
	CredID []byte
	Flags  fido.Flags // flags set on every response besides AT
	Count  uint32
	// Attestation, when set, signs registrations with its leaf key and
	// sends the leaf as x5c (packed basic attestation, ES256).
	Attestation *AttestationCA
}

// NewAuthenticator makes an authenticator with a fresh key for alg.
func NewAuthenticator(alg fido.Alg) *Authenticator {
	var key crypto.Signer
	var err error
	switch alg {
	case fido.AlgES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case fido.AlgEdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case fido.AlgRS256:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		panic("fidotest: unsupported algorithm")
	}
	if err != nil {
		panic(err)
	}
	a := &Authenticator{Key: key, Alg: alg, Flags: fido.FlagUP | fido.FlagUV, CredID: make([]byte, 32)}
	rand.Read(a.CredID)
	rand.Read(a.AAGUID[:])
	return a
}

// PublicKey is the credential public key as a COSE_Key.
func (a *Authenticator) PublicKey() []byte {
	pk, err := fido.NewPublicKey(a.Key.Public())
	if err != nil {
		panic(err)
	}
	return pk.Bytes()
}

// Sign signs msg as WebAuthn §6.5.5 defines for the key's algorithm.
func (a *Authenticator) Sign(msg []byte) []byte {
	var sig []byte
	var err error
	if a.Alg == fido.AlgEdDSA {
		sig, err = a.Key.Sign(rand.Reader, msg, crypto.Hash(0))
	} else {
		d := sha256.Sum256(msg)
		sig, err = a.Key.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	if err != nil {
		panic(err)
	}
	return sig
}

// MakeCredential returns a packed attestation object: self attestation, or
// basic attestation with x5c when the authenticator has an Attestation.
func (a *Authenticator) MakeCredential(rpID string, clientDataJSON []byte) []byte {
	return a.MakeCredentialHash(rpID, fido.ClientDataHash(clientDataJSON))
}

// MakeCredentialHash is MakeCredential given the client data hash, as a
// CTAP authenticator receives it.
func (a *Authenticator) MakeCredentialHash(rpID string, h [32]byte) []byte {
	ad := fido.AuthData{
		RPIDHash: fido.RPIDHash(rpID), Flags: a.Flags, Counter: a.Count,
		Attested: &fido.AttestedCredential{AAGUID: a.AAGUID, CredentialID: a.CredID, PublicKey: a.PublicKey()},
	}
	raw := ad.Marshal()
	fields := map[string]any{"alg": int64(a.Alg), "sig": a.Sign(slices.Concat(raw, h[:]))}
	if att := a.Attestation; att != nil {
		d := sha256.Sum256(slices.Concat(raw, h[:]))
		sig, err := ecdsa.SignASN1(rand.Reader, att.Key, d[:])
		if err != nil {
			panic(err)
		}
		fields = map[string]any{"alg": int64(fido.AlgES256), "sig": sig, "x5c": [][]byte{att.Leaf.Raw}}
	}
	stmt, err := cbor.Marshal(fields)
	if err != nil {
		panic(err)
	}
	ao, err := fido.MarshalAttestationObject("packed", raw, stmt)
	if err != nil {
		panic(err)
	}
	return ao
}

// GetAssertion advances the counter and returns authenticator data and a
// signature over it and the client data hash.
func (a *Authenticator) GetAssertion(rpID string, clientDataJSON []byte) (authData, sig []byte) {
	return a.GetAssertionHash(rpID, fido.ClientDataHash(clientDataJSON))
}

// GetAssertionHash is GetAssertion given the client data hash.
func (a *Authenticator) GetAssertionHash(rpID string, h [32]byte) (authData, sig []byte) {
	a.Count++
	ad := fido.AuthData{RPIDHash: fido.RPIDHash(rpID), Flags: a.Flags, Counter: a.Count}
	authData = ad.Marshal()
	return authData, a.Sign(slices.Concat(authData, h[:]))
}
