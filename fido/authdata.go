package fido

import (
	"crypto/sha256"
	"encoding/binary"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// Flags is the flags byte of authenticator data (WebAuthn §6.1).
type Flags byte

const (
	FlagUP Flags = 0x01 // user present
	FlagUV Flags = 0x04 // user verified
	FlagBE Flags = 0x08 // backup eligible
	FlagBS Flags = 0x10 // backed up
	FlagAT Flags = 0x40 // attested credential data included
	FlagED Flags = 0x80 // extension data included
)

// Has reports whether every flag in f2 is set in f.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

// MaxCredentialIDLen is the largest credential ID WebAuthn allows (§6.1,
// credentialIdLength "MUST be ≤ 1023").
const MaxCredentialIDLen = 1023

// AAGUID identifies an authenticator model; the type is the vocabulary's.
type AAGUID = kiosk.AAGUID

// ParseAAGUID reads the 8-4-4-4-12 form (dashes optional).
func ParseAAGUID(s string) (AAGUID, error) { return kiosk.ParseAAGUID(s) }

// RPIDHash is SHA-256 of the RP ID, as carried in authenticator data.
func RPIDHash(rpID string) [32]byte { return sha256.Sum256([]byte(rpID)) }

// AuthData is parsed authenticator data (WebAuthn §6.1).
type AuthData struct {
	RPIDHash [32]byte
	Flags    Flags
	Counter  uint32
	// Attested is present exactly when FlagAT is set.
	Attested *AttestedCredential
	// Extensions is the raw CBOR map of authenticator extension outputs,
	// present exactly when FlagED is set.
	Extensions []byte
}

// AttestedCredential is attested credential data (WebAuthn §6.5.2).
type AttestedCredential struct {
	AAGUID       AAGUID
	CredentialID []byte
	// PublicKey is the credential public key as a COSE_Key, byte for byte as
	// the authenticator sent it.
	PublicKey []byte
}

const authDataMin = 32 + 1 + 4

// ParseAuthData parses authenticator data strictly: lengths are checked
// before every slice, the credential ID is at most 1023 bytes, the COSE key
// and extensions must be well-formed CBOR under the strict modes, the AT and
// ED flags must match what is present, and no byte may trail.
func ParseAuthData(b []byte) (*AuthData, error) {
	if len(b) < authDataMin {
		return nil, fail(kiosk.KindMalformed, "authenticator data is %d bytes, need at least %d", len(b), authDataMin)
	}
	ad := &AuthData{Flags: Flags(b[32]), Counter: binary.BigEndian.Uint32(b[33:37])}
	copy(ad.RPIDHash[:], b[:32])
	if ad.Flags.Has(FlagBS) && !ad.Flags.Has(FlagBE) {
		// §6.3.3: a credential that is not backup eligible cannot be backed up.
		return nil, fail(kiosk.KindMalformed, "authenticator data has BS set without BE")
	}
	rest := b[authDataMin:]
	if ad.Flags.Has(FlagAT) {
		var err error
		ad.Attested, rest, err = parseAttested(rest)
		if err != nil {
			return nil, err
		}
	}
	if ad.Flags.Has(FlagED) {
		if len(rest) == 0 || rest[0]>>5 != 5 {
			return nil, fail(kiosk.KindMalformed, "ED flag set but no extension map follows")
		}
		var ext cbor.RawMessage
		after, err := cbor.UnmarshalFirst(rest, &ext)
		if err != nil {
			return nil, fail(kiosk.KindMalformed, "extensions: %v", err)
		}
		ad.Extensions = rest[:len(rest)-len(after)]
		rest = after
	}
	if len(rest) != 0 {
		return nil, fail(kiosk.KindMalformed, "%d trailing bytes after authenticator data", len(rest))
	}
	return ad, nil
}

func parseAttested(b []byte) (*AttestedCredential, []byte, error) {
	if len(b) < 16+2 {
		return nil, nil, fail(kiosk.KindMalformed, "AT flag set but attested credential data is %d bytes", len(b))
	}
	ac := &AttestedCredential{}
	copy(ac.AAGUID[:], b[:16])
	n := int(binary.BigEndian.Uint16(b[16:18]))
	b = b[18:]
	if n == 0 || n > MaxCredentialIDLen {
		return nil, nil, fail(kiosk.KindMalformed, "credential ID length %d outside 1..%d", n, MaxCredentialIDLen)
	}
	if len(b) < n {
		return nil, nil, fail(kiosk.KindMalformed, "credential ID length %d exceeds the %d bytes left", n, len(b))
	}
	ac.CredentialID = b[:n:n]
	b = b[n:]
	var raw cbor.RawMessage
	rest, err := cbor.UnmarshalFirst(b, &raw)
	if err != nil {
		return nil, nil, fail(kiosk.KindMalformed, "credential public key: %v", err)
	}
	ac.PublicKey = b[: len(b)-len(rest) : len(b)-len(rest)]
	if _, err := ParsePublicKey(ac.PublicKey); err != nil {
		return nil, nil, err
	}
	// WebAuthn §6.5.1: the credential public key is in CTAP2 canonical
	// form, and one that is not SHOULD be refused.
	if err := cbor.CanonicalKeys(ac.PublicKey); err != nil {
		return nil, nil, fail(kiosk.KindMalformed, "credential public key: %v", err)
	}
	return ac, rest, nil
}

// Marshal encodes authenticator data. Authenticators (the TPM platform key,
// the virtual security key) use it; ParseAuthData(a.Marshal()) gives a back.
// It sets FlagAT and FlagED to match what is present.
func (a *AuthData) Marshal() []byte {
	flags := a.Flags &^ (FlagAT | FlagED)
	if a.Attested != nil {
		flags |= FlagAT
	}
	if len(a.Extensions) > 0 {
		flags |= FlagED
	}
	out := make([]byte, 0, authDataMin+a.attestedLen()+len(a.Extensions))
	out = append(out, a.RPIDHash[:]...)
	out = append(out, byte(flags))
	out = binary.BigEndian.AppendUint32(out, a.Counter)
	if ac := a.Attested; ac != nil {
		out = append(out, ac.AAGUID[:]...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(ac.CredentialID)))
		out = append(out, ac.CredentialID...)
		out = append(out, ac.PublicKey...)
	}
	return append(out, a.Extensions...)
}

func (a *AuthData) attestedLen() int {
	if a.Attested == nil {
		return 0
	}
	return 16 + 2 + len(a.Attested.CredentialID) + len(a.Attested.PublicKey)
}
