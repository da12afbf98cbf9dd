package cbor

import (
	"bytes"
	"strings"
	"testing"
)

func TestStrictDecodingRejects(t *testing.T) {
	deep := bytes.Repeat([]byte{0x81}, MaxNesting+1)
	deep = append(deep, 0x00)
	cases := map[string][]byte{
		"duplicate map key":   {0xa2, 0x01, 0x02, 0x01, 0x03},
		"indefinite array":    {0x9f, 0x01, 0xff},
		"indefinite bytes":    {0x5f, 0x41, 0x00, 0xff},
		"tag":                 {0xc1, 0x1a, 0x00, 0x00, 0x00, 0x01},
		"nesting too deep":    deep,
		"trailing byte":       {0x01, 0x02},
		"truncated":           {0x58, 0x20, 0x00},
		"invalid UTF-8 text":  {0x62, 0xff, 0xfe},
		"huge declared array": {0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00},
	}
	for name, b := range cases {
		var v any
		if err := Unmarshal(b, &v); err == nil {
			t.Errorf("%s: accepted %x", name, b)
		}
	}
}

func TestCanonicalEncodingSortsKeysCTAP2Order(t *testing.T) {
	// CTAP 2.1 §8 key order: major type first, then shorter first, then
	// bytewise: 10, 256, -1, "a", "bb".
	b, err := Marshal(map[any]int{"bb": 1, "a": 2, 10: 3, -1: 4, 256: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0xa5, 0x0a, 0x03, 0x19, 0x01, 0x00, 0x05, 0x20, 0x04, 0x61, 'a', 0x02, 0x62, 'b', 'b', 0x01}
	if !bytes.Equal(b, want) {
		t.Fatalf("got  %x\nwant %x", b, want)
	}
}

func TestUnmarshalFirstReturnsRest(t *testing.T) {
	var n int
	rest, err := UnmarshalFirst([]byte{0x05, 0xa0}, &n)
	if err != nil || n != 5 || !bytes.Equal(rest, []byte{0xa0}) {
		t.Fatalf("n=%d rest=%x err=%v", n, rest, err)
	}
	if _, err := UnmarshalFirst([]byte{0xa2, 0x01, 0x02, 0x01, 0x02, 0x00}, &map[int]int{}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("duplicate key in first item: %v", err)
	}
}

func TestValid(t *testing.T) {
	if err := Valid([]byte{0xa1, 0x01, 0x02}); err != nil {
		t.Fatal(err)
	}
	if Valid([]byte{0xa2, 0x01, 0x02, 0x01, 0x02}) == nil {
		t.Fatal("duplicate keys passed Valid")
	}
}

func TestCanonicalKeysRefusesMapsOutOfOrder(t *testing.T) {
	good, err := Marshal(map[any]any{"bb": 1, "a": []any{map[any]int{2: 0, 1: 0}}, 10: 3, -1: 4, 256: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := CanonicalKeys(good); err != nil {
		t.Fatalf("canonical encoding refused: %v (%x)", err, good)
	}
	for name, b := range map[string][]byte{
		// COSE EC2 key with alg (3) before kty (1).
		"alg before kty": {0xa2, 0x03, 0x26, 0x01, 0x02},
		// -1 (major type 1) before 3 (major type 0).
		"negative before positive": {0xa2, 0x20, 0x01, 0x03, 0x26},
		// 256 before 10: longer encoding first.
		"longer key first": {0xa2, 0x19, 0x01, 0x00, 0x05, 0x0a, 0x03},
		// "b" before "a": bytewise order.
		"text keys reversed": {0xa2, 0x61, 'b', 0x01, 0x61, 'a', 0x02},
		"duplicate keys":     {0xa2, 0x01, 0x02, 0x01, 0x02},
		// The outer map is in order, a nested one is not.
		"nested map": {0xa1, 0x01, 0x81, 0xa2, 0x02, 0x00, 0x01, 0x00},
		"trailing":   {0xa1, 0x01, 0x02, 0x00},
		"cut short":  {0xa2, 0x01, 0x02},
	} {
		if err := CanonicalKeys(b); err == nil {
			t.Errorf("%s: accepted %x", name, b)
		}
	}
}
