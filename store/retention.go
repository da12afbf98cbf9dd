package store

import (
	"encoding/hex"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// Retention says which audit entries Prune may remove: those older than
// MaxAge, and the oldest ones beyond MaxEntries. A zero field is no limit.
// KeepFrom, when not 0, keeps every entry from that sequence number on,
// whatever their age or number: a fleet terminal's entries its fleet has
// not received yet (store/fleet/ship) are not the terminal's to drop.
type Retention struct {
	MaxAge     time.Duration
	MaxEntries int
	KeepFrom   uint64
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
			kept := r.KeepFrom > 0 && e.Seq >= r.KeepFrom
			if kept || !byCount && !byAge {
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
