package admin

import (
	"crypto/rand"
	"encoding/hex"

	"passkiosk/kiosk"
)

// userIDAlphabet is Crockford's base32 in lower case: no i, l, o or u,
// so an ID read aloud or copied from paper has no look-alikes.
const userIDAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newUserID makes the ID of a person added by an administrator: "u-"
// and ten random base32 symbols (50 bits). It is the WebAuthn user
// handle, so it carries nothing personal (WebAuthn §14.6.1), and it is
// printable, so the audit log and the admin tool show it as it is
// (kiosk.ReadableID) rather than as hex. taken says whether an ID is in
// use; the caller's store still refuses a duplicate name.
func newUserID(taken func(hexID string) bool) (string, error) {
	for {
		var raw [10]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", err
		}
		id := []byte("u-")
		for _, x := range raw {
			id = append(id, userIDAlphabet[x&31])
		}
		if h := hex.EncodeToString(id); !taken(h) {
			return h, nil
		}
	}
}

// readableOf is the readable form (kiosk.ReadableID) of a hex user ID.
func readableOf(hexID string) string {
	b, err := hex.DecodeString(hexID)
	if err != nil {
		return hexID
	}
	return kiosk.ReadableID(b)
}

// ReadableUserID is the user ID as people should read it, for hex IDs
// the API carries.
func ReadableUserID(hexID string) string { return readableOf(hexID) }
