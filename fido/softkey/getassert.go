package softkey

import (
	"sort"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
)

type getAssertionRequest struct {
	RPID           string                     `cbor:"1,keyasint"`
	ClientDataHash []byte                     `cbor:"2,keyasint"`
	AllowList      []credDescriptor           `cbor:"3,keyasint"`
	Extensions     map[string]cbor.RawMessage `cbor:"4,keyasint"`
	Options        map[string]bool            `cbor:"5,keyasint"`
	PinUvAuthParam []byte                     `cbor:"6,keyasint"`
	Protocol       int                        `cbor:"7,keyasint"`
}

// nextAssertion is what getNextAssertion continues from (CTAP 2.1 §6.3):
// the remaining credentials of a discoverable lookup, signed with the same
// client data hash and flags.
type nextAssertion struct {
	ids     [][]byte
	rpID    string
	cdh     []byte
	flags   fido.Flags
	hmac    *hmacRequest
	expires time.Time
}

// nextAssertionLifetime is the 30 s timer of CTAP 2.1 §6.2.2 step 14.
const nextAssertionLifetime = 30 * time.Second

// getAssertionLocked answers authenticatorGetAssertion (CTAP 2.1 §6.2),
// in the order of the steps of §6.2.2.
func (k *Key) getAssertionLocked(t *txn, body []byte, fault Fault) (any, error) {
	var r getAssertionRequest
	if err := k.openRequestLocked(t, body, &r); err != nil {
		return nil, err
	}
	if _, ok := r.Options[optRK]; ok {
		return nil, StatusUnsupportedOption
	}
	up := true
	if v, ok := r.Options[optUP]; ok {
		up = v
	}
	uv, present, err := k.authorizeLocked(t, r.PinUvAuthParam, r.Protocol, r.ClientDataHash, PermGetAssertion, r.RPID, r.Options[optUV])
	if err != nil {
		return nil, err
	}
	hmacReq, err := k.hmacSecretInputLocked(r.Extensions)
	if err != nil {
		return nil, err
	}
	creds := k.locateLocked(r.RPID, r.AllowList, uv)
	if len(creds) == 0 {
		return nil, StatusNoCredentials
	}
	if up && !present {
		if err := k.confirmPresenceLocked(t); err != nil {
			return nil, err
		}
	}
	flags := assertionFlags(up, uv)
	discovered := len(r.AllowList) == 0
	resp, err := k.assertLocked(creds[0], r.ClientDataHash, flags, discovered, hmacReq, fault)
	if err != nil {
		return nil, err
	}
	if discovered && len(creds) > 1 {
		resp[0x05] = len(creds)
		k.pc.next = newNextAssertion(&r, creds[1:], flags, hmacReq)
	}
	return resp, nil
}

// check applies the parameter checks of CTAP 2.1 §6.2.2 that come before
// anything else: the required parameters are there and of sound size.
func (r *getAssertionRequest) check() error {
	if r.RPID == "" || r.ClientDataHash == nil {
		return StatusMissingParameter
	}
	if len(r.ClientDataHash) != 32 {
		return StatusInvalidParameter
	}
	if len(r.AllowList) > maxCredsInList {
		// Hosts split longer lists using maxCredentialCountInList.
		return StatusLimitExceeded
	}
	return nil
}

func assertionFlags(up, uv bool) fido.Flags {
	var flags fido.Flags
	if up {
		flags |= fido.FlagUP
	}
	if uv {
		flags |= fido.FlagUV
	}
	return flags
}

// newNextAssertion keeps the credentials of a discoverable lookup that the
// first assertion did not use, for getNextAssertion.
func newNextAssertion(r *getAssertionRequest, rest []storedCred, flags fido.Flags, hmacReq *hmacRequest) *nextAssertion {
	next := &nextAssertion{rpID: r.RPID, cdh: r.ClientDataHash, flags: flags, hmac: hmacReq, expires: time.Now().Add(nextAssertionLifetime)}
	for _, c := range rest {
		next.ids = append(next.ids, c.ID)
	}
	return next
}

// getNextAssertionLocked answers authenticatorGetNextAssertion (CTAP 2.1
// §6.3).
func (k *Key) getNextAssertionLocked(fault Fault) (any, error) {
	n := k.pc.next
	if n == nil || len(n.ids) == 0 || time.Now().After(n.expires) {
		k.pc.next = nil
		return nil, StatusNotAllowed
	}
	id := n.ids[0]
	n.ids = n.ids[1:]
	c := k.findLocked(id, n.rpID)
	if c == nil {
		return nil, StatusNotAllowed
	}
	return k.assertLocked(*c, n.cdh, n.flags, true, n.hmac, fault)
}

// locateLocked finds the credentials an assertion may use (CTAP 2.1 §6.2.2
// step 7): those in the allow list, or else the discoverable ones of the
// RP, newest first, leaving out those whose credProtect level needs
// verification that did not happen.
func (k *Key) locateLocked(rpID string, allow []credDescriptor, uv bool) []storedCred {
	var out []storedCred
	if len(allow) > 0 {
		for _, d := range allow {
			if d.Type != "public-key" {
				continue
			}
			if c := k.findLocked(d.ID, rpID); c != nil && (uv || c.CredProtect != credProtectRequired) {
				out = append(out, *c)
			}
		}
		return out
	}
	for _, c := range k.st.Creds {
		if c.RPID == rpID && c.Discoverable && (uv || c.CredProtect == credProtectOptional) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq > out[j].Seq })
	return out
}

// assertLocked signs one assertion and builds its response map.
func (k *Key) assertLocked(c storedCred, cdh []byte, flags fido.Flags, discovered bool, hmacReq *hmacRequest, fault Fault) (map[int]any, error) {
	priv, err := c.signer()
	if err != nil {
		return nil, err
	}
	ext, err := hmacReq.output(&c, flags&fido.FlagUV != 0)
	if err != nil {
		return nil, err
	}
	ad := &fido.AuthData{RPIDHash: fido.RPIDHash(c.RPID), Flags: flags, Counter: k.nextCounterLocked(fault), Extensions: ext}
	authData := ad.Marshal()
	sig, err := signES256(priv, authData, cdh, fault)
	if err != nil {
		return nil, err
	}
	if err := k.saveLocked(); err != nil {
		return nil, err
	}
	resp := map[int]any{
		0x01: credDescriptor{Type: "public-key", ID: c.ID},
		0x02: authData,
		0x03: sig,
	}
	if c.Discoverable {
		// The user handle always comes back for a discoverable credential;
		// the names only after verification in a discoverable lookup, where
		// the host shows them to let the person choose an account (CTAP 2.1
		// §6.2.2 step 12).
		u := userEntity{ID: c.UserID}
		if flags&fido.FlagUV != 0 && discovered {
			u.Name, u.DisplayName = c.UserName, c.DisplayName
		}
		resp[0x04] = u
	}
	return resp, nil
}
