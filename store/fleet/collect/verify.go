package collect

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk/auditfile"
)

// genesis is the hash before a chain's first entry.
var genesis = make([]byte, sha256.Size)

// checked is a shipped entry that passed verify: its record and its
// archive line.
type checked struct {
	wire auditfile.Wire
	line auditfile.Entry
}

// verify checks a shipped value as auditfile.Verify checks an export
// line: the value is canonical CBOR of one entry of version 1 whose
// sequence number is its key's, its hash is SHA-256 of prev ‖ its body
// (auditfile.Body), and prev is the hash of the entry before (nil: the
// entry before is unknown, as for the first entry of a new archive; an
// entry 1 must then follow the genesis).
func verify(seq uint64, value, prev []byte) (checked, string, error) {
	var w auditfile.Wire
	if err := cbor.Unmarshal(value, &w); err != nil {
		return checked{}, "decode", fmt.Errorf("entry %d does not decode: %v", seq, err)
	}
	if again, err := cbor.Marshal(w); err != nil || !bytes.Equal(again, value) {
		return checked{}, "canonical", fmt.Errorf("entry %d is not in canonical form", seq)
	}
	if w.V != 1 {
		return checked{}, "decode", fmt.Errorf("entry %d is of version %d", seq, w.V)
	}
	if w.Seq != seq {
		return checked{}, "moved", fmt.Errorf("the key of entry %d holds entry %d", seq, w.Seq)
	}
	if len(w.Prev) != sha256.Size || len(w.Hash) != sha256.Size {
		return checked{}, "decode", fmt.Errorf("entry %d: prev or hash is not 32 bytes", seq)
	}
	body, err := auditfile.Body(w)
	if err != nil {
		return checked{}, "decode", fmt.Errorf("entry %d: %v", seq, err)
	}
	sum := sha256.New()
	sum.Write(w.Prev)
	sum.Write(body)
	if !bytes.Equal(sum.Sum(nil), w.Hash) {
		return checked{}, "hash", fmt.Errorf("entry %d was modified: its hash does not match", seq)
	}
	if prev == nil && seq == 1 {
		prev = genesis
	}
	if prev != nil && !bytes.Equal(w.Prev, prev) {
		return checked{}, "fork", fmt.Errorf("entry %d does not follow the archived entry %d: its prev hash differs", seq, seq-1)
	}
	return checked{wire: w, line: auditfile.EntryOf(w, body)}, "", nil
}
