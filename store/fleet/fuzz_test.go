package fleet_test

import (
	"bytes"
	"testing"
	"time"

	"passkiosk/store"
	"passkiosk/store/fleet"
)

// FuzzDecodeDirectoryRecords feeds any bytes to every decoder of a
// directory value: none may panic, and what decodes encodes again to
// exactly the same bytes (the decoders refuse anything not canonical).
func FuzzDecodeDirectoryRecords(f *testing.F) {
	u, _ := fleet.EncodeUser(store.User{ID: []byte("u1"), Name: "ann", Groups: []string{"nurses"}, State: store.UserActive, Created: time.Unix(1, 0)})
	c, _ := fleet.EncodeCredential(key(1, 1))
	r, _ := fleet.EncodeRevocation(fleet.Revocation{CredentialID: []byte("k"), By: "it", At: time.Unix(2, 0)})
	p, _ := fleet.EncodePolicy(store.Policy{Version: 3, Schema: 1, Data: []byte("x = 1")})
	s, _ := fleet.EncodeSeen(fleet.Seen{CredentialID: []byte("k"), Counter: 9, At: time.Unix(3, 0)})
	for _, seed := range [][]byte{u, c, r, p, s, {0xa0}, {}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if u, err := fleet.DecodeUser(b); err == nil {
			again, err := fleet.EncodeUser(u)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("user %x re-encodes to %x (%v)", b, again, err)
			}
		}
		if c, err := fleet.DecodeCredential(b); err == nil {
			again, err := fleet.EncodeCredential(c)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("credential %x re-encodes to %x (%v)", b, again, err)
			}
		}
		if r, err := fleet.DecodeRevocation(b); err == nil {
			if again, err := fleet.EncodeRevocation(r); err != nil || !bytes.Equal(again, b) {
				t.Fatalf("revocation %x re-encodes to %x (%v)", b, again, err)
			}
		}
		if p, err := fleet.DecodePolicy(b); err == nil {
			if again, err := fleet.EncodePolicy(p); err != nil || !bytes.Equal(again, b) {
				t.Fatalf("policy %x re-encodes to %x (%v)", b, again, err)
			}
		}
		if s, err := fleet.DecodeSeen(b); err == nil {
			if again, err := fleet.EncodeSeen(s); err != nil || !bytes.Equal(again, b) {
				t.Fatalf("observation %x re-encodes to %x (%v)", b, again, err)
			}
		}
		_, _ = fleet.DecodeCode(b)
		_, _ = fleet.DecodeHeartbeat(b)
		_, _ = fleet.DecodeSuspect(b)
	})
}
