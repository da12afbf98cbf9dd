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
