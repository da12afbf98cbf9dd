package auditfile

import (
	"time"

	"passkiosk/kiosk"
)

// Wire is one audit entry in canonical CTAP2 CBOR with small integer keys,
// as the store keeps it. Its hash is SHA-256(Prev ‖ CBOR of the entry with
// Hash left out). The keys are stored and hashed: never renumber them; add
// new ones at the end, omitted when empty, so entries written before them
// keep their hashes.
type Wire struct {
	V            uint              `cbor:"0,keyasint"`
	Seq          uint64            `cbor:"1,keyasint"`
	Time         int64             `cbor:"2,keyasint"` // Unix nanoseconds
	Type         kiosk.Event       `cbor:"3,keyasint"`
	Actor        string            `cbor:"4,keyasint,omitempty"`
	Terminal     string            `cbor:"5,keyasint,omitempty"`
	UserID       []byte            `cbor:"6,keyasint,omitempty"`
	CredentialID []byte            `cbor:"7,keyasint,omitempty"`
	SessionID    uint64            `cbor:"8,keyasint,omitempty"`
	Reason       kiosk.Kind        `cbor:"9,keyasint,omitempty"`
	Cause        kiosk.EndCause    `cbor:"10,keyasint,omitempty"`
	Detail       map[string]string `cbor:"11,keyasint,omitempty"`
	Items        []string          `cbor:"12,keyasint,omitempty"`
	Prev         []byte            `cbor:"13,keyasint"`
	Hash         []byte            `cbor:"14,keyasint,omitempty"`
	UserName     string            `cbor:"15,keyasint,omitempty"`
	CredLabel    string            `cbor:"16,keyasint,omitempty"`
}

// When is the entry's time, in UTC.
func (w Wire) When() time.Time {
	if w.Time == 0 {
		return time.Time{}
	}
	return time.Unix(0, w.Time).UTC()
}
