package fido

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"

	"passkiosk/kiosk"
)

// Ceremony types carried in client data (WebAuthn §5.8.1).
const (
	TypeCreate = "webauthn.create"
	TypeGet    = "webauthn.get"
)

// ClientDataJSON builds the client data the kiosk, acting as the WebAuthn
// client, sends for one ceremony. The field order follows §5.8.1.2 (the
// limited verification algorithm's order), and crossOrigin is always false:
// the kiosk never runs inside a frame.
func ClientDataJSON(typ string, ch Challenge, origin string) []byte {
	// json.Marshal of a string escapes it as §5.8.1.2 CCDToString requires
	// for the characters that matter here.
	t, _ := json.Marshal(typ)
	o, _ := json.Marshal(origin)
	out := make([]byte, 0, 128+len(origin))
	out = append(out, `{"type":`...)
	out = append(out, t...)
	out = append(out, `,"challenge":"`...)
	out = base64.RawURLEncoding.AppendEncode(out, ch[:])
	out = append(out, `","origin":`...)
	out = append(out, o...)
	return append(out, `,"crossOrigin":false}`...)
}

// ClientDataHash is SHA-256 of the client data JSON: what the authenticator
// signs over together with its authenticator data.
func ClientDataHash(clientDataJSON []byte) [32]byte { return sha256.Sum256(clientDataJSON) }

type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin *bool  `json:"crossOrigin"`
	TopOrigin   string `json:"topOrigin"`
}

// verifyClientData runs the client-data steps of §7.1 (steps 7–10) and §7.2
// (steps 10–13) for a relying party that never runs in a frame.
func verifyClientData(raw []byte, typ string, want Challenge, origin string) error {
	var cd clientData
	if err := json.Unmarshal(raw, &cd); err != nil {
		return fail(kiosk.KindMalformed, "client data is not JSON: %v", err)
	}
	if cd.Type != typ {
		return fail(kiosk.KindClientData, "client data type %q, want %q", cd.Type, typ)
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(cd.Challenge)
	if err != nil || len(got) != len(want) || subtle.ConstantTimeCompare(got, want[:]) != 1 {
		return fail(kiosk.KindChallenge, "client data challenge is not the one issued for this ceremony")
	}
	if cd.Origin != origin {
		return fail(kiosk.KindClientData, "client data origin %q, want %q", cd.Origin, origin)
	}
	if cd.CrossOrigin != nil && *cd.CrossOrigin {
		return fail(kiosk.KindClientData, "client data says crossOrigin: the kiosk never runs in a frame")
	}
	if cd.TopOrigin != "" {
		return fail(kiosk.KindClientData, "client data carries topOrigin %q: the kiosk never runs in a frame", cd.TopOrigin)
	}
	return nil
}
