package softkey

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"time"
	"unicode/utf8"

	"passkiosk/fido/cbor"
	"passkiosk/fido/softkey/internal/pinproto"
)

// authenticatorClientPIN subcommands (CTAP 2.1 §6.5.5).
const (
	pinGetRetries         = 0x01
	pinGetKeyAgreement    = 0x02
	pinSetPIN             = 0x03
	pinChangePIN          = 0x04
	pinGetToken           = 0x05
	pinGetTokenUsingUV    = 0x06
	pinGetUVRetries       = 0x07
	pinGetTokenUsingPerms = 0x09
)

type clientPINRequest struct {
	Protocol       int             `cbor:"1,keyasint"`
	Sub            int             `cbor:"2,keyasint"`
	KeyAgreement   cbor.RawMessage `cbor:"3,keyasint"`
	PinUvAuthParam []byte          `cbor:"4,keyasint"`
	NewPinEnc      []byte          `cbor:"5,keyasint"`
	PinHashEnc     []byte          `cbor:"6,keyasint"`
	Permissions    int             `cbor:"9,keyasint"`
	RPID           *string         `cbor:"10,keyasint"`
}

// clientPINLocked answers authenticatorClientPIN (CTAP 2.1 §6.5.5).
func (k *Key) clientPINLocked(t *txn, body []byte) (any, error) {
	var r clientPINRequest
	if err := decodeRequest(body, &r); err != nil {
		return nil, err
	}
	switch r.Sub {
	case pinGetRetries:
		return map[int]any{0x03: k.st.PINRetries, 0x04: false}, nil
	case pinGetUVRetries:
		if !k.cfg.Fingerprint {
			return nil, StatusInvalidSubcommand
		}
		return map[int]any{0x05: k.st.UVRetries}, nil
	case pinGetKeyAgreement, pinSetPIN, pinChangePIN, pinGetToken, pinGetTokenUsingUV, pinGetTokenUsingPerms:
	default:
		return nil, StatusInvalidSubcommand
	}
	if r.Protocol == 0 {
		return nil, StatusMissingParameter
	}
	p := k.protocol(r.Protocol)
	if p == nil {
		return nil, StatusInvalidParameter
	}
	if r.Sub == pinGetKeyAgreement {
		return map[int]any{0x01: pinproto.EncodeKey(k.pc.keyAgreement.PublicKey())}, nil
	}
	if r.KeyAgreement == nil {
		return nil, StatusMissingParameter
	}
	switch r.Sub {
	case pinSetPIN:
		return nil, k.setPINLocked(p, &r)
	case pinChangePIN:
		return nil, k.changePINLocked(p, &r)
	case pinGetToken:
		if r.Permissions != 0 || r.RPID != nil {
			return nil, StatusInvalidParameter
		}
		// The legacy token may make credentials and get assertions for
		// any one RP (CTAP 2.1 §6.5.5.7.1).
		return k.tokenUsingPINLocked(p, &r, PermMakeCredential|PermGetAssertion, "")
	case pinGetTokenUsingPerms:
		if err := checkPermissions(&r); err != nil {
			return nil, err
		}
		return k.tokenUsingPINLocked(p, &r, r.Permissions, deref(r.RPID))
	default: // pinGetTokenUsingUV
		if err := checkPermissions(&r); err != nil {
			return nil, err
		}
		return k.tokenUsingUVLocked(t, p, &r)
	}
}

// checkPermissions applies CTAP 2.1 §6.5.5.7.2 steps 2–4: permissions are
// required, must be ones this key supports, and mc/ga need an RP ID.
func checkPermissions(r *clientPINRequest) error {
	switch {
	case r.Permissions == 0:
		return StatusMissingParameter
	case r.Permissions&^permAllKnown != 0:
		return StatusInvalidParameter
	case r.Permissions&^(PermMakeCredential|PermGetAssertion) != 0:
		// credential management, bio enrollment, large blobs and
		// authenticatorConfig are not offered by this key.
		return StatusUnauthorizedPermission
	case r.RPID == nil:
		return StatusMissingParameter
	}
	return nil
}

// protocol returns the PIN/UV auth protocol with the given number if the
// key offers it, or nil.
func (k *Key) protocol(v int) pinproto.Protocol {
	for _, o := range k.cfg.PINProtocols {
		if o == v {
			return pinproto.ByVersion(v)
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (k *Key) sharedSecretLocked(p pinproto.Protocol, peer []byte) ([]byte, error) {
	s, err := pinproto.SharedSecret(p, k.pc.keyAgreement, peer)
	if err != nil {
		return nil, StatusInvalidParameter
	}
	return s, nil
}

// setPINLocked sets the first PIN (CTAP 2.1 §6.5.5.5).
func (k *Key) setPINLocked(p pinproto.Protocol, r *clientPINRequest) error {
	if r.PinUvAuthParam == nil || r.NewPinEnc == nil {
		return StatusMissingParameter
	}
	if len(k.st.PINHash) > 0 {
		return StatusNotAllowed
	}
	secret, err := k.sharedSecretLocked(p, r.KeyAgreement)
	if err != nil {
		return err
	}
	if !p.Verify(secret, r.NewPinEnc, r.PinUvAuthParam) {
		return StatusPINAuthInvalid
	}
	pin, err := decryptNewPIN(p, secret, r.NewPinEnc)
	if err != nil {
		return err
	}
	k.st.PINHash = pinproto.PINHash(pin)
	k.st.PINRetries = maxPINRetries
	return k.saveLocked()
}

// changePINLocked replaces the PIN after checking the current one (CTAP 2.1
// §6.5.5.6). A wrong current PIN costs a retry like any PIN attempt.
func (k *Key) changePINLocked(p pinproto.Protocol, r *clientPINRequest) error {
	if r.PinUvAuthParam == nil || r.NewPinEnc == nil || r.PinHashEnc == nil {
		return StatusMissingParameter
	}
	if err := k.pinUsableLocked(); err != nil {
		return err
	}
	secret, err := k.sharedSecretLocked(p, r.KeyAgreement)
	if err != nil {
		return err
	}
	msg := append(append([]byte(nil), r.NewPinEnc...), r.PinHashEnc...)
	if !p.Verify(secret, msg, r.PinUvAuthParam) {
		return StatusPINAuthInvalid
	}
	if err := k.verifyPINHashLocked(p, secret, r.PinHashEnc); err != nil {
		return err
	}
	pin, err := decryptNewPIN(p, secret, r.NewPinEnc)
	if err != nil {
		return err
	}
	k.st.PINHash = pinproto.PINHash(pin)
	k.pc.token = pinToken{value: randomBytes(32)}
	return k.saveLocked()
}

// decryptNewPIN recovers a PIN from newPinEnc: 64 bytes of PIN padded with
// zeros (CTAP 2.1 §6.5.5.5 step 6).
func decryptNewPIN(p pinproto.Protocol, secret, enc []byte) ([]byte, error) {
	padded, err := p.Decrypt(secret, enc)
	if err != nil || len(padded) != 64 {
		return nil, StatusInvalidParameter
	}
	pin := padded
	if i := bytes.IndexByte(padded, 0); i >= 0 {
		pin = padded[:i]
	}
	if err := checkPINPolicy(pin); err != nil {
		return nil, StatusPINPolicyViolation
	}
	return pin, nil
}

var errPINPolicy = errors.New("a PIN has 4 to 63 bytes of UTF-8 and at least 4 characters")

// checkPINPolicy applies minPINLength, counted in Unicode code points as
// CTAP 2.1 §6.5.1 says, and the 63-byte maximum.
func checkPINPolicy(pin []byte) error {
	if len(pin) > 63 || !utf8.Valid(pin) || utf8.RuneCount(pin) < minPINLength {
		return errPINPolicy
	}
	return nil
}

// pinUsableLocked reports why no PIN attempt may be made now, if so.
func (k *Key) pinUsableLocked() error {
	switch {
	case len(k.st.PINHash) == 0:
		return StatusPINNotSet
	case k.st.PINRetries == 0:
		return StatusPINBlocked
	case k.pc.consecutiveFails >= maxConsecutivePINFail:
		return StatusPINAuthBlocked
	}
	return nil
}

// verifyPINHashLocked checks pinHashEnc against the stored PIN with the
// retry rules of CTAP 2.1 §6.5.5.7.1: the retry is spent (and persisted)
// before the comparison, a mismatch forgets the key agreement key, three
// mismatches in one power cycle block PIN use until the key is re-plugged,
// and a match restores all retries, fingerprint ones included.
func (k *Key) verifyPINHashLocked(p pinproto.Protocol, secret, pinHashEnc []byte) error {
	hash, err := p.Decrypt(secret, pinHashEnc)
	if err != nil || len(hash) != 16 {
		return StatusInvalidParameter
	}
	k.st.PINRetries--
	if err := k.saveLocked(); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(hash, k.st.PINHash) != 1 {
		k.regenerateKeyAgreementLocked()
		k.pc.consecutiveFails++
		switch {
		case k.st.PINRetries == 0:
			return StatusPINBlocked
		case k.pc.consecutiveFails >= maxConsecutivePINFail:
			return StatusPINAuthBlocked
		}
		return StatusPINInvalid
	}
	k.st.PINRetries = maxPINRetries
	k.st.UVRetries = maxUVRetries
	k.pc.consecutiveFails = 0
	return k.saveLocked()
}

func (k *Key) tokenUsingPINLocked(p pinproto.Protocol, r *clientPINRequest, perms int, rpID string) (any, error) {
	if r.PinHashEnc == nil {
		return nil, StatusMissingParameter
	}
	if err := k.pinUsableLocked(); err != nil {
		return nil, err
	}
	secret, err := k.sharedSecretLocked(p, r.KeyAgreement)
	if err != nil {
		return nil, err
	}
	if err := k.verifyPINHashLocked(p, secret, r.PinHashEnc); err != nil {
		return nil, err
	}
	return k.issueTokenLocked(p, secret, perms, rpID, false)
}

// tokenUsingUVLocked is getPinUvAuthTokenUsingUvWithPermissions (CTAP 2.1
// §6.5.5.7.3): the finger replaces the PIN, and as the finger was on the
// key the token also carries user presence.
func (k *Key) tokenUsingUVLocked(t *txn, p pinproto.Protocol, r *clientPINRequest) (any, error) {
	if !k.cfg.Fingerprint {
		return nil, StatusNotAllowed
	}
	secret, err := k.sharedSecretLocked(p, r.KeyAgreement)
	if err != nil {
		return nil, err
	}
	if err := k.builtInUVLocked(t); err != nil {
		return nil, err
	}
	return k.issueTokenLocked(p, secret, r.Permissions, deref(r.RPID), true)
}

// issueTokenLocked mints a new pinUvAuthToken, which invalidates the
// previous one, and returns it encrypted to the platform.
func (k *Key) issueTokenLocked(p pinproto.Protocol, secret []byte, perms int, rpID string, present bool) (any, error) {
	k.pc.token = pinToken{
		value: randomBytes(32), valid: true, protocol: p.Version(),
		permissions: perms, rpID: rpID, userPresent: present, issued: time.Now(),
	}
	enc, err := p.Encrypt(secret, k.pc.token.value)
	if err != nil {
		return nil, err
	}
	return map[int]any{0x02: enc}, nil
}

// checkTokenLocked verifies the pinUvAuthParam of makeCredential or
// getAssertion (CTAP 2.1 §6.1.2 steps 11–12, §6.2.2): a MAC over the client
// data hash under the current token, with the needed permission and the
// same RP; a token without an RP is bound to this one on first use.
func (k *Key) checkTokenLocked(protocol int, param, clientDataHash []byte, perm int, rpID string) error {
	if protocol == 0 {
		return StatusMissingParameter
	}
	p := k.protocol(protocol)
	if p == nil {
		return StatusInvalidParameter
	}
	tok := &k.pc.token
	if !tok.valid || tok.protocol != protocol || time.Since(tok.issued) > tokenLifetime ||
		!p.Verify(tok.value, clientDataHash, param) {
		return StatusPINAuthInvalid
	}
	if tok.permissions&perm == 0 || (tok.rpID != "" && tok.rpID != rpID) {
		return StatusPINAuthInvalid
	}
	tok.rpID = rpID
	return nil
}
