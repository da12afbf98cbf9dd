package fido_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
	"passkiosk/fido/fidotest"
	"passkiosk/kiosk"
)

func TestCOSEKeysRoundTripAndVerify(t *testing.T) {
	for _, alg := range fido.DefaultAlgs {
		a := fidotest.NewAuthenticator(alg)
		k, err := fido.ParsePublicKey(a.PublicKey())
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if k.Alg() != alg || !bytes.Equal(k.Bytes(), a.PublicKey()) {
			t.Fatalf("%s: round trip differs", alg)
		}
		msg := []byte("authData and clientDataHash")
		if err := k.Verify(msg, a.Sign(msg)); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if err := k.Verify(append(msg, '!'), a.Sign(msg)); !errors.Is(err, kiosk.ErrBadSignature) {
			t.Fatalf("%s: wrong message verified: %v", alg, err)
		}
	}
}

func TestCOSEKeysRejected(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := fido.NewPublicKey(&p384.PublicKey); !errors.Is(err, kiosk.ErrAlgorithm) {
		t.Fatalf("P-384: %v", err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := fido.NewPublicKey(&small.PublicKey); !errors.Is(err, kiosk.ErrAlgorithm) {
		t.Fatalf("RSA-1024: %v", err)
	}
	enc := func(m map[int]any) []byte { b, _ := cbor.Marshal(m); return b }
	x := bytes.Repeat([]byte{1}, 32)
	cases := map[string]struct {
		key  []byte
		want *kiosk.Error
	}{
		"not CBOR":        {[]byte{0xff}, kiosk.ErrMalformed},
		"point off curve": {enc(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: x}), kiosk.ErrMalformed},
		"short x":         {enc(map[int]any{1: 2, 3: -7, -1: 1, -2: x[:31], -3: x}), kiosk.ErrMalformed},
		"P-384 curve id":  {enc(map[int]any{1: 2, 3: -7, -1: 2, -2: x, -3: x}), kiosk.ErrAlgorithm},
		"ES384":           {enc(map[int]any{1: 2, 3: -35, -1: 1, -2: x, -3: x}), kiosk.ErrAlgorithm},
		"kty/alg mix":     {enc(map[int]any{1: 1, 3: -7, -1: 6, -2: x}), kiosk.ErrAlgorithm},
		"X25519 as OKP":   {enc(map[int]any{1: 1, 3: -8, -1: 4, -2: x}), kiosk.ErrAlgorithm},
		"RSA even e":      {enc(map[int]any{1: 3, 3: -257, -1: bytes.Repeat([]byte{0xff}, 256), -2: []byte{4}}), kiosk.ErrMalformed},
		"RSA 1024":        {enc(map[int]any{1: 3, 3: -257, -1: bytes.Repeat([]byte{0xff}, 128), -2: []byte{1, 0, 1}}), kiosk.ErrAlgorithm},
	}
	for name, tc := range cases {
		if k, err := fido.ParsePublicKey(tc.key); k != nil || !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", name, k, err, tc.want.Kind)
		}
	}
}
