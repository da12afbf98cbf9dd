package store

import (
	"bytes"
	"testing"
	"time"

	"passkiosk/kiosk"
)

// FuzzDecodePlace feeds arbitrary bytes, sealed under the mirror's place
// key, to the place decoder. Properties: an error means no place and
// kind KindStoreCorrupt; a place that decodes re-encodes, sealed, to
// exactly the stored bytes.
func FuzzDecodePlace(f *testing.F) {
	for _, p := range []*Place{{}, {Site: "north", Ward: "icu", Labels: map[string]string{"floor": "3", "kind": "desk"},
		Updated: time.Date(2026, 2, 3, 4, 5, 6, 7, time.UTC), UpdatedBy: "it"}} {
		b, err := encodePlace(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v := seal(keyMirrorPlace, body)
		p, err := decodePlace(keyMirrorPlace, v)
		if err != nil {
			if p != nil || kiosk.KindOf(err) != kiosk.KindStoreCorrupt {
				t.Fatalf("error %v (kind %v) with place %+v", err, kiosk.KindOf(err), p)
			}
			return
		}
		again, err := encodePlace(p)
		if err != nil || !bytes.Equal(seal(keyMirrorPlace, again), v) {
			t.Fatalf("%+v re-encodes to %x, stored %x (%v)", p, again, body, err)
		}
	})
}
