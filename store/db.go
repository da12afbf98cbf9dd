package store

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"

	"passkiosk/kiosk"
)

// DefaultLockTimeout is how long Open waits for another process to let go of
// the file. bbolt waits forever without a timeout.
const DefaultLockTimeout = 2 * time.Second

// Options tune Open. The zero value is what the appliance uses.
type Options struct {
	// LockTimeout bounds the wait for the file lock; 0 means
	// DefaultLockTimeout. A negative value is refused.
	LockTimeout time.Duration

	// Now is the store's clock, used only where a caller passes a zero
	// time. Nil means time.Now.
	Now func() time.Time

	// SkipCheck skips the full read of the file at open. Only for tools
	// that open very large files and check them some other way.
	SkipCheck bool

	// AttemptHorizon is how long failed-attempt records are kept for the
	// sliding windows; 0 means DefaultAttemptHorizon.
	AttemptHorizon time.Duration
}

// DB is an open store. Its methods are safe for concurrent use: bbolt
// serialises writers and lets readers run beside them.
type DB struct {
	bolt    *bolt.DB
	path    string
	now     func() time.Time
	horizon time.Duration
}

// Open opens or creates the store at path (mode 0600), checks that every
// page of it reads, and brings its schema up to date in one transaction.
//
// Errors carry a kiosk kind the appliance branches on:
//   - kiosk.KindStoreLocked: another process holds the file; the message
//     names the file.
//   - kiosk.KindStoreCorrupt: the file does not open, is truncated, fails
//     bbolt's consistency check, holds a record that does not decode, or was
//     written by a newer schema.
//
// On either, the appliance must not exit and retry in a loop: it starts in
// its out-of-service state ("call IT") and keeps the file untouched for
// inspection. Open never panics on a damaged file; a panic or memory fault
// inside bbolt is recovered and reported as KindStoreCorrupt.
func Open(path string, opts Options) (db *DB, err error) {
	const op = "open store"
	timeout := opts.LockTimeout
	switch {
	case timeout < 0:
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "negative lock timeout %s", timeout)
	case timeout == 0:
		timeout = DefaultLockTimeout
	}
	db = &DB{path: path, now: opts.Now, horizon: opts.AttemptHorizon}
	if db.now == nil {
		db.now = time.Now
	}
	if db.horizon <= 0 {
		db.horizon = DefaultAttemptHorizon
	}

	err = guard(op, path, func() error {
		b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
		if err != nil {
			return classifyOpen(path, timeout, err)
		}
		db.bolt = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	// bbolt creates the file with 0600 but keeps the mode of an existing
	// file; records name people and their keys, so tighten it.
	if err := os.Chmod(path, 0o600); err != nil {
		db.bolt.Close()
		return nil, kiosk.E(kiosk.KindStoreCorrupt, op, err)
	}
	if !opts.SkipCheck {
		if err := db.check(); err != nil {
			db.bolt.Close()
			return nil, err
		}
	}
	if err := db.migrate(migrations); err != nil {
		db.bolt.Close()
		return nil, err
	}
	return db, nil
}

func classifyOpen(path string, timeout time.Duration, err error) error {
	const op = "open store"
	if errors.Is(err, bolterr.ErrTimeout) {
		return kiosk.Errorf(kiosk.KindStoreLocked, op, "%s is held by another process (waited %s for its lock)", path, timeout)
	}
	return kiosk.E(kiosk.KindStoreCorrupt, op, fmt.Errorf("%s: %w", path, err))
}

// Close releases the file and its lock.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return kiosk.E(kiosk.KindStoreCorrupt, "close store", err)
	}
	return nil
}

// Path is the file the store lives in.
func (db *DB) Path() string { return db.path }

// check proves the file reads: it is at least as long as bbolt's high-water
// mark (a shorter file faults on access), every bucket, key and value can be
// walked, and bbolt's own consistency check finds nothing.
func (db *DB) check() error {
	const op = "check store"
	return db.view(op, func(tx *bolt.Tx) error {
		fi, err := os.Stat(db.path)
		if err != nil {
			return kiosk.E(kiosk.KindStoreCorrupt, op, err)
		}
		if fi.Size() < tx.Size() {
			return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "%s is truncated: %d bytes on disk, %d in use", db.path, fi.Size(), tx.Size())
		}
		// The walk runs on this goroutine under guard, so a fault on a bad
		// page is recovered here rather than inside bbolt's checker
		// goroutine, which can recover panics but not faults.
		if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
			return kiosk.E(kiosk.KindStoreCorrupt, op, err)
		}
		for err := range tx.Check() {
			return kiosk.E(kiosk.KindStoreCorrupt, op, fmt.Errorf("%s: %w", db.path, err))
		}
		return nil
	})
}

func walk(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				return walk(sub)
			}
		}
		return nil
	})
}

// view and update run fn in a transaction with panics and memory faults
// recovered into KindStoreCorrupt errors: bbolt panics on some damaged pages
// and a damaged mapping can fault, and the appliance must answer with an
// error, never a crash.
func (db *DB) view(op string, fn func(*bolt.Tx) error) error {
	return guard(op, db.path, func() error { return db.bolt.View(fn) })
}

func (db *DB) update(op string, fn func(*bolt.Tx) error) error {
	return guard(op, db.path, func() error { return db.bolt.Update(fn) })
}

func guard(op, path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = kiosk.Errorf(kiosk.KindStoreCorrupt, op, "%s: damaged file: %v", path, r)
		}
	}()
	err = fn()
	var ke *kiosk.Error
	if err != nil && !errors.As(err, &ke) {
		err = kiosk.E(kiosk.KindStoreCorrupt, op, err)
	}
	return err
}

// at returns t, or the store's clock when t is zero.
func (db *DB) at(t time.Time) time.Time {
	if t.IsZero() {
		return db.now().UTC()
	}
	return t.UTC()
}

// bucket returns a top-level bucket or a corrupt-store error: migrations
// create every bucket, so a missing one means the file was damaged.
func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, "open bucket", "bucket %q missing", name)
	}
	return b, nil
}
