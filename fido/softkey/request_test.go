package softkey_test

import (
	"testing"

	"passkiosk/fido/softkey"
)

// TestRequestValidation: requests a conforming host never sends get the
// status CTAP 2.1 gives for them, not a crash or a guess.
func TestRequestValidation(t *testing.T) {
	r := newRig(t, softkey.Config{PIN: testPIN})
	hash := make([]byte, 32)
	rp := map[string]any{"id": testRP}
	user := map[string]any{"id": []byte{1}}
	es256 := []map[string]any{{"alg": -7, "type": "public-key"}}
	var many []map[string]any
	for i := 0; i < 17; i++ {
		many = append(many, map[string]any{"type": "public-key", "id": []byte{byte(i)}})
	}
	for _, tc := range []struct {
		name string
		cmd  byte
		req  any
		want softkey.Status
	}{
		{"makeCredential without parameters", 0x01, nil, softkey.StatusMissingParameter},
		{"makeCredential without user", 0x01, map[int]any{1: hash, 2: rp, 4: es256}, softkey.StatusMissingParameter},
		{"makeCredential with a short hash", 0x01, map[int]any{1: hash[:31], 2: rp, 3: user, 4: es256}, softkey.StatusInvalidParameter},
		{"makeCredential with rp as a string", 0x01, map[int]any{1: hash, 2: testRP, 3: user, 4: es256}, softkey.StatusCBORUnexpectedType},
		{"makeCredential with up=false", 0x01, map[int]any{1: hash, 2: rp, 3: user, 4: es256, 7: map[string]bool{"up": false}}, softkey.StatusInvalidOption},
		{"makeCredential with a bad credProtect", 0x01, map[int]any{1: hash, 2: rp, 3: user, 4: es256, 6: map[string]any{"credProtect": 9}}, softkey.StatusInvalidParameter},
		{"makeCredential with a token and no protocol", 0x01, map[int]any{1: hash, 2: rp, 3: user, 4: es256, 8: make([]byte, 32)}, softkey.StatusMissingParameter},
		{"makeCredential with protocol 3", 0x01, map[int]any{1: hash, 2: rp, 3: user, 4: es256, 8: make([]byte, 32), 9: 3}, softkey.StatusInvalidParameter},
		{"makeCredential with a long exclude list", 0x01, map[int]any{1: hash, 2: rp, 3: user, 4: es256, 5: many}, softkey.StatusLimitExceeded},
		{"getAssertion without rpId", 0x02, map[int]any{2: hash}, softkey.StatusMissingParameter},
		{"getAssertion with the rk option", 0x02, map[int]any{1: testRP, 2: hash, 5: map[string]bool{"rk": true}}, softkey.StatusUnsupportedOption},
		{"getAssertion with a long allow list", 0x02, map[int]any{1: testRP, 2: hash, 3: many}, softkey.StatusLimitExceeded},
		{"getAssertion with a bad MAC", 0x02, map[int]any{1: testRP, 2: hash, 6: make([]byte, 32), 7: 2}, softkey.StatusPINAuthInvalid},
		{"clientPIN unknown subcommand", 0x06, map[int]any{1: 2, 2: 0x42}, softkey.StatusInvalidSubcommand},
		{"clientPIN without protocol", 0x06, map[int]any{2: 2}, softkey.StatusMissingParameter},
		{"clientPIN protocol 3", 0x06, map[int]any{1: 3, 2: 2}, softkey.StatusInvalidParameter},
		{"clientPIN token without key agreement", 0x06, map[int]any{1: 2, 2: 5, 6: make([]byte, 32)}, softkey.StatusMissingParameter},
		{"clientPIN token with a bad key", 0x06, map[int]any{1: 2, 2: 5, 3: map[int]any{1: 2}, 6: make([]byte, 32)}, softkey.StatusInvalidParameter},
		{"clientPIN legacy token with permissions", 0x06, map[int]any{1: 2, 2: 5, 3: map[int]any{1: 2}, 6: make([]byte, 32), 9: 1}, softkey.StatusInvalidParameter},
		{"clientPIN permissions without rpId", 0x06, map[int]any{1: 2, 2: 9, 3: map[int]any{1: 2}, 6: make([]byte, 32), 9: 1}, softkey.StatusMissingParameter},
		{"clientPIN unknown permission bits", 0x06, map[int]any{1: 2, 2: 9, 3: map[int]any{1: 2}, 6: make([]byte, 32), 9: 0x80, 10: testRP}, softkey.StatusInvalidParameter},
	} {
		_, err := r.c.CBOR(ctx(t), tc.cmd, tc.req)
		var s softkey.Status
		if !asStatus(err, &s) || s != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if r.key.PINRetries() != 8 || len(r.key.Credentials()) != 0 {
		t.Fatal("a rejected request changed the key")
	}
}
