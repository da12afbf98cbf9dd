package softkey

import (
	"errors"
	"time"

	"passkiosk/fido/cbor"
)

// handleCBOR runs one authenticator API command (CTAP 2.1 §6) and returns
// the CTAPHID_CBOR response payload: a status byte, then the CBOR body.
// The fault it returns is a framing fault for the CTAPHID layer to apply.
func (k *Key) handleCBOR(t *txn, req []byte) ([]byte, Fault) {
	cmd, body := req[0], req[1:]
	fault := None
	if cmd == cmdMakeCredential || cmd == cmdGetAssertion || cmd == cmdGetNextAssertion {
		fault = k.takeFault()
	}
	if cmd == cmdClientPIN && isKeyAgreement(body) && k.takePINFault() {
		fault = UnplugMidOperation
	}
	if fault == UnplugMidOperation {
		k.unplugWhileWorking(t)
		return []byte{byte(StatusOther)}, None
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn != t.conn {
		return []byte{byte(StatusOther)}, None
	}
	if cmd != cmdGetNextAssertion {
		// getNextAssertion state lives only until the next command
		// (CTAP 2.1 §6.3).
		k.pc.next = nil
	}
	out, err := k.commandLocked(t, cmd, body, fault)
	return response(out, err, fault)
}

// unplugWhileWorking lets the host see the key working, then loses power.
func (k *Key) unplugWhileWorking(t *txn) {
	select {
	case <-time.After(k.cfg.KeepaliveInterval + k.cfg.KeepaliveInterval/2):
	case <-t.ctx.Done():
	}
	t.conn.Unplug()
}

// commandLocked passes a command to its handler.
func (k *Key) commandLocked(t *txn, cmd byte, body []byte, fault Fault) (any, error) {
	switch cmd {
	case cmdGetInfo:
		return k.infoLocked(), nil
	case cmdMakeCredential:
		return k.makeCredentialLocked(t, body, fault)
	case cmdGetAssertion:
		return k.getAssertionLocked(t, body, fault)
	case cmdGetNextAssertion:
		return k.getNextAssertionLocked(fault)
	case cmdClientPIN:
		return k.clientPINLocked(t, body)
	case cmdReset:
		return nil, k.resetLocked(t)
	case cmdSelection:
		return nil, k.userPresenceLocked(t)
	}
	return nil, StatusInvalidCommand
}

// response encodes a handler's answer: its status, then its CBOR body,
// with the encoding fault applied. A handler's error that is not a Status
// is CTAP1_ERR_OTHER.
func response(out any, err error, fault Fault) ([]byte, Fault) {
	if err != nil {
		var s Status
		if !errors.As(err, &s) {
			s = StatusOther
		}
		return []byte{byte(s)}, framingOnly(fault)
	}
	resp := []byte{byte(StatusOK)}
	if out != nil {
		b, err := cbor.Marshal(out)
		if err != nil {
			return []byte{byte(StatusOther)}, None
		}
		resp = append(resp, b...)
	}
	if fault == MalformedCBOR {
		// A map that promises five pairs and ends after half of one.
		resp = []byte{byte(StatusOK), 0xa5, 0x01}
	}
	return resp, framingOnly(fault)
}

// framingOnly keeps the faults the CTAPHID layer applies and drops the
// others, which the command itself has already applied.
func framingOnly(f Fault) Fault {
	switch f {
	case WrongChannel, TruncatedFrame, OversizedLength:
		return f
	}
	return None
}

// decodeRequest parses a command's parameters: bytes that are not CBOR are
// CTAP2_ERR_INVALID_CBOR, CBOR of the wrong shape CBOR_UNEXPECTED_TYPE.
func decodeRequest(body []byte, v any) error {
	if len(body) == 0 {
		return StatusMissingParameter
	}
	if err := cbor.Valid(body); err != nil {
		return StatusInvalidCBOR
	}
	if err := cbor.Unmarshal(body, v); err != nil {
		return StatusCBORUnexpectedType
	}
	return nil
}

type credParam struct {
	Alg  int64  `cbor:"alg"`
	Type string `cbor:"type"`
}

// infoLocked answers authenticatorGetInfo (CTAP 2.1 §6.4).
func (k *Key) infoLocked() map[int]any {
	opts := map[string]bool{
		optRK:              true,
		optUP:              true,
		"plat":             false,
		optPIN:             len(k.st.PINHash) > 0,
		"pinUvAuthToken":   true,
		"makeCredUvNotRqd": true,
	}
	info := map[int]any{
		0x01: []string{"FIDO_2_0", "FIDO_2_1"},
		0x02: []string{"credProtect", extHMACSecret},
		0x03: k.cfg.AAGUID[:],
		0x04: opts,
		0x05: MaxMessage,
		0x06: k.cfg.PINProtocols,
		0x07: maxCredsInList,
		0x08: maxCredentialIDLen,
		0x09: []string{"usb"},
		0x0a: []credParam{{Alg: -7, Type: "public-key"}},
		0x0d: minPINLength,
		0x0e: 0x010000,
		0x14: maxCredentials - k.discoverableCountLocked(),
	}
	if k.cfg.Fingerprint {
		opts[optUV] = true
		info[0x11] = 1          // preferredPlatformUvAttempts: one finger per request
		info[0x12] = uvModality // uvModality
	}
	return info
}

// uvModality is USER_VERIFY_FINGERPRINT_INTERNAL from the FIDO Registry of
// Predefined Values §3.1.
const uvModality = 0x00000002

func (k *Key) discoverableCountLocked() int {
	n := 0
	for _, c := range k.st.Creds {
		if c.Discoverable {
			n++
		}
	}
	return n
}

// resetLocked answers authenticatorReset (CTAP 2.1 §6.6): only within the
// reset window after power-up, only with a touch. It erases credentials and
// the PIN and restores the retry counters; the attestation identity is
// the model's and stays.
func (k *Key) resetLocked(t *txn) error {
	if time.Since(k.pc.plugged) > k.cfg.ResetWindow {
		return StatusNotAllowed
	}
	if err := k.confirmPresenceLocked(t); err != nil {
		return err
	}
	k.st.Creds = nil
	k.st.PINHash = nil
	k.st.PINRetries = maxPINRetries
	k.st.UVRetries = maxUVRetries
	k.pc.consecutiveFails = 0
	k.pc.token = pinToken{value: randomBytes(32)}
	k.regenerateKeyAgreementLocked()
	return k.saveLocked()
}

// isKeyAgreement reports whether a clientPIN request is getKeyAgreement,
// the first step of every PIN exchange (CTAP 2.1 §6.5.5.4).
func isKeyAgreement(body []byte) bool {
	var r clientPINRequest
	if decodeRequest(body, &r) != nil {
		return false
	}
	return r.Sub == pinGetKeyAgreement
}
