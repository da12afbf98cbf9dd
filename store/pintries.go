package store

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// PINTries is one person's wrong PINs in a row on their TPM passkey, as
// the appliance counts them. The TPM's own dictionary-attack counter is one
// for the whole chip; this one is per person, so that one person's typos
// never lock anyone else out, and it is stricter than the chip's.
type PINTries struct {
	// Count is the wrong PINs since the person's last successful sign-in
	// (with any credential) or since IT cleared it.
	Count int
	// Last is when the last of them was typed.
	Last time.Time
}

const pinTriesLen = 16 // count uint64 BE ‖ last unix ns int64 BE

func encodePINTries(t PINTries) []byte {
	b := make([]byte, pinTriesLen)
	binary.BigEndian.PutUint64(b, uint64(t.Count))
	binary.BigEndian.PutUint64(b[8:], uint64(Stamp(t.Last)))
	return b
}

func decodePINTries(op string, k, v []byte) (PINTries, error) {
	body, err := unseal(op, k, v)
	if err != nil {
		return PINTries{}, err
	}
	if len(body) != pinTriesLen {
		return PINTries{}, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "pin-tries/%x is %d bytes, want %d", k, len(body), pinTriesLen)
	}
	n := binary.BigEndian.Uint64(body)
	if n > 1<<31 {
		return PINTries{}, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "pin-tries/%x counts %d", k, n)
	}
	return PINTries{Count: int(n), Last: Unstamp(int64(binary.BigEndian.Uint64(body[8:])))}, nil
}

// PINTriesOf returns a person's wrong TPM PINs in a row (zero when none).
func (db *DB) PINTriesOf(userID []byte) (PINTries, error) {
	const op = "read PIN tries"
	var out PINTries
	err := db.view(op, func(tx *bolt.Tx) (err error) {
		if b := tx.Bucket(bucketPINTries); b != nil {
			if v := b.Get(userID); v != nil {
				out, err = decodePINTries(op, userID, v)
			}
		}
		return err
	})
	return out, err
}

// AddPINFailure counts one more wrong TPM PIN of a person, typed at at
// (the store's clock when zero), and returns the new count. The engine
// audits the failure itself, with the reason; this only keeps the count
// across a restart.
func (db *DB) AddPINFailure(userID []byte, at time.Time) (PINTries, error) {
	const op = "count wrong PIN"
	if len(userID) == 0 {
		return PINTries{}, kiosk.Errorf(kiosk.KindMalformed, op, "no user")
	}
	var out PINTries
	err := db.update(op, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketPINTries)
		if err != nil {
			return err
		}
		if v := b.Get(userID); v != nil {
			if out, err = decodePINTries(op, userID, v); err != nil {
				return err
			}
		}
		out.Count++
		out.Last = db.at(at)
		return put(b, userID, encodePINTries(out))
	})
	return out, err
}

// ClearPINTries forgets a person's wrong TPM PINs: after a successful
// sign-in, or when IT lifts a suspension. It reports whether there were
// any.
func (db *DB) ClearPINTries(userID []byte) (bool, error) {
	var had bool
	err := db.update("clear PIN tries", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPINTries)
		if had = b != nil && b.Get(userID) != nil; had {
			return b.Delete(userID)
		}
		return nil
	})
	return had, err
}

// TPMLockoutAuth returns the sealed lockout authorization the appliance
// keeps for the TPM (opaque to the store; nil when there is none).
func (db *DB) TPMLockoutAuth() ([]byte, error) {
	const op = "read TPM lockout authorization"
	var out []byte
	err := db.view(op, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTPM)
		if b == nil {
			return nil
		}
		if v := b.Get(keyLockoutAuth); v != nil {
			body, err := unseal(op, keyLockoutAuth, v)
			if err != nil {
				return err
			}
			out = clone(body)
		}
		return nil
	})
	return out, err
}

// SetTPMLockoutAuth stores the sealed lockout authorization (the tpm
// package's blobs: useless without this terminal's TPM) and audits it.
func (db *DB) SetTPMLockoutAuth(sealed []byte, terminal string) error {
	const op = "store TPM lockout authorization"
	return db.update(op, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTPM)
		if err != nil {
			return err
		}
		if err := put(b, keyLockoutAuth, sealed); err != nil {
			return err
		}
		_, err = appendAudit(tx, &AuditEvent{Time: db.at(time.Time{}), Type: kiosk.EventTPMLockoutAuthSet, Terminal: terminal})
		return err
	})
}
