package pinproto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
)

// TestBothSidesAgree runs the key agreement from both ends and checks the
// shapes CTAP 2.1 §6.5.6 and §6.5.7 fix: secret length, ciphertext length,
// MAC length, and that protocol 1 MACs are the truncated HMAC.
func TestBothSidesAgree(t *testing.T) {
	for _, tc := range []struct {
		p                 Protocol
		secretLen, macLen int
		overhead          int
	}{
		{One{}, 32, 16, 0},
		{Two{}, 64, 32, 16},
	} {
		dev, _ := ecdh.P256().GenerateKey(rand.Reader)
		host, _ := ecdh.P256().GenerateKey(rand.Reader)
		s1, err := SharedSecret(tc.p, dev, EncodeKey(host.PublicKey()))
		if err != nil {
			t.Fatal(err)
		}
		s2, err := SharedSecret(tc.p, host, EncodeKey(dev.PublicKey()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s1, s2) || len(s1) != tc.secretLen {
			t.Fatalf("protocol %d: secrets differ or have %d bytes", tc.p.Version(), len(s1))
		}
		pin, _ := PadPIN([]byte("4711"))
		ct, err := tc.p.Encrypt(s1, pin)
		if err != nil || len(ct) != 64+tc.overhead {
			t.Fatalf("protocol %d: ciphertext %d bytes, %v", tc.p.Version(), len(ct), err)
		}
		pt, err := tc.p.Decrypt(s2, ct)
		if err != nil || !bytes.Equal(pt, pin) {
			t.Fatalf("protocol %d: round trip: %v", tc.p.Version(), err)
		}
		tag := tc.p.Authenticate(s1, ct)
		if len(tag) != tc.macLen || !tc.p.Verify(s2, ct, tag) {
			t.Fatalf("protocol %d: MAC of %d bytes does not verify", tc.p.Version(), len(tag))
		}
		tag[0] ^= 1
		if tc.p.Verify(s2, ct, tag) {
			t.Fatalf("protocol %d: altered MAC verifies", tc.p.Version())
		}
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	m := hmac.New(sha256.New, key)
	m.Write([]byte("msg"))
	if !bytes.Equal((One{}).Authenticate(key, []byte("msg")), m.Sum(nil)[:16]) {
		t.Fatal("protocol 1 MAC is not the first 16 bytes of HMAC-SHA-256")
	}
}

func TestRejectsBadInput(t *testing.T) {
	dev, _ := ecdh.P256().GenerateKey(rand.Reader)
	for name, raw := range map[string][]byte{
		"not cbor":    {0xff},
		"empty map":   {0xa0},
		"short coord": {0xa5, 0x01, 0x02, 0x03, 0x38, 0x18, 0x20, 0x01, 0x21, 0x41, 0x00, 0x22, 0x41, 0x00},
	} {
		if _, err := SharedSecret(Two{}, dev, raw); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A point that is not on the curve.
	bad := EncodeKey(dev.PublicKey())
	bad[len(bad)-1] ^= 1
	if _, err := DecodeKey(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("off-curve point: %v", err)
	}
	if _, err := (Two{}).Decrypt(make([]byte, 64), make([]byte, 8)); !errors.Is(err, ErrInvalid) {
		t.Errorf("short ciphertext: %v", err)
	}
	if _, err := (One{}).Encrypt(make([]byte, 32), make([]byte, 15)); !errors.Is(err, ErrInvalid) {
		t.Errorf("partial block: %v", err)
	}
	if _, err := PadPIN(make([]byte, 64)); !errors.Is(err, ErrInvalid) {
		t.Errorf("64-byte PIN: %v", err)
	}
}
