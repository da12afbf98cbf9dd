package fido_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"passkiosk/fido"
	"passkiosk/fido/fidotest"
	"passkiosk/kiosk"
)

func attestedAuthData(credIDLen int, ext []byte) []byte {
	a := fidotest.NewAuthenticator(fido.AlgES256)
	ad := fido.AuthData{
		RPIDHash: fido.RPIDHash(rpID), Flags: fido.FlagUP, Counter: 9,
		Attested:   &fido.AttestedCredential{AAGUID: a.AAGUID, CredentialID: bytes.Repeat([]byte{7}, credIDLen), PublicKey: a.PublicKey()},
		Extensions: ext,
	}
	return ad.Marshal()
}

func TestParseAuthDataRoundTrip(t *testing.T) {
	ext := []byte{0xa1, 0x6b, 'c', 'r', 'e', 'd', 'P', 'r', 'o', 't', 'e', 'c', 't', 0x02}
	for _, b := range [][]byte{attestedAuthData(16, nil), attestedAuthData(fido.MaxCredentialIDLen, ext)} {
		ad, err := fido.ParseAuthData(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ad.Marshal(), b) {
			t.Fatal("parse then marshal changed the bytes")
		}
		if ad.Counter != 9 || !ad.Flags.Has(fido.FlagAT) {
			t.Fatalf("parsed %+v", ad)
		}
	}
}

func TestParseAuthDataRejects(t *testing.T) {
	good := attestedAuthData(16, nil)
	plain := (&fido.AuthData{Flags: fido.FlagUP}).Marshal()
	withFlags := func(b []byte, f byte) []byte { c := bytes.Clone(b); c[32] = f; return c }
	longID := bytes.Clone(good)
	binary.BigEndian.PutUint16(longID[37+16:], 1024)
	zeroID := bytes.Clone(good)
	binary.BigEndian.PutUint16(zeroID[37+16:], 0)
	hugeID := bytes.Clone(good)
	binary.BigEndian.PutUint16(hugeID[37+16:], 1000)
	cases := map[string][]byte{
		"empty":                     nil,
		"36 bytes":                  plain[:36],
		"trailing byte":             append(bytes.Clone(plain), 0),
		"trailing after key":        append(bytes.Clone(good), 0),
		"AT flag without data":      withFlags(plain, byte(fido.FlagUP|fido.FlagAT)),
		"ED flag without map":       withFlags(plain, byte(fido.FlagUP|fido.FlagED)),
		"ED flag with a non-map":    append(withFlags(plain, byte(fido.FlagUP|fido.FlagED)), 0x01),
		"BS without BE":             withFlags(plain, byte(fido.FlagUP|fido.FlagBS)),
		"credential id over 1023":   longID,
		"credential id of zero":     zeroID,
		"credential id past end":    hugeID,
		"truncated public key":      good[:len(good)-3],
		"attested data cut short":   good[:37+10],
		"duplicate key in COSE key": append(good[:len(good)-len(fidotest.NewAuthenticator(fido.AlgES256).PublicKey())], 0xa2, 0x01, 0x02, 0x01, 0x02),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			ad, err := fido.ParseAuthData(b)
			if ad != nil || !errors.Is(err, kiosk.ErrMalformed) {
				t.Fatalf("got %v, %v; want malformed", ad, err)
			}
		})
	}
}

// nonCanonicalKeyAuthData is good authenticator data whose credential
// public key lists alg (3) before kty (1): the same key, encoded out of
// the CTAP2 canonical order.
func nonCanonicalKeyAuthData(t testing.TB) []byte {
	good := attestedAuthData(16, nil)
	key := fidotest.NewAuthenticator(fido.AlgES256).PublicKey()
	// a5 01 02 03 26 …: kty EC2, alg ES256, then the curve and points.
	if !bytes.HasPrefix(key, []byte{0xa5, 0x01, 0x02, 0x03, 0x26}) {
		t.Fatalf("test key is not the expected EC2 encoding: %x", key)
	}
	swapped := append([]byte{0xa5, 0x03, 0x26, 0x01, 0x02}, key[5:]...)
	return append(bytes.Clone(good[:len(good)-len(key)]), swapped...)
}

func TestParseAuthDataRefusesNonCanonicalPublicKey(t *testing.T) {
	b := nonCanonicalKeyAuthData(t)
	ad, err := fido.ParseAuthData(b)
	if ad != nil || !errors.Is(err, kiosk.ErrMalformed) || !strings.Contains(err.Error(), "canonical") {
		t.Fatalf("got %v, %v; want malformed for the key order", ad, err)
	}
}

func TestAAGUIDText(t *testing.T) {
	a, err := fido.ParseAAGUID("8446ccb9-ab1d-b374-750b-2367ff6f3a1f")
	if err != nil || a.String() != "8446ccb9-ab1d-b374-750b-2367ff6f3a1f" {
		t.Fatalf("%v %v", a, err)
	}
	if _, err := fido.ParseAAGUID("8446ccb9"); !errors.Is(err, kiosk.ErrMalformed) {
		t.Fatalf("short AAGUID: %v", err)
	}
}
