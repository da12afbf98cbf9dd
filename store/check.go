package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// checkTimeout bounds bbolt's consistency check. It runs on its own
// goroutine; if it does not finish, Open gives up with KindStoreCorrupt.
const checkTimeout = 30 * time.Second

// errCheckStuck marks a check that did not finish: the transaction it reads
// must then stay open (see closeAfterCheck).
var errCheckStuck = errors.New("consistency check did not finish")

// check proves the whole file reads before anything trusts it:
//
//  1. the file is at least as long as bbolt's high-water mark (a shorter,
//     truncated file faults when the missing pages are touched);
//  2. a bounded walk over every bucket, key and value on this goroutine,
//     where a fault on a damaged page is recovered (see guard);
//  3. bbolt's own check: every page reachable once, key order, freelist;
//  4. every top-level bucket exists and every record decodes, is canonical
//     and sits under the key it names (a flipped bit in a value or a key
//     shows up here: bbolt keeps no checksums on data pages);
//  5. the audit chain verifies.
func (db *DB) check() error {
	const op = "check store"
	err := db.view(op, func(tx *bolt.Tx) error {
		fi, err := os.Stat(db.path)
		if err != nil {
			return kiosk.E(kiosk.KindStoreCorrupt, op, err)
		}
		if fi.Size() < tx.Size() {
			return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "%s is truncated: %d bytes on disk, %d in use", db.path, fi.Size(), tx.Size())
		}
		// bbolt's checker runs on its own goroutine, where a fault
		// cannot be recovered and a cycle of pages recurses without
		// end. This walk reaches the same pages first, on this
		// goroutine, and stops after more entries than the file could
		// hold (each takes at least a 16-byte element header) or deeper
		// nesting than the schema has.
		budget := tx.Size() / 16
		err = tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b, 1, &budget) })
		if err != nil {
			return kiosk.E(kiosk.KindStoreCorrupt, op, fmt.Errorf("%s: %w", db.path, err))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := db.boltCheck(); err != nil {
		return err
	}
	if err := db.view(op, func(tx *bolt.Tx) error {
		if v, err := schemaOf(tx); v == 0 || err != nil {
			return err // nil for a new file: migrations will build it
		}
		return checkRecords(tx)
	}); err != nil {
		return err
	}
	if v, _ := db.Schema(); v == 0 {
		return nil
	}
	_, err = db.VerifyChain()
	return err
}

// maxNesting is deeper than any bucket the schema has (cred-by-user/id), and
// than the attempts/kind/id of files from before schema 3.
const maxNesting = 4

func walk(b *bolt.Bucket, depth int, budget *int64) error {
	if depth > maxNesting {
		return fmt.Errorf("buckets nested %d deep", depth)
	}
	return b.ForEach(func(k, v []byte) error {
		if *budget--; *budget < 0 {
			return fmt.Errorf("more entries than the file can hold: its pages loop")
		}
		// Iteration and lookup take different paths through the
		// pages (in order versus by binary search on each branch
		// page's keys); a damaged key can break one and not the other.
		// Every key found in order must also be found by lookup.
		if v == nil {
			sub := b.Bucket(k)
			if sub == nil {
				return fmt.Errorf("bucket %x found in order but not by lookup", k)
			}
			return walk(sub, depth+1, budget)
		}
		if got := b.Get(k); !bytes.Equal(got, v) {
			return fmt.Errorf("key %x found in order but not by lookup", k)
		}
		return nil
	})
}

// boltCheck runs bbolt's checker, which reports on a channel from its own
// goroutine, and reads every report so that goroutine ends before its
// transaction does.
func (db *DB) boltCheck() error {
	const op = "check store"
	var tx *bolt.Tx
	if err := guard(op, db.path, func() (err error) { tx, err = db.bolt.Begin(false); return err }); err != nil {
		return err
	}
	var first error
	deadline := time.NewTimer(checkTimeout)
	defer deadline.Stop()
	for ch := tx.Check(); ; {
		select {
		case err, ok := <-ch:
			if !ok {
				tx.Rollback()
				if first != nil {
					return kiosk.E(kiosk.KindStoreCorrupt, op, fmt.Errorf("%s: %w", db.path, first))
				}
				return nil
			}
			if first == nil {
				first = err
			}
		case <-deadline.C:
			return kiosk.E(kiosk.KindStoreCorrupt, op, fmt.Errorf("%s: %w after %s", db.path, errCheckStuck, checkTimeout))
		}
	}
}

// closeAfterCheck closes the file after a failed check, unless bbolt's
// checker is still reading it: unmapping the file under it would crash the
// process. The handle is then left open; the appliance is out of service
// and its next start begins afresh.
func (db *DB) closeAfterCheck(err error) {
	if errors.Is(err, errCheckStuck) {
		return
	}
	db.bolt.Close()
}

// checkRecords proves every top-level bucket exists and every record
// decodes and sits under the key it names (step 4 of check).
func checkRecords(tx *bolt.Tx) error {
	const op = "check records"
	for _, name := range topBuckets {
		if tx.Bucket(name) == nil {
			return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "bucket %q missing", name)
		}
	}
	for _, kb := range keyedBuckets {
		if err := kb.check(tx.Bucket(kb.bucket)); err != nil {
			return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "bucket %s: %v", kb.bucket, err)
		}
	}
	if err := checkTPMBuckets(tx); err != nil {
		return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "%v", err)
	}
	if err := checkMirror(tx); err != nil {
		return kiosk.E(kiosk.KindStoreCorrupt, op, err)
	}
	if idx := tx.Bucket(bucketCredByUser); idx != nil {
		if err := checkCredentialIndex(tx, idx); err != nil {
			return kiosk.E(kiosk.KindStoreCorrupt, op, err)
		}
	}
	return nil
}

// keyedBucket is a top-level bucket whose records know the key they must
// be stored under: key decodes a record and returns that key.
type keyedBucket struct {
	bucket []byte
	key    func(k, v []byte) ([]byte, error)
}

var keyedBuckets = []keyedBucket{
	{bucketUsers, func(k, v []byte) ([]byte, error) {
		u, err := decodeUser(k, v)
		return keyOf(u, err, func(u *User) []byte { return u.ID })
	}},
	{bucketCredentials, func(k, v []byte) ([]byte, error) {
		c, err := decodeCredential(k, v)
		return keyOf(c, err, func(c *Credential) []byte { return c.ID })
	}},
	{bucketPolicy, func(k, v []byte) ([]byte, error) {
		p, err := decodePolicy(k, v)
		return keyOf(p, err, func(p *Policy) []byte { return u64(p.Version) })
	}},
	{bucketEnroll, func(k, v []byte) ([]byte, error) {
		c, err := decodeEnroll(k, v)
		return keyOf(c, err, func(c *EnrollmentCode) []byte { return c.ID })
	}},
	{bucketSessions, func(k, v []byte) ([]byte, error) {
		s, err := decodeSession(k, v)
		return keyOf(s, err, func(s *Session) []byte { return u64(s.ID) })
	}},
}

// check proves every entry of b is a record, not a bucket, that decodes
// and is stored under its own key.
func (kb keyedBucket) check(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return fmt.Errorf("unexpected bucket %x", k)
		}
		want, err := kb.key(k, v)
		if err != nil {
			return fmt.Errorf("key %x: %w", k, err)
		}
		if !bytes.Equal(want, k) {
			return fmt.Errorf("key %x holds the record of %x", k, want)
		}
		return nil
	})
}

func keyOf[R any](r *R, err error, key func(*R) []byte) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return key(r), nil
}

// checkCredentialIndex proves cred-by-user and credentials agree both ways.
func checkCredentialIndex(tx *bolt.Tx, idx *bolt.Bucket) error {
	creds := tx.Bucket(bucketCredentials)
	indexed := 0
	err := idx.ForEach(func(user, v []byte) error {
		ub := idx.Bucket(user)
		if v != nil || ub == nil {
			return fmt.Errorf("cred-by-user/%x is not a bucket", user)
		}
		return ub.ForEach(func(id, iv []byte) error {
			if _, err := unseal("check index", id, iv); err != nil {
				return err
			}
			raw := creds.Get(id)
			if raw == nil {
				return fmt.Errorf("cred-by-user/%x names missing credential %x", user, id)
			}
			c, err := decodeCredential(id, raw)
			if err != nil {
				return err
			}
			if !bytes.Equal(c.UserID, user) {
				return fmt.Errorf("cred-by-user/%x names credential %x of user %x", user, id, c.UserID)
			}
			indexed++
			return nil
		})
	})
	if err != nil {
		return err
	}
	if n := creds.Stats().KeyN; n != indexed {
		return fmt.Errorf("%d credentials, %d indexed", n, indexed)
	}
	return nil
}

// checkTPMBuckets proves every PIN-tries record decodes and the sealed
// lockout authorization is intact (schema 3; absent before).
func checkTPMBuckets(tx *bolt.Tx) error {
	if b := tx.Bucket(bucketPINTries); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			if v == nil {
				return fmt.Errorf("pin-tries/%x is a bucket", k)
			}
			_, err := decodePINTries("check PIN tries", k, v)
			return err
		})
		if err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketTPM); b != nil {
		return b.ForEach(func(k, v []byte) error {
			if v == nil || string(k) != string(keyLockoutAuth) {
				return fmt.Errorf("unexpected tpm/%x", k)
			}
			_, err := unseal("check TPM records", k, v)
			return err
		})
	}
	return nil
}
