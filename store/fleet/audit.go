package fleet

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// A terminal's shipped audit log (doc.go draws the tree; package
// store/fleet/ship writes it and store/fleet/collect reads and empties it):
//
//	term/<name>/audit/<seq, 20 decimal digits> → the entry's CBOR as the
//	                                             store keeps it, Hash included
//	term/<name>/audit-head                     → CBOR AuditHead {0 v, 1 seq, 2 hash}
//	                                             the newest entry shipped
//	term/<name>/audit-fork                     → CBOR AuditFork {0 v, 1 reason, 2 shipped seq,
//	                                             3 shipped hash, 4 local seq, 5 local hash, 6 at}
//	                                             why the terminal stopped shipping; IT deletes
//	                                             it once resolved
//
// Entries are put only if absent, in the transaction that moves the head
// from the value it held; the collector deletes entries once archived,
// never the head, so a terminal always resumes from the head.

// AuditPrefix is where terminal name's shipped entries live.
func AuditPrefix(name string) string { return TerminalPrefix(name) + "audit/" }

// AuditKey names entry seq of terminal name.
func AuditKey(name string, seq uint64) string { return fmt.Sprintf("%s%020d", AuditPrefix(name), seq) }

// AuditHeadKey names terminal name's shipped head.
func AuditHeadKey(name string) string { return TerminalPrefix(name) + "audit-head" }

// TermPrefix is the prefix of every terminal's own keys.
const TermPrefix = termPrefix

// ParseAuditKey splits a key under term/ into the terminal's name and an
// entry's sequence number; ok is false for any other key.
func ParseAuditKey(k string) (name string, seq uint64, ok bool) {
	rest, found := strings.CutPrefix(k, termPrefix)
	if !found {
		return "", 0, false
	}
	name, num, found := strings.Cut(rest, "/audit/")
	if !found || len(num) != 20 || ValidTerminalName(name) != nil {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return name, seq, true
}

// AuditHead is the newest entry a terminal shipped.
type AuditHead struct {
	Seq  uint64
	Hash []byte
}

type auditHeadWire struct {
	V    uint   `cbor:"0,keyasint"`
	Seq  uint64 `cbor:"1,keyasint"`
	Hash []byte `cbor:"2,keyasint"`
}

// EncodeAuditHead is the value under AuditHeadKey. Canonical CBOR: equal
// heads are equal bytes, so a transaction can compare the value.
func EncodeAuditHead(h AuditHead) ([]byte, error) {
	return encode("audit head", auditHeadWire{V: recordVersion, Seq: h.Seq, Hash: h.Hash})
}

// DecodeAuditHead reads a value under AuditHeadKey.
func DecodeAuditHead(b []byte) (AuditHead, error) {
	w, err := decode("audit head", b, func(w *auditHeadWire) uint { return w.V })
	if err != nil {
		return AuditHead{}, err
	}
	if len(w.Hash) != sha256.Size {
		return AuditHead{}, kiosk.Errorf(kiosk.KindMalformed, "decode audit head", "hash of %d bytes", len(w.Hash))
	}
	return AuditHead{Seq: w.Seq, Hash: w.Hash}, nil
}

// AuditForkKey names the fork a terminal's shipper found, if any:
// term/<name>/audit-fork → CBOR AuditFork. The shipper puts it when it
// stops; the collector raises the fleet's alarm from it.
func AuditForkKey(name string) string { return TerminalPrefix(name) + "audit-fork" }

// AuditFork is why a terminal stopped shipping (package ship's doc).
type AuditFork struct {
	Reason      string
	ShippedSeq  uint64
	ShippedHash []byte
	LocalSeq    uint64
	LocalHash   []byte
	At          time.Time
}

type auditForkWire struct {
	V           uint   `cbor:"0,keyasint"`
	Reason      string `cbor:"1,keyasint"`
	ShippedSeq  uint64 `cbor:"2,keyasint"`
	ShippedHash []byte `cbor:"3,keyasint"`
	LocalSeq    uint64 `cbor:"4,keyasint"`
	LocalHash   []byte `cbor:"5,keyasint"`
	At          int64  `cbor:"6,keyasint"`
}

// EncodeAuditFork is the value under AuditForkKey.
func EncodeAuditFork(f AuditFork) ([]byte, error) {
	return encode("audit fork", auditForkWire{V: recordVersion, Reason: f.Reason, ShippedSeq: f.ShippedSeq,
		ShippedHash: f.ShippedHash, LocalSeq: f.LocalSeq, LocalHash: f.LocalHash, At: store.Stamp(f.At)})
}

// DecodeAuditFork reads a value under AuditForkKey.
func DecodeAuditFork(b []byte) (AuditFork, error) {
	w, err := decode("audit fork", b, func(w *auditForkWire) uint { return w.V })
	if err != nil {
		return AuditFork{}, err
	}
	return AuditFork{Reason: w.Reason, ShippedSeq: w.ShippedSeq, ShippedHash: w.ShippedHash, LocalSeq: w.LocalSeq,
		LocalHash: w.LocalHash, At: store.Unstamp(w.At)}, nil
}

// ParseAuditForkKey returns the terminal an audit-fork key is of.
func ParseAuditForkKey(k string) (string, bool) {
	rest, ok := strings.CutPrefix(k, termPrefix)
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, "/audit-fork")
	return name, ok && ValidTerminalName(name) == nil
}
