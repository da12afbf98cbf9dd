package kiosk

import (
	"encoding/hex"
	"strings"
)

// AAGUID identifies an authenticator model (WebAuthn §6.1.1). It lives in
// the vocabulary so that policy, configuration and the admin command can
// read and write it without pulling in the verification code.
type AAGUID [16]byte

// String formats the AAGUID in the usual 8-4-4-4-12 form.
func (a AAGUID) String() string {
	h := hex.EncodeToString(a[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ParseAAGUID reads the 8-4-4-4-12 form (dashes optional).
func ParseAAGUID(s string) (AAGUID, error) {
	var a AAGUID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != len(a) {
		return a, Errorf(KindMalformed, "parse AAGUID", "%q is not an AAGUID (32 hex digits, dashes allowed)", s)
	}
	copy(a[:], b)
	return a, nil
}
