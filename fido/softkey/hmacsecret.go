package softkey

import (
	"crypto/hmac"
	"crypto/sha256"

	"passkiosk/fido/cbor"
	"passkiosk/fido/softkey/internal/pinproto"
)

// The hmac-secret extension (CTAP 2.1 §12.5): each credential made with it
// holds two random secrets, one used when the person was verified and one
// when not, and an assertion returns HMAC-SHA-256 of the host's salts under
// the right one, encrypted to the host with the PIN protocol's shared
// secret.
const extHMACSecret = "hmac-secret"

// credRandomLen is CredRandomWithUV ‖ CredRandomWithoutUV.
const credRandomLen = 64

type hmacSecretInput struct {
	KeyAgreement cbor.RawMessage `cbor:"1,keyasint"`
	SaltEnc      []byte          `cbor:"2,keyasint"`
	SaltAuth     []byte          `cbor:"3,keyasint"`
	Protocol     int             `cbor:"4,keyasint"`
}

// hmacRequest is a checked hmac-secret input: the salts in the clear and
// what is needed to encrypt the answer.
type hmacRequest struct {
	p      pinproto.Protocol
	secret []byte
	salts  []byte
}

// hmacSecretRequested reads the makeCredential input: true asks for the
// credential secrets.
func hmacSecretRequested(ext map[string]cbor.RawMessage) (bool, error) {
	var want bool
	if _, err := extensionInput(ext, extHMACSecret, &want); err != nil {
		return false, err
	}
	return want, nil
}

// hmacSecretInputLocked checks the getAssertion input (§12.5 steps 1–5): a
// known protocol (1 when absent), a MAC over saltEnc under the shared
// secret, and one or two 32-byte salts.
func (k *Key) hmacSecretInputLocked(ext map[string]cbor.RawMessage) (*hmacRequest, error) {
	var in hmacSecretInput
	if ok, err := extensionInput(ext, extHMACSecret, &in); !ok || err != nil {
		return nil, err
	}
	if in.KeyAgreement == nil || in.SaltEnc == nil || in.SaltAuth == nil {
		return nil, StatusMissingParameter
	}
	if in.Protocol == 0 {
		in.Protocol = 1
	}
	p := k.protocol(in.Protocol)
	if p == nil {
		return nil, StatusInvalidParameter
	}
	secret, err := k.sharedSecretLocked(p, in.KeyAgreement)
	if err != nil {
		return nil, err
	}
	if !p.Verify(secret, in.SaltEnc, in.SaltAuth) {
		return nil, StatusPINAuthInvalid
	}
	salts, err := p.Decrypt(secret, in.SaltEnc)
	if err != nil || (len(salts) != 32 && len(salts) != 64) {
		return nil, StatusInvalidLength
	}
	return &hmacRequest{p: p, secret: secret, salts: salts}, nil
}

// output computes the encrypted extension output for one credential, or
// nil when the credential was made without hmac-secret.
func (h *hmacRequest) output(c *storedCred, uv bool) ([]byte, error) {
	if h == nil || len(c.CredRandom) != credRandomLen {
		return nil, nil
	}
	key := c.CredRandom[32:]
	if uv {
		key = c.CredRandom[:32]
	}
	var out []byte
	for salt := h.salts; len(salt) > 0; salt = salt[32:] {
		m := hmac.New(sha256.New, key)
		m.Write(salt[:32])
		out = m.Sum(out)
	}
	enc, err := h.p.Encrypt(h.secret, out)
	if err != nil {
		return nil, err
	}
	return cbor.Marshal(map[string][]byte{extHMACSecret: enc})
}
