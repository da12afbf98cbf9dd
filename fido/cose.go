package fido

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// Alg is a COSE algorithm identifier (IANA COSE Algorithms registry).
type Alg int64

const (
	AlgES256 Alg = -7   // ECDSA P-256 with SHA-256, DER signatures (WebAuthn §6.5.5)
	AlgEdDSA Alg = -8   // Ed25519
	AlgRS256 Alg = -257 // RSASSA-PKCS1-v1_5 with SHA-256
)

// DefaultAlgs is the algorithm allow-list when policy names none.
var DefaultAlgs = []Alg{AlgES256, AlgEdDSA, AlgRS256}

func (a Alg) String() string {
	switch a {
	case AlgES256:
		return "ES256"
	case AlgEdDSA:
		return "EdDSA"
	case AlgRS256:
		return "RS256"
	}
	return "COSE(" + itoa(int64(a)) + ")"
}

// PublicKey is a credential public key with typed verification. The
// concrete types are *EC2Key, *OKPKey and *RSAKey.
type PublicKey interface {
	Alg() Alg
	// Verify checks sig over msg, as WebAuthn §6.5.5 defines signatures for
	// the key's algorithm. A mismatch is a kiosk.KindBadSignature error.
	Verify(msg, sig []byte) error
	// Bytes is the key as a canonical COSE_Key.
	Bytes() []byte
	CryptoPublicKey() crypto.PublicKey
}

// COSE key labels and values (RFC 9052 §7, RFC 9053 §7).
const (
	ktyOKP = 1
	ktyEC2 = 2
	ktyRSA = 3

	crvP256    = 1
	crvEd25519 = 6

	minRSABits = 2048
)

// coseKey is the wire form. Label -1 is crv for EC2/OKP but n for RSA, so it
// stays raw until kty is known.
type coseKey struct {
	Kty int64           `cbor:"1,keyasint"`
	Alg int64           `cbor:"3,keyasint"`
	P1  cbor.RawMessage `cbor:"-1,keyasint,omitempty"`
	P2  []byte          `cbor:"-2,keyasint,omitempty"`
	P3  []byte          `cbor:"-3,keyasint,omitempty"`
}

// ParsePublicKey parses a COSE_Key holding an ES256, EdDSA or RS256 key and
// checks it: curve points on the curve, sizes right, RSA at least 2048 bits.
func ParsePublicKey(b []byte) (PublicKey, error) {
	var k coseKey
	if err := cbor.Unmarshal(b, &k); err != nil {
		return nil, fail(kiosk.KindMalformed, "COSE key: %v", err)
	}
	var (
		pk  PublicKey
		err error
	)
	// Each branch assigns through a typed result so that a failed parse
	// leaves pk a nil interface, not an interface holding a nil pointer.
	switch {
	case k.Kty == ktyEC2 && Alg(k.Alg) == AlgES256:
		pk, err = asKey(parseEC2(k))
	case k.Kty == ktyOKP && Alg(k.Alg) == AlgEdDSA:
		pk, err = asKey(parseOKP(k))
	case k.Kty == ktyRSA && Alg(k.Alg) == AlgRS256:
		pk, err = asKey(parseRSA(k))
	default:
		err = fail(kiosk.KindAlgorithm, "COSE key type %d with algorithm %s is not supported", k.Kty, Alg(k.Alg))
	}
	return pk, err
}

func asKey[K PublicKey](k K, err error) (PublicKey, error) {
	if err != nil {
		return nil, err
	}
	return k, nil
}

// checkCurve requires an EC2 or OKP key of alg to be on the curve want,
// named wantName in the error.
func checkCurve(k coseKey, alg Alg, want int64, wantName string) error {
	var c int64
	if err := cbor.Unmarshal(k.P1, &c); err != nil {
		return fail(kiosk.KindMalformed, "COSE key curve: %v", err)
	}
	if c != want {
		return fail(kiosk.KindAlgorithm, "%s key on curve %d, want %s", alg, c, wantName)
	}
	return nil
}

// NewPublicKey wraps a Go public key: P-256 ECDSA as ES256, Ed25519 as
// EdDSA, RSA as RS256.
func NewPublicKey(pub crypto.PublicKey) (PublicKey, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fail(kiosk.KindAlgorithm, "ECDSA curve %s is not supported", p.Curve.Params().Name)
		}
		return &EC2Key{pub: p}, nil
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return nil, fail(kiosk.KindMalformed, "Ed25519 key is %d bytes", len(p))
		}
		return &OKPKey{pub: p}, nil
	case *rsa.PublicKey:
		if p.N.BitLen() < minRSABits {
			return nil, fail(kiosk.KindAlgorithm, "RSA key of %d bits is too small", p.N.BitLen())
		}
		return &RSAKey{pub: p}, nil
	}
	return nil, fail(kiosk.KindAlgorithm, "public key type %T is not supported", pub)
}

// EC2Key is an ES256 (ECDSA P-256, SHA-256) key.
type EC2Key struct{ pub *ecdsa.PublicKey }

func parseEC2(k coseKey) (*EC2Key, error) {
	if err := checkCurve(k, AlgES256, crvP256, "P-256"); err != nil {
		return nil, err
	}
	if len(k.P2) != 32 || len(k.P3) != 32 {
		return nil, fail(kiosk.KindMalformed, "P-256 coordinates are %d and %d bytes, want 32", len(k.P2), len(k.P3))
	}
	pt := append(append([]byte{4}, k.P2...), k.P3...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, fail(kiosk.KindMalformed, "P-256 point: %v", err)
	}
	return &EC2Key{pub: pub}, nil
}

func (k *EC2Key) Alg() Alg                          { return AlgES256 }
func (k *EC2Key) CryptoPublicKey() crypto.PublicKey { return k.pub }

func (k *EC2Key) Verify(msg, sig []byte) error {
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(k.pub, h[:], sig) {
		return fail(kiosk.KindBadSignature, "ES256 signature does not verify")
	}
	return nil
}

func (k *EC2Key) Bytes() []byte {
	pt, err := k.pub.Bytes()
	if err != nil { // only for keys not on a NIST curve, which NewPublicKey refuses
		panic("fido: EC2Key holds an invalid point")
	}
	c, _ := cbor.Marshal(crvP256)
	return mustMarshal(coseKey{Kty: ktyEC2, Alg: int64(AlgES256), P1: c, P2: pt[1:33], P3: pt[33:]})
}

// OKPKey is an EdDSA (Ed25519) key.
type OKPKey struct{ pub ed25519.PublicKey }

func parseOKP(k coseKey) (*OKPKey, error) {
	if err := checkCurve(k, AlgEdDSA, crvEd25519, "Ed25519"); err != nil {
		return nil, err
	}
	if len(k.P2) != ed25519.PublicKeySize || len(k.P3) != 0 {
		return nil, fail(kiosk.KindMalformed, "Ed25519 key is %d bytes", len(k.P2))
	}
	return &OKPKey{pub: ed25519.PublicKey(bytes.Clone(k.P2))}, nil
}

func (k *OKPKey) Alg() Alg                          { return AlgEdDSA }
func (k *OKPKey) CryptoPublicKey() crypto.PublicKey { return k.pub }

func (k *OKPKey) Verify(msg, sig []byte) error {
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(k.pub, msg, sig) {
		return fail(kiosk.KindBadSignature, "EdDSA signature does not verify")
	}
	return nil
}

func (k *OKPKey) Bytes() []byte {
	c, _ := cbor.Marshal(crvEd25519)
	return mustMarshal(coseKey{Kty: ktyOKP, Alg: int64(AlgEdDSA), P1: c, P2: k.pub})
}

// RSAKey is an RS256 (RSASSA-PKCS1-v1_5, SHA-256) key.
type RSAKey struct{ pub *rsa.PublicKey }

func parseRSA(k coseKey) (*RSAKey, error) {
	var n []byte
	if err := cbor.Unmarshal(k.P1, &n); err != nil {
		return nil, fail(kiosk.KindMalformed, "RSA modulus: %v", err)
	}
	if len(k.P2) == 0 || len(k.P2) > 4 || len(k.P3) != 0 {
		return nil, fail(kiosk.KindMalformed, "RSA exponent is %d bytes", len(k.P2))
	}
	e := new(big.Int).SetBytes(k.P2)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64()%2 == 0 {
		return nil, fail(kiosk.KindMalformed, "RSA exponent %v is not usable", e)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(e.Int64())}
	if pub.N.BitLen() < minRSABits || pub.N.BitLen() > 8192 {
		return nil, fail(kiosk.KindAlgorithm, "RSA modulus of %d bits is outside 2048..8192", pub.N.BitLen())
	}
	return &RSAKey{pub: pub}, nil
}

func (k *RSAKey) Alg() Alg                          { return AlgRS256 }
func (k *RSAKey) CryptoPublicKey() crypto.PublicKey { return k.pub }

func (k *RSAKey) Verify(msg, sig []byte) error {
	h := sha256.Sum256(msg)
	if rsa.VerifyPKCS1v15(k.pub, crypto.SHA256, h[:], sig) != nil {
		return fail(kiosk.KindBadSignature, "RS256 signature does not verify")
	}
	return nil
}

func (k *RSAKey) Bytes() []byte {
	n, _ := cbor.Marshal(k.pub.N.Bytes())
	return mustMarshal(coseKey{Kty: ktyRSA, Alg: int64(AlgRS256), P1: n, P2: big.NewInt(int64(k.pub.E)).Bytes()})
}

// mustMarshal encodes values whose shape is fixed by this file; failure is
// a programming error.
func mustMarshal(v any) []byte {
	b, err := cbor.Marshal(v)
	if err != nil {
		panic("fido: encoding a COSE key: " + err.Error())
	}
	return b
}

func itoa(v int64) string { return big.NewInt(v).String() }
