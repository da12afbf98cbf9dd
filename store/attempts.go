package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// DefaultAttemptHorizon is how long failed attempts are kept: the longest
// sliding window the engine may ask about.
const DefaultAttemptHorizon = 24 * time.Hour

// FailedAttempt is one failed sign-in. Any of UserID, CredentialID and
// Terminal may be empty when unknown (a key that holds no credential of
// ours has no user).
type FailedAttempt struct {
	At           time.Time
	UserID       []byte
	CredentialID []byte
	Terminal     string
	Reason       kiosk.Kind
	Detail       map[string]string
}

// AttemptCounts are failures within a window, per subject. A subject that
// was not given counts 0.
type AttemptCounts struct {
	User       int
	Credential int
	Terminal   int
}

// subject is one counter: a sub-bucket of attempts and the key inside it.
type subject struct {
	kind []byte
	id   []byte
}

func subjects(userID, credID []byte, terminal string) []subject {
	var s []subject
	if len(userID) > 0 {
		s = append(s, subject{bucketAttemptsUser, userID})
	}
	if len(credID) > 0 {
		s = append(s, subject{bucketAttemptsCredential, credID})
	}
	if terminal != "" {
		s = append(s, subject{bucketAttemptsTerminal, []byte(terminal)})
	}
	return s
}

func (c *AttemptCounts) set(kind []byte, n int) {
	switch {
	case bytes.Equal(kind, bucketAttemptsUser):
		c.User = n
	case bytes.Equal(kind, bucketAttemptsCredential):
		c.Credential = n
	case bytes.Equal(kind, bucketAttemptsTerminal):
		c.Terminal = n
	}
}

// attemptKey orders attempts by time; the sequence part keeps two failures
// in the same nanosecond apart.
func attemptKey(at time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func (db *DB) checkWindow(op string, window time.Duration) error {
	if window <= 0 || window > db.horizon {
		return kiosk.Errorf(kiosk.KindMalformed, op, "window %s outside (0, %s]", window, db.horizon)
	}
	return nil
}

// RecordFailedAttempt stores a failed sign-in under its user, credential and
// terminal, drops that subject's attempts older than the horizon, appends an
// kiosk.EventSignInFailed audit entry, and returns the failures within window
// (this one included), all in one transaction. The engine derives backoff
// from the user and credential counts and raises kiosk.EventFailureSpike from the
// terminal count.
func (db *DB) RecordFailedAttempt(a FailedAttempt, window time.Duration) (AttemptCounts, uint64, error) {
	const op = "record failed attempt"
	var counts AttemptCounts
	if err := db.checkWindow(op, window); err != nil {
		return counts, 0, err
	}
	at := db.at(a.At)
	var seq uint64
	err := db.update(op, func(tx *bolt.Tx) error {
		root, err := bucket(tx, bucketAttempts)
		if err != nil {
			return err
		}
		reason := binary.BigEndian.AppendUint16(nil, uint16(a.Reason))
		for _, s := range subjects(a.UserID, a.CredentialID, a.Terminal) {
			kb := root.Bucket(s.kind)
			if kb == nil {
				return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "bucket attempts/%s missing", s.kind)
			}
			b, err := kb.CreateBucketIfNotExists(s.id)
			if err != nil {
				return err
			}
			n, _ := b.NextSequence()
			if err := put(b, attemptKey(at, n), reason); err != nil {
				return err
			}
			if err := dropBefore(b, at.Add(-db.horizon)); err != nil {
				return err
			}
			counts.set(s.kind, countSince(b, at.Add(-window)))
		}
		ev := AuditEvent{
			Time: at, Type: kiosk.EventSignInFailed, Terminal: a.Terminal, UserID: a.UserID,
			CredentialID: a.CredentialID, Reason: a.Reason, Detail: a.Detail,
		}
		seq, err = appendAudit(tx, &ev)
		return err
	})
	return counts, seq, err
}

// AttemptCounts returns the failures within window before at.
func (db *DB) AttemptCounts(at time.Time, window time.Duration, userID, credID []byte, terminal string) (AttemptCounts, error) {
	const op = "count failed attempts"
	var counts AttemptCounts
	if err := db.checkWindow(op, window); err != nil {
		return counts, err
	}
	at = db.at(at)
	err := db.view(op, func(tx *bolt.Tx) error {
		root, err := bucket(tx, bucketAttempts)
		if err != nil {
			return err
		}
		for _, s := range subjects(userID, credID, terminal) {
			if b := subBucket(root, s); b != nil {
				counts.set(s.kind, countSince(b, at.Add(-window)))
			}
		}
		return nil
	})
	return counts, err
}

// ClearAttempts forgets a user's and a credential's failures, as after a
// successful sign-in. Terminal counts are kept: they feed spike detection,
// which one person's success must not reset.
func (db *DB) ClearAttempts(userID, credID []byte) error {
	return db.update("clear failed attempts", func(tx *bolt.Tx) error {
		root, err := bucket(tx, bucketAttempts)
		if err != nil {
			return err
		}
		for _, s := range subjects(userID, credID, "") {
			if subBucket(root, s) != nil {
				if err := root.Bucket(s.kind).DeleteBucket(s.id); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// PruneAttempts drops every attempt older than the horizon before now and
// the subjects left without any.
func (db *DB) PruneAttempts(now time.Time) error {
	cut := db.at(now).Add(-db.horizon)
	return db.update("prune failed attempts", func(tx *bolt.Tx) error {
		root, err := bucket(tx, bucketAttempts)
		if err != nil {
			return err
		}
		for _, kind := range [][]byte{bucketAttemptsUser, bucketAttemptsCredential, bucketAttemptsTerminal} {
			kb := root.Bucket(kind)
			if kb == nil {
				return fmt.Errorf("bucket attempts/%s missing", kind)
			}
			// Collect first: bbolt does not promise a stable iteration
			// while the buckets being walked are changed.
			var ids, empty [][]byte
			if err := kb.ForEachBucket(func(id []byte) error {
				ids = append(ids, clone(id))
				return nil
			}); err != nil {
				return err
			}
			for _, id := range ids {
				b := kb.Bucket(id)
				if err := dropBefore(b, cut); err != nil {
					return err
				}
				if k, _ := b.Cursor().First(); k == nil {
					empty = append(empty, id)
				}
			}
			for _, id := range empty {
				if err := kb.DeleteBucket(id); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func subBucket(root *bolt.Bucket, s subject) *bolt.Bucket {
	kb := root.Bucket(s.kind)
	if kb == nil {
		return nil
	}
	return kb.Bucket(s.id)
}

func dropBefore(b *bolt.Bucket, cut time.Time) error {
	c := b.Cursor()
	limit := attemptKey(cut, 0)
	for k, _ := c.First(); k != nil && bytes.Compare(k, limit) < 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func countSince(b *bolt.Bucket, since time.Time) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(attemptKey(since, 0)); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}
