// Package cbor owns the project's CBOR modes. Everything that decodes bytes
// from an authenticator or from the database goes through Unmarshal here, so
// the rules live in one place:
//
//   - duplicate map keys are rejected,
//   - indefinite-length items are rejected,
//   - tags are rejected,
//   - nesting is bounded, and so are array and map sizes,
//
// and everything the project encodes is in canonical CTAP2 form (CTAP 2.1
// §8 "Message Encoding": shortest integer forms, definite lengths, map keys
// sorted by major type, then shorter first, then bytewise).
package cbor

import (
	"bytes"
	"fmt"

	fx "github.com/fxamacker/cbor/v2"
)

// Limits on decoded structure. CTAP messages are small; these bounds keep a
// hostile device from making us allocate or recurse without end.
const (
	MaxNesting  = 16
	MaxElements = 1024
)

// RawMessage is an encoded CBOR value kept undecoded.
type RawMessage = fx.RawMessage

var (
	decMode fx.DecMode
	encMode fx.EncMode
)

func init() {
	var err error
	decMode, err = fx.DecOptions{
		DupMapKey:        fx.DupMapKeyEnforcedAPF,
		IndefLength:      fx.IndefLengthForbidden,
		TagsMd:           fx.TagsForbidden,
		MaxNestedLevels:  MaxNesting,
		MaxArrayElements: MaxElements,
		MaxMapPairs:      MaxElements,
		IntDec:           fx.IntDecConvertNone,
		DefaultMapType:   nil,
		UTF8:             fx.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("cbor: building decode mode: %v", err))
	}
	opts := fx.CTAP2EncOptions()
	opts.IndefLength = fx.IndefLengthForbidden
	opts.TagsMd = fx.TagsForbidden
	encMode, err = opts.EncMode()
	if err != nil {
		panic(fmt.Sprintf("cbor: building encode mode: %v", err))
	}
}

// Unmarshal decodes data into v under the strict rules. Trailing bytes after
// the single top-level item are an error.
func Unmarshal(data []byte, v any) error {
	return decMode.Unmarshal(data, v)
}

// UnmarshalFirst decodes the first CBOR item in data into v and returns the
// bytes that follow it. Authenticator data carries a COSE key followed by
// extensions with no length prefix, so its parser needs this.
func UnmarshalFirst(data []byte, v any) (rest []byte, err error) {
	return decMode.UnmarshalFirst(data, v)
}

// Marshal encodes v in canonical CTAP2 form.
func Marshal(v any) ([]byte, error) {
	return encMode.Marshal(v)
}

// Valid reports whether data is exactly one well-formed CBOR item that
// passes the strict rules.
func Valid(data []byte) error {
	var v any
	return decMode.Unmarshal(data, &v)
}

// CanonicalKeys reports whether every map in data, a single well-formed
// item, has its keys in CTAP2 canonical order (CTAP 2.1 §8 "Message
// Encoding"): by major type, then shorter encoding first, then bytewise;
// equal keys are refused too. The strict decoder enforces the other rules
// but not this one, and WebAuthn §6.5.1 says a credential public key not
// in that form SHOULD be refused: two encodings of one key would let a
// device make one credential look like two.
func CanonicalKeys(data []byte) error {
	rest, err := canonicalItem(data, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("cbor: %d bytes after the item", len(rest))
	}
	return nil
}

// canonicalItem checks the item at the start of b and returns what
// follows it.
func canonicalItem(b []byte, depth int) ([]byte, error) {
	if depth > MaxNesting {
		return nil, fmt.Errorf("cbor: nested deeper than %d", MaxNesting)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("cbor: item missing")
	}
	major := b[0] >> 5
	if major != 4 && major != 5 {
		var raw RawMessage
		return UnmarshalFirst(b, &raw)
	}
	n, hdr, err := argument(b)
	if err != nil {
		return nil, err
	}
	if n > MaxElements {
		return nil, fmt.Errorf("cbor: %d elements, at most %d", n, MaxElements)
	}
	rest := b[hdr:]
	var prev []byte
	for i := uint64(0); i < n; i++ {
		if major == 5 {
			after, err := canonicalItem(rest, depth+1)
			if err != nil {
				return nil, err
			}
			key := rest[:len(rest)-len(after)]
			if prev != nil && !keyLess(prev, key) {
				return nil, fmt.Errorf("cbor: map key %x follows %x: not in canonical CTAP2 order", key, prev)
			}
			prev, rest = key, after
		}
		if rest, err = canonicalItem(rest, depth+1); err != nil {
			return nil, err
		}
	}
	return rest, nil
}

// argument reads the count of an array or map header: its value and the
// header's length. Indefinite lengths are refused.
func argument(b []byte) (uint64, int, error) {
	ai := b[0] & 0x1f
	var size int
	switch {
	case ai < 24:
		return uint64(ai), 1, nil
	case ai == 24:
		size = 1
	case ai == 25:
		size = 2
	case ai == 26:
		size = 4
	case ai == 27:
		size = 8
	default:
		return 0, 0, fmt.Errorf("cbor: indefinite or reserved length")
	}
	if len(b) < 1+size {
		return 0, 0, fmt.Errorf("cbor: header cut short")
	}
	var n uint64
	for _, c := range b[1 : 1+size] {
		n = n<<8 | uint64(c)
	}
	return n, 1 + size, nil
}

// keyLess orders two encoded keys the CTAP2 canonical way.
func keyLess(a, b []byte) bool {
	if a[0]>>5 != b[0]>>5 {
		return a[0]>>5 < b[0]>>5
	}
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return bytes.Compare(a, b) < 0
}
