package store

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// Retention says which audit entries Prune may remove: those older than
// MaxAge, and the oldest ones beyond MaxEntries. A zero field is no limit.
type Retention struct {
	MaxAge     time.Duration
	MaxEntries int
}

// Prune removes old audit entries and keeps the chain verifiable: the hash
// and sequence number of the newest removed entry become meta/audit-anchor,
// and VerifyChain starts from there. The removed span is verified first, so
// pruning cannot hide an entry that was tampered with, and the prune itself
// is audited (kiosk.EventAuditPruned, with the anchor in its detail). It returns
// how many entries went.
func (db *DB) Prune(r Retention, now time.Time) (int, error) {
	const op = "prune audit log"
	if r.MaxAge < 0 || r.MaxEntries < 0 {
		return 0, kiosk.Errorf(kiosk.KindMalformed, op, "negative retention %+v", r)
	}
	now = db.at(now)
	removed := 0
	err := db.update(op, func(tx *bolt.Tx) error {
		anchor, head, err := chainEnds(tx)
		if err != nil {
			return err
		}
		log, _ := bucket(tx, bucketAudit)
		live := int(head.Seq - anchor.Seq)
		prev := anchor
		c := log.Cursor()
		for k, v := c.First(); k != nil; k, v = c.First() {
			byCount := r.MaxEntries > 0 && live-removed > r.MaxEntries
			e, err := decodeAudit(k, v)
			if err != nil {
				return err
			}
			byAge := r.MaxAge > 0 && now.Sub(e.Time) > r.MaxAge
			if !byCount && !byAge {
				break
			}
			h, err := verifyEntry(k, v, prev)
			if err != nil {
				return err
			}
			prev = chainPoint{Seq: prev.Seq + 1, Hash: h}
			if err := c.Delete(); err != nil {
				return err
			}
			removed++
		}
		if removed == 0 {
			return nil
		}
		if err := writePoint(tx.Bucket(bucketMeta), keyAuditAnchor, prev); err != nil {
			return err
		}
		ev := AuditEvent{Time: now, Type: kiosk.EventAuditPruned, Actor: "system", Detail: map[string]string{
			"removed": fmt.Sprint(removed), "anchor-seq": fmt.Sprint(prev.Seq), "anchor-hash": hex.EncodeToString(prev.Hash),
		}}
		_, err = appendAudit(tx, &ev)
		return err
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

// jsonEvent is the export form of an audit event: one JSON object per line,
// IDs in unpadded base64url as WebAuthn writes them, hashes in hex.
type jsonEvent struct {
	Seq          uint64            `json:"seq"`
	Time         string            `json:"time"`
	Type         string            `json:"type"`
	Actor        string            `json:"actor,omitempty"`
	Terminal     string            `json:"terminal,omitempty"`
	UserID       string            `json:"user,omitempty"`
	CredentialID string            `json:"credential,omitempty"`
	SessionID    uint64            `json:"session,omitempty"`
	Reason       string            `json:"reason,omitempty"`
	Cause        string            `json:"cause,omitempty"`
	Detail       map[string]string `json:"detail,omitempty"`
	Items        []string          `json:"items,omitempty"`
	Prev         string            `json:"prev"`
	Hash         string            `json:"hash"`
}

func (e *AuditEvent) jsonForm() jsonEvent {
	j := jsonEvent{
		Seq: e.Seq, Time: e.Time.Format(time.RFC3339Nano), Type: e.Type.String(),
		Actor: e.Actor, Terminal: e.Terminal, SessionID: e.SessionID,
		Detail: e.Detail, Items: e.Items,
		Prev: hex.EncodeToString(e.Prev), Hash: hex.EncodeToString(e.Hash),
	}
	if len(e.UserID) > 0 {
		j.UserID = base64.RawURLEncoding.EncodeToString(e.UserID)
	}
	if len(e.CredentialID) > 0 {
		j.CredentialID = base64.RawURLEncoding.EncodeToString(e.CredentialID)
	}
	if e.Reason != kiosk.KindUnknown {
		j.Reason = e.Reason.String()
	}
	if e.Type == kiosk.EventSessionEnded || e.Cause != kiosk.EndUnknown {
		j.Cause = e.Cause.String()
	}
	return j
}

// exportBatch bounds how many entries one read transaction holds, so a slow
// writer w never keeps a transaction open long (a long reader stalls a
// writer that must grow the file's mapping).
const exportBatch = 512

// ExportJSONL writes every audit entry from sequence number from onwards to
// w as JSON lines, oldest first, and returns how many it wrote. Each line
// carries prev and hash, so the export can be checked on its own.
func (db *DB) ExportJSONL(w io.Writer, from uint64) (int, error) {
	enc := json.NewEncoder(w)
	n := 0
	for {
		batch, err := db.Events(from, exportBatch)
		if err != nil {
			return n, err
		}
		for i := range batch {
			if err := enc.Encode(batch[i].jsonForm()); err != nil {
				return n, kiosk.E(kiosk.KindUnknown, "export audit log", err)
			}
			n++
		}
		if len(batch) < exportBatch {
			return n, nil
		}
		from = batch[len(batch)-1].Seq + 1
	}
}
