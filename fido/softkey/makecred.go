package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
)

type rpEntity struct {
	ID   string `cbor:"id"`
	Name string `cbor:"name,omitempty"`
}

type userEntity struct {
	ID          []byte `cbor:"id"`
	Name        string `cbor:"name,omitempty"`
	DisplayName string `cbor:"displayName,omitempty"`
}

type credDescriptor struct {
	Type string `cbor:"type"`
	ID   []byte `cbor:"id"`
}

type makeCredentialRequest struct {
	ClientDataHash []byte                     `cbor:"1,keyasint"`
	RP             *rpEntity                  `cbor:"2,keyasint"`
	User           *userEntity                `cbor:"3,keyasint"`
	Params         []credParam                `cbor:"4,keyasint"`
	ExcludeList    []credDescriptor           `cbor:"5,keyasint"`
	Extensions     map[string]cbor.RawMessage `cbor:"6,keyasint"`
	Options        map[string]bool            `cbor:"7,keyasint"`
	PinUvAuthParam []byte                     `cbor:"8,keyasint"`
	Protocol       int                        `cbor:"9,keyasint"`
}

// makeCredentialLocked answers authenticatorMakeCredential (CTAP 2.1 §6.1),
// in the order of the steps of §6.1.2.
func (k *Key) makeCredentialLocked(t *txn, body []byte, fault Fault) (any, error) {
	var r makeCredentialRequest
	if err := k.openRequestLocked(t, body, &r); err != nil {
		return nil, err
	}
	opts, err := r.options()
	if err != nil {
		return nil, err
	}
	uv, err := k.approveMakeCredentialLocked(t, &r, opts)
	if err != nil {
		return nil, err
	}
	if opts.rk && k.discoverableCountLocked() >= maxCredentials {
		return nil, StatusKeyStoreFull
	}
	cred, pub, err := k.addCredentialLocked(&r, opts)
	if err != nil {
		return nil, err
	}
	authData, err := k.makeCredentialAuthDataLocked(cred, pub, opts, uv, fault)
	if err != nil {
		return nil, err
	}
	sig, err := signES256(k.st.att.key, authData, r.ClientDataHash, fault)
	if err != nil {
		return nil, err
	}
	if err := k.saveLocked(); err != nil {
		return nil, err
	}
	// Packed attestation with an attestation certificate (WebAuthn §8.2).
	return map[int]any{
		0x01: "packed",
		0x02: authData,
		0x03: map[string]any{"alg": int64(fido.AlgES256), "sig": sig, "x5c": [][]byte{k.st.att.leaf.Raw}},
	}, nil
}

// check applies the parameter checks of CTAP 2.1 §6.1.2 that come before
// anything else: the required parameters are there and of sound size.
func (r *makeCredentialRequest) check() error {
	if r.ClientDataHash == nil || r.RP == nil || r.User == nil || r.Params == nil {
		return StatusMissingParameter
	}
	if len(r.ClientDataHash) != 32 || r.RP.ID == "" || len(r.User.ID) == 0 || len(r.User.ID) > 64 {
		return StatusInvalidParameter
	}
	if len(r.ExcludeList) > maxCredsInList {
		return StatusLimitExceeded
	}
	return nil
}

// makeCredentialOptions is what a makeCredential request asks for beyond
// its parameters: its options and its extension inputs.
type makeCredentialOptions struct {
	rk, uv     bool
	protect    int  // credProtect level asked for, 0 when absent
	hmacSecret bool // credential secrets for hmac-secret
}

// options reads the algorithm, the options and the extensions of a request
// (CTAP 2.1 §6.1.2 steps 3–5).
func (r *makeCredentialRequest) options() (makeCredentialOptions, error) {
	if !offersES256(r.Params) {
		return makeCredentialOptions{}, StatusUnsupportedAlg
	}
	o := makeCredentialOptions{rk: r.Options[optRK], uv: r.Options[optUV]}
	if up, ok := r.Options[optUP]; ok && !up {
		// A credential is never made without the person there (§6.1.2
		// step 5).
		return makeCredentialOptions{}, StatusInvalidOption
	}
	var err error
	if o.protect, err = credProtectInput(r.Extensions); err != nil {
		return makeCredentialOptions{}, err
	}
	if o.hmacSecret, err = hmacSecretRequested(r.Extensions); err != nil {
		return makeCredentialOptions{}, err
	}
	return o, nil
}

// approveMakeCredentialLocked settles user verification and presence for a
// new credential (CTAP 2.1 §6.1.2 steps 6–11) and reports whether the
// person was verified.
func (k *Key) approveMakeCredentialLocked(t *txn, r *makeCredentialRequest, o makeCredentialOptions) (uv bool, err error) {
	// makeCredUvNotRqd: with a PIN set, a non-discoverable credential may
	// be made without verification, a discoverable one may not (§6.1.2
	// step 6).
	if len(k.st.PINHash) > 0 && r.PinUvAuthParam == nil && !(o.uv && k.cfg.Fingerprint) && o.rk {
		return false, StatusPUATRequired
	}
	uv, present, err := k.authorizeLocked(t, r.PinUvAuthParam, r.Protocol, r.ClientDataHash, PermMakeCredential, r.RP.ID, o.uv)
	if err != nil {
		return false, err
	}
	excluded := k.excludedLocked(r.ExcludeList, r.RP.ID, uv)
	if !present {
		// An excluded credential too: the person confirms before learning
		// that the key is known (§6.1.2 step 10), so a site cannot probe
		// silently.
		if err := k.userPresenceLocked(t); err != nil {
			return false, err
		}
	}
	if excluded {
		return false, StatusCredentialExcluded
	}
	if t.ctx.Err() != nil {
		return false, StatusKeepaliveCancel
	}
	return uv, nil
}

// excludedLocked reports whether the key holds a credential of the exclude
// list that this request may see (CTAP 2.1 §6.1.2 step 10).
func (k *Key) excludedLocked(exclude []credDescriptor, rpID string, uv bool) bool {
	for _, d := range exclude {
		c := k.findLocked(d.ID, rpID)
		if c != nil && (c.CredProtect != credProtectRequired || uv) {
			return true
		}
	}
	return false
}

// addCredentialLocked makes the credential's key pair and keeps the
// credential (CTAP 2.1 §6.1.2 steps 16–17). It is saved with the signature
// counter, once the response is signed.
func (k *Key) addCredentialLocked(r *makeCredentialRequest, o makeCredentialOptions) (storedCred, fido.PublicKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return storedCred{}, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storedCred{}, nil, err
	}
	pub, err := fido.NewPublicKey(&priv.PublicKey)
	if err != nil {
		return storedCred{}, nil, err
	}
	cred := storedCred{
		ID: randomBytes(32), RPID: r.RP.ID, UserID: r.User.ID, UserName: r.User.Name,
		DisplayName: r.User.DisplayName, Discoverable: o.rk, CredProtect: o.protect,
		PrivateKey: pkcs8, Created: time.Now().Unix(), Seq: k.nextSeqLocked(),
	}
	if o.protect == 0 {
		cred.CredProtect = credProtectOptional
	}
	if o.hmacSecret {
		cred.CredRandom = randomBytes(credRandomLen)
	}
	if o.rk {
		// One discoverable credential per account and RP: a new one
		// replaces the old (§6.1.2 step 17).
		k.removeDiscoverableLocked(r.RP.ID, r.User.ID)
	}
	k.st.Creds = append(k.st.Creds, cred)
	return cred, pub, nil
}

// makeCredentialAuthDataLocked builds the authenticator data of a new
// credential (CTAP 2.1 §6.1.2 step 18): the attested credential and the
// extension outputs, under the next signature counter.
func (k *Key) makeCredentialAuthDataLocked(cred storedCred, pub fido.PublicKey, o makeCredentialOptions, uv bool, fault Fault) ([]byte, error) {
	ad := &fido.AuthData{
		RPIDHash: fido.RPIDHash(cred.RPID),
		Flags:    fido.FlagUP,
		Counter:  k.nextCounterLocked(fault),
		Attested: &fido.AttestedCredential{AAGUID: k.cfg.AAGUID, CredentialID: cred.ID, PublicKey: pub.Bytes()},
	}
	if uv {
		ad.Flags |= fido.FlagUV
	}
	exts := map[string]any{}
	if o.protect != 0 {
		exts["credProtect"] = o.protect
	}
	if o.hmacSecret {
		exts[extHMACSecret] = true
	}
	if len(exts) > 0 {
		ext, err := cbor.Marshal(exts)
		if err != nil {
			return nil, err
		}
		ad.Extensions = ext
	}
	return ad.Marshal(), nil
}

func offersES256(params []credParam) bool {
	for _, p := range params {
		if p.Type == "public-key" && p.Alg == int64(fido.AlgES256) {
			return true
		}
	}
	return false
}

// credProtectInput reads the credProtect extension input (CTAP 2.1 §12.1):
// 0 when absent.
func credProtectInput(ext map[string]cbor.RawMessage) (int, error) {
	var level int
	ok, err := extensionInput(ext, "credProtect", &level)
	if !ok {
		return 0, nil
	}
	if err != nil || level < credProtectOptional || level > credProtectRequired {
		return 0, StatusInvalidParameter
	}
	return level, nil
}

// extensionInput decodes the input of the named extension into v; ok is
// false when the request does not carry the extension. An input of the
// wrong shape is CTAP1_ERR_INVALID_PARAMETER.
func extensionInput(ext map[string]cbor.RawMessage, name string, v any) (ok bool, err error) {
	raw, ok := ext[name]
	if !ok {
		return false, nil
	}
	if err := cbor.Unmarshal(raw, v); err != nil {
		return true, StatusInvalidParameter
	}
	return true, nil
}

// credentialRequest is a makeCredential or a getAssertion request.
type credentialRequest interface {
	check() error
	pinUvAuthParam() []byte
}

func (r *makeCredentialRequest) pinUvAuthParam() []byte { return r.PinUvAuthParam }
func (r *getAssertionRequest) pinUvAuthParam() []byte   { return r.PinUvAuthParam }

// openRequestLocked decodes a makeCredential or getAssertion request into
// r and takes the steps both begin with: the parameter checks, then the
// touch probe.
func (k *Key) openRequestLocked(t *txn, body []byte, r credentialRequest) error {
	if err := decodeRequest(body, r); err != nil {
		return err
	}
	if err := r.check(); err != nil {
		return err
	}
	if p := r.pinUvAuthParam(); p != nil && len(p) == 0 {
		return k.touchProbeLocked(t)
	}
	return nil
}

// touchProbeLocked answers a zero-length pinUvAuthParam, which hosts send
// to find out which of several keys the person touches (CTAP 2.1 §6.1.2
// step 1, §6.2.2 step 1).
func (k *Key) touchProbeLocked(t *txn) error {
	if err := k.userPresenceLocked(t); err != nil {
		return err
	}
	if len(k.st.PINHash) == 0 {
		return StatusPINNotSet
	}
	return StatusPINInvalid
}

// authorizeLocked settles user verification for makeCredential or
// getAssertion: a pinUvAuthParam under the current token, or the built-in
// fingerprint when the host asks with the "uv" option. present reports that
// the person already touched the key for it (a finger on the sensor, or a
// token obtained that way).
func (k *Key) authorizeLocked(t *txn, param []byte, protocol int, cdh []byte, perm int, rpID string, uvOpt bool) (uv, present bool, err error) {
	if param != nil {
		if err := k.checkTokenLocked(protocol, param, cdh, perm, rpID); err != nil {
			return false, false, err
		}
		present = k.pc.token.userPresent
		// The presence a token carries is good for one operation
		// (§6.5.2.1 clearUserPresentFlag).
		k.pc.token.userPresent = false
		return true, present, nil
	}
	if !uvOpt {
		return false, false, nil
	}
	if !k.cfg.Fingerprint {
		return false, false, StatusInvalidOption
	}
	if err := k.builtInUVLocked(t); err != nil {
		return false, false, err
	}
	return true, true, nil
}

func (k *Key) findLocked(id []byte, rpID string) *storedCred {
	for i := range k.st.Creds {
		c := &k.st.Creds[i]
		if c.RPID == rpID && bytes.Equal(c.ID, id) {
			return c
		}
	}
	return nil
}

func (k *Key) removeDiscoverableLocked(rpID string, userID []byte) {
	kept := k.st.Creds[:0]
	for _, c := range k.st.Creds {
		if !(c.Discoverable && c.RPID == rpID && bytes.Equal(c.UserID, userID)) {
			kept = append(kept, c)
		}
	}
	k.st.Creds = kept
}

func (k *Key) nextSeqLocked() uint64 {
	var max uint64
	for _, c := range k.st.Creds {
		if c.Seq > max {
			max = c.Seq
		}
	}
	return max + 1
}

// nextCounterLocked advances the global signature counter (WebAuthn §6.1.1)
// or, under the CounterBackwards fault, moves it back.
func (k *Key) nextCounterLocked(fault Fault) uint32 {
	if fault == CounterBackwards {
		if k.st.Counter > 0 {
			k.st.Counter--
		}
		return k.st.Counter
	}
	k.st.Counter++
	return k.st.Counter
}

// signES256 signs authData ‖ clientDataHash with an ASN.1 DER ECDSA
// signature (WebAuthn §6.5.5). Under BadSignature it signs a message that
// differs in one bit, so the DER is sound and the signature is wrong.
func signES256(priv *ecdsa.PrivateKey, authData, cdh []byte, fault Fault) ([]byte, error) {
	msg := append(append([]byte(nil), authData...), cdh...)
	if fault == BadSignature {
		msg[len(msg)-1] ^= 0x01
	}
	h := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, priv, h[:])
}
