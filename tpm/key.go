package tpm

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// keyTemplate is the template of every person's signing key: an ordinary
// TPM 2.0 ECC P-256 key (TPM 2.0 Part 2 §12.2.4, TPMT_PUBLIC) that any TPM
// tool can inspect.
//
//   - fixedTPM, fixedParent: it cannot be duplicated out of this TPM.
//   - sensitiveDataOrigin: the TPM generated the private key.
//   - userWithAuth: the person's PIN (its authValue) authorizes use.
//   - sign, not restricted: it signs digests computed outside the TPM,
//     here SHA-256(authenticatorData ‖ clientDataHash).
//   - noDA is clear: every wrong PIN counts against the TPM's
//     dictionary-attack protection (Part 1 §19.8.3). Never set it.
//   - scheme ECDSA with SHA-256 is bound into the key, so it cannot be made
//     to sign with any other scheme; curve NIST P-256, no KDF.
var keyTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		SignEncrypt:         true,
		NoDA:                false,
	},
	Parameters: p256ECDSA(),
	Unique:     tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// p256ECDSA is the parameters of a signing key
// on NIST P-256 whose only scheme is ECDSA with SHA-256, no KDF.
func p256ECDSA() tpm2.TPMUPublicParms {
	return tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{
			Scheme: tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA,
				&tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		CurveID: tpm2.TPMECCNistP256,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	})
}

// PIN length limits, as CTAP 2.1 §6.5.1 sets them for security keys, so a
// person's PIN works the same way on the TPM and on a key: at least four
// characters (the UI counts code points), at most 63 bytes of UTF-8.
const (
	MinPINBytes = 4
	MaxPINBytes = 63
)

// KeyBlobs is what the store keeps for one TPM credential. The TPM holds
// nothing per person: the private blob is encrypted and integrity-protected
// under this TPM's storage root key, so it is useless anywhere else.
type KeyBlobs struct {
	// Public is the key's TPM2B_PUBLIC.
	Public []byte `cbor:"1,keyasint,omitempty"`
	// Private is the key's TPM2B_PRIVATE, sealed to the SRK.
	Private []byte `cbor:"2,keyasint"`
	// AuthSalt is the per-key salt of the PIN-to-authValue derivation.
	AuthSalt []byte `cbor:"3,keyasint"`
	// ParentName is the Name of the SRK the key was created under; when it
	// no longer matches, the TPM was cleared and the key is gone.
	ParentName []byte `cbor:"4,keyasint"`
}

// Marshal encodes the blobs as one canonical CBOR map for the store.
func (b *KeyBlobs) Marshal() ([]byte, error) {
	out, err := cbor.Marshal(b)
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "tpm key blobs", err)
	}
	return out, nil
}

// StoredForm splits the blobs the way kiosk.Credential keeps them:
// TPMPublic is the TPM2B_PUBLIC as it is, an ordinary TPM structure any
// tool reads; TPMPrivate is a CBOR map of the rest (keys 2, 3, 4 as in
// KeyBlobs): the TPM2B_PRIVATE, the PIN salt and the SRK's Name.
func (b *KeyBlobs) StoredForm() (tpmPublic, tpmPrivate []byte, err error) {
	rest := *b
	rest.Public = nil
	priv, err := cbor.Marshal(&rest)
	if err != nil {
		return nil, nil, kiosk.E(kiosk.KindMalformed, "tpm key blobs", err)
	}
	return append([]byte(nil), b.Public...), priv, nil
}

// FromStoredForm is the inverse of StoredForm.
func FromStoredForm(tpmPublic, tpmPrivate []byte) (*KeyBlobs, error) {
	var b KeyBlobs
	if err := cbor.Unmarshal(tpmPrivate, &b); err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "tpm key blobs", err)
	}
	if len(b.Public) != 0 {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "tpm key blobs", "public area inside the private record")
	}
	b.Public = append([]byte(nil), tpmPublic...)
	if err := b.check(); err != nil {
		return nil, err
	}
	return &b, nil
}

// ParseKeyBlobs decodes what Marshal produced.
func ParseKeyBlobs(data []byte) (*KeyBlobs, error) {
	var b KeyBlobs
	if err := cbor.Unmarshal(data, &b); err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "tpm key blobs", err)
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	return &b, nil
}

func (b *KeyBlobs) check() error {
	if b == nil || len(b.Public) == 0 || len(b.Private) == 0 || len(b.AuthSalt) != saltSize || len(b.ParentName) == 0 {
		return kiosk.Errorf(kiosk.KindMalformed, "tpm key blobs", "incomplete key blobs")
	}
	return nil
}

// Wipe overwrites the blobs in memory. Deleting a TPM credential is
// deleting its blobs from the store: no TPM state belongs to one person.
func (b *KeyBlobs) Wipe() {
	for _, s := range [][]byte{b.Public, b.Private, b.AuthSalt, b.ParentName} {
		clear(s)
	}
	*b = KeyBlobs{}
}

const saltSize = 16

// authValue derives the key's authValue from the PIN: the first 24 bytes
// of HMAC-SHA-256(salt, PIN), written in unpadded base64url, 32 ASCII
// bytes. The TPM compares it, so guessing stays under dictionary-attack
// protection. A fixed 32 bytes is the most a SHA-256 object's authValue may
// hold (Part 1 §19.6.4); with a per-key salt two people with the same PIN
// still get different authValues.
//
// The value must contain no zero byte. The TPM drops trailing zeros from
// an authValue (Part 1 §19.6.5, note 2), but go-tpm v0.9.8's session HMAC
// (hmacKeyFromAuthValue) cuts the value at its first zero byte wherever it
// is, so a raw digest, which holds a zero byte about one time in eight,
// would make the right PIN fail as a wrong one. Base64 text has no zeros.
//
// The PIN stays in the caller's byte slice: it is never turned into a Go
// string, which could not be wiped, and the HMAC's own copy of the key
// material is the salt, not the PIN. The caller wipes the PIN and the
// returned value after the command.
func authValue(salt, pin []byte) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write(pin)
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	// The inner hash keeps the PIN in its buffer of a partial block; a
	// block of zeros written after Sum fills and then overwrites it.
	var zeros [sha256.BlockSize]byte
	m.Write(zeros[:])
	out := make([]byte, base64.RawURLEncoding.EncodedLen(24))
	base64.RawURLEncoding.Encode(out, sum[:24])
	clear(sum[:])
	return out
}

func checkPIN(op string, pin []byte) error {
	if len(pin) < MinPINBytes || len(pin) > MaxPINBytes {
		return kiosk.Errorf(kiosk.KindPINPolicy, op, "PIN must be %d to %d bytes", MinPINBytes, MaxPINBytes)
	}
	if !utf8.Valid(pin) {
		return kiosk.Errorf(kiosk.KindPINPolicy, op, "PIN is not UTF-8 text")
	}
	return nil
}

// publicKey extracts the ECDSA public key from a key's public area and
// checks that it is the shape passkiosk creates.
func publicKey(pub *tpm2.TPMTPublic) (*ecdsa.PublicKey, error) {
	if pub.Type != tpm2.TPMAlgECC || pub.ObjectAttributes.NoDA || !pub.ObjectAttributes.UserWithAuth {
		return nil, fmt.Errorf("not a passkiosk signing key")
	}
	k, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("not an ECDSA key")
	}
	return ec, nil
}
