package kiosk

import (
	"encoding/hex"
	"strings"
)

// Readable returns the user ID as people should read it: the ID itself
// when it is short printable text that cannot be mistaken for hex (a demo
// person's "alice", or the "u-…" IDs the admin tool makes), else its
// lower-case hex. Raw WebAuthn user handles are random bytes, which only
// hex shows faithfully.
func (id UserID) Readable() string { return ReadableID([]byte(id)) }

// ReadableID is UserID.Readable for an ID held as bytes.
func ReadableID(b []byte) string {
	if len(b) == 0 || len(b) > 64 {
		return hex.EncodeToString(b)
	}
	hexLike := true
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'f' || c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z' || c >= 'g' && c <= 'z' || c == '.' || c == '-' || c == '_' || c == '@':
			hexLike = false
		default:
			return hex.EncodeToString(b)
		}
	}
	if hexLike {
		return hex.EncodeToString(b)
	}
	return string(b)
}

// ParseReadableID reads what ReadableID wrote: hex, or the ID as text.
func ParseReadableID(s string) []byte {
	if b, err := hex.DecodeString(s); err == nil && len(b) > 0 && ReadableID(b) == strings.ToLower(s) {
		return b
	}
	return []byte(s)
}
