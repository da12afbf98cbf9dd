// Package pinproto implements the two PIN/UV auth protocols of CTAP 2.1
// §6.5.6 (protocol 1) and §6.5.7 (protocol 2): the ECDH key agreement both
// sides run, the key derivation, and the encrypt/decrypt/authenticate
// primitives. The virtual key uses it for the authenticator side and the
// test host uses it for the platform side, so both ends of every test run
// the same arithmetic the specification describes and real hosts run.
package pinproto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"passkiosk/fido/cbor"
)

// COSE values of the key agreement key (CTAP 2.1 §6.5.6: "alg" is
// ECDH-ES+HKDF-256 even though that is not the algorithm actually run).
const (
	coseKtyEC2      = 2
	coseCrvP256     = 1
	coseAlgECDHES   = -25
	coordinateBytes = 32
)

// ErrInvalid is returned for malformed peer keys, wrong lengths and bad
// padding; callers map it to CTAP2_ERR_INVALID_PARAMETER.
var ErrInvalid = errors.New("pinproto: invalid input")

// Protocol is one PIN/UV auth protocol.
type Protocol interface {
	// Version is 1 or 2, the value carried in pinUvAuthProtocol.
	Version() int
	// KDF turns the ECDH x coordinate into the shared secret.
	KDF(z []byte) []byte
	// Encrypt encrypts plaintext (a multiple of 16 bytes) under the shared
	// secret.
	Encrypt(secret, plaintext []byte) ([]byte, error)
	// Decrypt reverses Encrypt.
	Decrypt(secret, ciphertext []byte) ([]byte, error)
	// Authenticate returns the MAC of msg under key (a shared secret or a
	// pinUvAuthToken).
	Authenticate(key, msg []byte) []byte
	// Verify checks a MAC produced by Authenticate in constant time.
	Verify(key, msg, mac []byte) bool
}

// ByVersion returns the protocol with the given number, or nil.
func ByVersion(v int) Protocol {
	switch v {
	case 1:
		return One{}
	case 2:
		return Two{}
	}
	return nil
}

// One is PIN/UV auth protocol 1 (CTAP 2.1 §6.5.6).
type One struct{}

func (One) Version() int { return 1 }

// KDF is SHA-256(Z).
func (One) KDF(z []byte) []byte {
	h := sha256.Sum256(z)
	return h[:]
}

// Encrypt is AES-256-CBC with an all-zero IV and no padding.
func (One) Encrypt(secret, pt []byte) ([]byte, error) {
	return cbcEncrypt(secret[:32], make([]byte, aes.BlockSize), pt)
}

func (One) Decrypt(secret, ct []byte) ([]byte, error) {
	return cbcDecrypt(secret[:32], make([]byte, aes.BlockSize), ct)
}

// Authenticate is the first 16 bytes of HMAC-SHA-256.
func (One) Authenticate(key, msg []byte) []byte {
	return mac(key, msg)[:16]
}

func (p One) Verify(key, msg, tag []byte) bool {
	return len(tag) == 16 && hmac.Equal(p.Authenticate(key, msg), tag)
}

// Two is PIN/UV auth protocol 2 (CTAP 2.1 §6.5.7).
type Two struct{}

func (Two) Version() int { return 2 }

// KDF is HKDF-SHA-256 with a zero salt, run twice: the first 32 bytes are
// the HMAC key, the last 32 the AES key.
func (Two) KDF(z []byte) []byte {
	salt := make([]byte, 32)
	hk, err1 := hkdf.Key(sha256.New, z, salt, "CTAP2 HMAC key", 32)
	ak, err2 := hkdf.Key(sha256.New, z, salt, "CTAP2 AES key", 32)
	if err1 != nil || err2 != nil {
		// HKDF only fails for output lengths beyond 255 hash blocks.
		panic("pinproto: hkdf")
	}
	return append(hk, ak...)
}

// aesKey returns the AES half of a protocol 2 shared secret. A
// pinUvAuthToken is never used for encryption.
func (Two) aesKey(secret []byte) ([]byte, error) {
	if len(secret) != 64 {
		return nil, fmt.Errorf("%w: protocol 2 secret is %d bytes", ErrInvalid, len(secret))
	}
	return secret[32:], nil
}

// Encrypt is AES-256-CBC with a random IV sent in front of the ciphertext.
func (p Two) Encrypt(secret, pt []byte) ([]byte, error) {
	key, err := p.aesKey(secret)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	ct, err := cbcEncrypt(key, iv, pt)
	if err != nil {
		return nil, err
	}
	return append(iv, ct...), nil
}

func (p Two) Decrypt(secret, ct []byte) ([]byte, error) {
	key, err := p.aesKey(secret)
	if err != nil {
		return nil, err
	}
	if len(ct) < aes.BlockSize {
		return nil, fmt.Errorf("%w: ciphertext shorter than its IV", ErrInvalid)
	}
	return cbcDecrypt(key, ct[:aes.BlockSize], ct[aes.BlockSize:])
}

// Authenticate is the full HMAC-SHA-256. With a 64-byte shared secret the
// HMAC half is the key; a 32-byte pinUvAuthToken is used whole.
func (Two) Authenticate(key, msg []byte) []byte {
	if len(key) == 64 {
		key = key[:32]
	}
	return mac(key, msg)
}

func (p Two) Verify(key, msg, tag []byte) bool {
	return len(tag) == 32 && hmac.Equal(p.Authenticate(key, msg), tag)
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func cbcEncrypt(key, iv, pt []byte) ([]byte, error) {
	return cbc(cipher.NewCBCEncrypter, key, iv, pt, "plaintext")
}

func cbcDecrypt(key, iv, ct []byte) ([]byte, error) {
	return cbc(cipher.NewCBCDecrypter, key, iv, ct, "ciphertext")
}

// cbc runs AES-CBC in the given direction over whole blocks, without
// padding; what names the input in an error.
func cbc(mode func(cipher.Block, []byte) cipher.BlockMode, key, iv, in []byte, what string) ([]byte, error) {
	if len(in) == 0 || len(in)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: %s of %d bytes is not whole blocks", ErrInvalid, what, len(in))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(in))
	mode(b, iv).CryptBlocks(out, in)
	return out, nil
}

// coseKey is the COSE_Key form of a P-256 key agreement key.
type coseKey struct {
	Kty int64  `cbor:"1,keyasint"`
	Alg int64  `cbor:"3,keyasint"`
	Crv int64  `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint"`
}

// EncodeKey returns the COSE_Key map of a P-256 public key as a value ready
// to be embedded in a CBOR request or response.
func EncodeKey(pub *ecdh.PublicKey) cbor.RawMessage {
	raw := pub.Bytes() // 0x04 ‖ X ‖ Y
	b, err := cbor.Marshal(coseKey{
		Kty: coseKtyEC2, Alg: coseAlgECDHES, Crv: coseCrvP256,
		X: raw[1 : 1+coordinateBytes], Y: raw[1+coordinateBytes:],
	})
	if err != nil {
		panic("pinproto: encoding a fixed COSE key: " + err.Error())
	}
	return b
}

// DecodeKey parses a peer's COSE_Key and checks that the point is on P-256.
func DecodeKey(raw []byte) (*ecdh.PublicKey, error) {
	var k coseKey
	if err := cbor.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("%w: key agreement key: %v", ErrInvalid, err)
	}
	if k.Kty != coseKtyEC2 || k.Crv != coseCrvP256 ||
		len(k.X) != coordinateBytes || len(k.Y) != coordinateBytes {
		return nil, fmt.Errorf("%w: key agreement key is not a P-256 EC2 key", ErrInvalid)
	}
	pt := append([]byte{4}, k.X...)
	pt = append(pt, k.Y...)
	pub, err := ecdh.P256().NewPublicKey(pt)
	if err != nil {
		return nil, fmt.Errorf("%w: key agreement point: %v", ErrInvalid, err)
	}
	return pub, nil
}

// SharedSecret runs ECDH between priv and the peer's COSE key and applies
// the protocol's KDF (CTAP 2.1 §6.5.6 ecdh()).
func SharedSecret(p Protocol, priv *ecdh.PrivateKey, peerCOSE []byte) ([]byte, error) {
	peer, err := DecodeKey(peerCOSE)
	if err != nil {
		return nil, err
	}
	z, err := priv.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("%w: ecdh: %v", ErrInvalid, err)
	}
	return p.KDF(z), nil
}

// PINHash is LEFT(SHA-256(pin), 16), the form in which the PIN is sent and
// stored (CTAP 2.1 §6.5.5.5).
func PINHash(pin []byte) []byte {
	h := sha256.Sum256(pin)
	return h[:16]
}

// PadPIN pads a PIN with zeros to the 64 bytes setPIN and changePIN carry.
func PadPIN(pin []byte) ([]byte, error) {
	if len(pin) > 63 {
		return nil, fmt.Errorf("%w: PIN longer than 63 bytes", ErrInvalid)
	}
	out := make([]byte, 64)
	copy(out, pin)
	return out, nil
}
