package tpm_test

import (
	"bytes"
	"testing"

	"passkiosk/tpm"
)

// FuzzFromStoredForm: an error means no result; whatever parses survives a
// round trip through StoredForm unchanged.
func FuzzFromStoredForm(f *testing.F) {
	seed := tpm.KeyBlobs{
		Public: []byte{0, 2, 0, 0x23}, Private: []byte{0, 3, 1, 2, 3},
		AuthSalt: bytes.Repeat([]byte{7}, 16), ParentName: []byte{0, 0x0b, 9},
	}
	pub, priv, err := seed.StoredForm()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pub, priv)
	f.Add([]byte{}, []byte{0xa0})
	f.Add(pub, []byte{0xa1, 0x01, 0x40})
	f.Fuzz(func(t *testing.T, pub, priv []byte) {
		b, err := tpm.FromStoredForm(pub, priv)
		if err != nil {
			if b != nil {
				t.Fatal("error with a result")
			}
			return
		}
		p2, q2, err := b.StoredForm()
		if err != nil {
			t.Fatal(err)
		}
		b2, err := tpm.FromStoredForm(p2, q2)
		if err != nil {
			t.Fatalf("re-encoded blobs do not parse: %v", err)
		}
		if !bytes.Equal(b.Public, b2.Public) || !bytes.Equal(b.Private, b2.Private) ||
			!bytes.Equal(b.AuthSalt, b2.AuthSalt) || !bytes.Equal(b.ParentName, b2.ParentName) {
			t.Fatal("round trip changed the blobs")
		}
	})
}
