package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
)

// Limits on one audit event, so a caller cannot make an entry that the
// strict decoder (passkiosk/fido/cbor: at most 1024 elements per container)
// would later refuse, or one that bloats the log.
const (
	MaxEventItems  = 256
	MaxEventDetail = 64
	MaxEventBytes  = 32 << 10
)

// AuditEvent is one entry of the append-only audit log. The store sets Seq,
// Prev and Hash; everything else is the caller's.
type AuditEvent struct {
	Seq          uint64
	Time         time.Time
	Type         kiosk.Event
	Actor        string
	Terminal     string
	UserID       []byte
	CredentialID []byte
	SessionID    uint64
	Reason       kiosk.Kind     // why a sign-in failed or a lockout happened
	Cause        kiosk.EndCause // why a session ended
	Detail       map[string]string
	Items        []string // what a wipe removed, and similar lists
	Prev         []byte   // hash of the entry before (or of the anchor)
	Hash         []byte   // SHA-256(Prev ‖ canonical CBOR of this entry without Hash)
	// UserName and CredentialLabel are the person's sign-in name and the
	// credential's CredentialLabel when the entry was written, so the log
	// reads on its own after either is removed. Entries written before
	// they existed have neither.
	UserName        string
	CredentialLabel string
}

// auditWire is the entry's stored CBOR: auditfile.Wire, the one layout
// the store writes and the export checker reads.
type auditWire auditfile.Wire

func (w auditWire) version() uint { return w.V }

func (w auditWire) record() (*AuditEvent, error) {
	if len(w.Prev) != sha256.Size {
		return nil, fmt.Errorf("prev hash of %d bytes", len(w.Prev))
	}
	if len(w.Hash) != sha256.Size {
		return nil, fmt.Errorf("hash of %d bytes", len(w.Hash))
	}
	return &AuditEvent{
		Seq: w.Seq, Time: Unstamp(w.Time), Type: w.Type, Actor: w.Actor, Terminal: w.Terminal,
		UserID: w.UserID, CredentialID: w.CredentialID, SessionID: w.SessionID,
		Reason: w.Reason, Cause: w.Cause, Detail: w.Detail, Items: w.Items,
		Prev: w.Prev, Hash: w.Hash, UserName: w.UserName, CredentialLabel: w.CredLabel,
	}, nil
}

func (e *AuditEvent) wire() auditWire {
	return auditWire{
		V: recordVersion, Seq: e.Seq, Time: Stamp(e.Time), Type: e.Type, Actor: e.Actor,
		Terminal: e.Terminal, UserID: e.UserID, CredentialID: e.CredentialID,
		SessionID: e.SessionID, Reason: e.Reason, Cause: e.Cause, Detail: e.Detail,
		Items: e.Items, Prev: e.Prev, Hash: e.Hash, UserName: e.UserName, CredLabel: e.CredentialLabel,
	}
}

func encodeAudit(e *AuditEvent) ([]byte, error) { return encodeWire("encode audit event", e.wire()) }

func decodeAudit(k, b []byte) (*AuditEvent, error) {
	return decodeRecord[AuditEvent, auditWire]("decode audit event", k, b, encodeAudit)
}

// chainHash computes an entry's hash: SHA-256 over the previous hash followed
// by the canonical CBOR of the entry with its own hash left out.
func chainHash(e *AuditEvent) ([]byte, error) {
	body, err := hashedBody(e)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(e.Prev)
	h.Write(body)
	return h.Sum(nil), nil
}

// chainPoint is a position in the chain: meta/audit-head is the newest
// entry, meta/audit-anchor the newest pruned one. Without an anchor the
// chain starts at the genesis point (sequence 0, 32 zero bytes).
type chainPoint struct {
	Seq  uint64 `cbor:"1,keyasint"`
	Hash []byte `cbor:"2,keyasint"`
}

var genesis = chainPoint{Seq: 0, Hash: make([]byte, sha256.Size)}

func readPoint(meta *bolt.Bucket, key []byte) (chainPoint, bool, error) {
	v := meta.Get(key)
	if v == nil {
		return genesis, false, nil
	}
	var p chainPoint
	body, err := unseal("read audit chain", key, v)
	if err != nil {
		return genesis, true, err
	}
	if err := unmarshalStrict(body, &p); err != nil || len(p.Hash) != sha256.Size {
		return genesis, true, kiosk.Errorf(kiosk.KindStoreCorrupt, "read audit chain", "meta/%s does not decode: %v", key, err)
	}
	return p, true, nil
}

func writePoint(meta *bolt.Bucket, key []byte, p chainPoint) error {
	v, err := encodeWire("write audit chain", p)
	if err != nil {
		return err
	}
	return put(meta, key, v)
}

// chainEnds reads the anchor and the head; with no head the chain is empty
// and the head is the anchor.
func chainEnds(tx *bolt.Tx) (anchor, head chainPoint, err error) {
	meta, err := bucket(tx, bucketMeta)
	if err != nil {
		return anchor, head, err
	}
	if anchor, _, err = readPoint(meta, keyAuditAnchor); err != nil {
		return anchor, head, err
	}
	head, ok, err := readPoint(meta, keyAuditHead)
	if !ok {
		head = anchor
	}
	return anchor, head, err
}

func validEvent(e *AuditEvent) error {
	if !e.Type.Known() {
		return fmt.Errorf("unknown event type %d", e.Type)
	}
	if e.Time.IsZero() {
		return fmt.Errorf("event without time")
	}
	if len(e.Items) > MaxEventItems {
		return fmt.Errorf("%d items, at most %d: summarise", len(e.Items), MaxEventItems)
	}
	if len(e.Detail) > MaxEventDetail {
		return fmt.Errorf("%d detail entries, at most %d", len(e.Detail), MaxEventDetail)
	}
	return nil
}

// appendAudit chains e onto the log inside tx and returns its sequence
// number. Every mutating method calls it in its own transaction, so a change
// and its audit entry commit together or not at all.
func appendAudit(tx *bolt.Tx, e *AuditEvent) (uint64, error) {
	const op = "append audit event"
	if err := validEvent(e); err != nil {
		return 0, kiosk.E(kiosk.KindMalformed, op, err)
	}
	log, err := bucket(tx, bucketAudit)
	if err != nil {
		return 0, err
	}
	_, head, err := chainEnds(tx)
	if err != nil {
		return 0, err
	}
	nameEntry(tx, e)
	e.Seq, e.Prev, e.Hash = head.Seq+1, head.Hash, nil
	if e.Hash, err = chainHash(e); err != nil {
		return 0, err
	}
	v, err := encodeAudit(e)
	if err != nil {
		return 0, err
	}
	if len(v) > MaxEventBytes {
		return 0, kiosk.Errorf(kiosk.KindMalformed, op, "event of %d bytes, at most %d", len(v), MaxEventBytes)
	}
	if err := put(log, u64(e.Seq), v); err != nil {
		return 0, err
	}
	return e.Seq, writePoint(tx.Bucket(bucketMeta), keyAuditHead, chainPoint{Seq: e.Seq, Hash: e.Hash})
}

// Append adds an event the engine or the session manager observed (a
// lockout, a session's end, a wipe, a failure spike) and returns its
// sequence number. A zero Time means the store's clock.
func (db *DB) Append(e AuditEvent) (uint64, error) {
	e.Time = db.at(e.Time)
	var seq uint64
	err := db.update("append audit event", func(tx *bolt.Tx) (err error) {
		seq, err = appendAudit(tx, &e)
		return err
	})
	return seq, err
}

// Events returns up to limit entries starting at sequence number from, in
// order. Entries before the anchor have been pruned.
func (db *DB) Events(from uint64, limit int) ([]AuditEvent, error) {
	var out []AuditEvent
	err := db.view("read audit log", func(tx *bolt.Tx) error {
		log, err := bucket(tx, bucketAudit)
		if err != nil {
			return err
		}
		c := log.Cursor()
		for k, v := c.Seek(u64(from)); k != nil && len(out) < limit; k, v = c.Next() {
			e, err := decodeAudit(k, v)
			if err != nil {
				return err
			}
			out = append(out, *e)
		}
		return nil
	})
	return out, err
}

// RecentEvents returns the entries stamped at or after since, oldest first,
// at most limit of them (the newest). It reads backwards from the head and
// stops at the first older entry, so it costs what it returns, however
// long the log.
func (db *DB) RecentEvents(since time.Time, limit int) ([]AuditEvent, error) {
	var out []AuditEvent
	err := db.view("read recent audit entries", func(tx *bolt.Tx) error {
		log, err := bucket(tx, bucketAudit)
		if err != nil {
			return err
		}
		c := log.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			e, err := decodeAudit(k, v)
			if err != nil {
				return err
			}
			if e.Time.Before(since) {
				break
			}
			out = append(out, *e)
		}
		return nil
	})
	slices.Reverse(out)
	return out, err
}

// AuditHead returns the newest entry's sequence number and hash as
// meta/audit-head names them (for an empty or fully pruned log, the
// anchor's). It reads one key and verifies nothing, so it costs the same
// however long the log: Open verified the whole chain, and every append
// since moved the head in the transaction that wrote the entry. Whether the
// entries still match the head is VerifyChain's question.
func (db *DB) AuditHead() (seq uint64, hash []byte, err error) {
	err = db.view("read audit head", func(tx *bolt.Tx) error {
		_, head, err := chainEnds(tx)
		seq, hash = head.Seq, clone(head.Hash)
		return err
	})
	return seq, hash, err
}

// ChainState describes a verified chain.
type ChainState struct {
	Anchor  uint64 // sequence number of the newest pruned entry (0: none)
	Head    uint64 // sequence number of the newest entry
	Entries int
	Hash    []byte // the head's hash
}

// VerifyChain walks the whole log from the anchor and recomputes every hash.
// It fails with kiosk.KindStoreCorrupt, naming the first bad sequence
// number, when an entry was modified (its hash no longer matches), deleted
// (a gap in the sequence, or the head points past the last entry), or moved
// (an entry's own sequence number differs from its key, or its Prev is not
// the hash before it).
func (db *DB) VerifyChain() (ChainState, error) {
	var st ChainState
	err := db.view("verify audit chain", func(tx *bolt.Tx) error {
		anchor, head, err := chainEnds(tx)
		if err != nil {
			return err
		}
		log, err := bucket(tx, bucketAudit)
		if err != nil {
			return err
		}
		prev := anchor
		c := log.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			h, err := verifyEntry(k, v, prev)
			if err != nil {
				return err
			}
			prev = chainPoint{Seq: prev.Seq + 1, Hash: h}
			st.Entries++
		}
		if prev.Seq != head.Seq || !bytes.Equal(prev.Hash, head.Hash) {
			return kiosk.Errorf(kiosk.KindStoreCorrupt, "verify audit chain", "log ends at entry %d but its head is entry %d: entries after %d are missing", prev.Seq, head.Seq, prev.Seq)
		}
		st = ChainState{Anchor: anchor.Seq, Head: head.Seq, Entries: st.Entries, Hash: head.Hash}
		return nil
	})
	return st, err
}

// verifyEntry checks the entry stored under key k against the point before
// it and returns the entry's hash.
func verifyEntry(k, v []byte, prev chainPoint) ([]byte, error) {
	const op = "verify audit chain"
	want := prev.Seq + 1
	seq, ok := fromU64(k)
	switch {
	case !ok:
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "key %x is not a sequence number", k)
	case seq != want:
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "entry %d missing: next stored entry is %d", want, seq)
	}
	e, err := decodeAudit(k, v)
	if err != nil {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "entry %d: %v", want, err)
	}
	if e.Seq != seq {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "entry %d holds entry %d: moved", seq, e.Seq)
	}
	if !bytes.Equal(e.Prev, prev.Hash) {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "entry %d does not follow entry %d", seq, prev.Seq)
	}
	h, err := chainHash(e)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(h, e.Hash) {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "entry %d was modified: hash does not match", seq)
	}
	return e.Hash, nil
}
