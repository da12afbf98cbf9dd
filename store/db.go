package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
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

	// IsolateCheck runs Open's full check in a child process (this
	// program, re-executed; its main must call ServeCheck first). The
	// appliance sets it: on some damage bbolt faults, recurses without end
	// or allocates without bound on a goroutine of its own, which no
	// recover can catch, and the appliance must come up out of service
	// rather than crash. A child that dies is reported as KindStoreCorrupt.
	IsolateCheck bool

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
	fwd     atomic.Pointer[forwarder] // OnAudit's, if set
	written atomic.Pointer[chan struct{}]
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
// inspection. A panic or memory fault inside bbolt on this goroutine is
// recovered and reported as KindStoreCorrupt. bbolt's own consistency check
// runs on a goroutine of its own, where neither can be caught: with
// Options.IsolateCheck (what the appliance uses) that check runs in a child
// process instead, so no damage can take the appliance down.
func Open(path string, opts Options) (*DB, error) {
	const op = "open store"
	timeout, err := lockTimeout(opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	fresh, err := isFirstStart(path)
	if err != nil {
		return nil, err
	}
	// With IsolateCheck an existing store is checked in a child process
	// before this one maps it; otherwise it is checked here once open.
	isolated := opts.IsolateCheck && !fresh
	if isolated && !opts.SkipCheck {
		if err := checkInChild(path, timeout); err != nil {
			return nil, err
		}
	}
	// A new store is built under a temporary name and renamed into place
	// once its schema is committed, so a crash during the first start
	// never leaves a half-made file at path.
	file := path
	if fresh {
		file = path + ".new"
	}
	db := newDB(file, opts)
	if err := db.openBolt(timeout); err != nil {
		return nil, err
	}
	if err := db.prepare(!opts.SkipCheck && !isolated); err != nil {
		return nil, err
	}
	if fresh {
		if err := publish(file, path); err != nil {
			db.bolt.Close()
			return nil, kiosk.E(kiosk.KindStoreCorrupt, op, err)
		}
		db.path = path
	}
	return db, nil
}

// lockTimeout is the wait for the file lock Options.LockTimeout asks for.
func lockTimeout(t time.Duration) (time.Duration, error) {
	switch {
	case t < 0:
		return 0, kiosk.Errorf(kiosk.KindMalformed, "open store", "negative lock timeout %s", t)
	case t == 0:
		return DefaultLockTimeout, nil
	}
	return t, nil
}

// isFirstStart reports whether there is no store at path yet. An empty file
// is not a first start but a store whose records were lost: bbolt would
// silently start an empty database in it.
func isFirstStart(path string) (bool, error) {
	const op = "open store"
	switch fi, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	case err != nil:
		return false, kiosk.E(kiosk.KindStoreCorrupt, op, err)
	case fi.Size() == 0:
		return false, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "%s is empty", path)
	}
	return false, nil
}

func newDB(file string, opts Options) *DB {
	db := &DB{path: file, now: opts.Now, horizon: opts.AttemptHorizon}
	if db.now == nil {
		db.now = time.Now
	}
	if db.horizon <= 0 {
		db.horizon = DefaultAttemptHorizon
	}
	return db
}

// openBolt opens db.path with bbolt, waiting up to timeout for its lock.
func (db *DB) openBolt(timeout time.Duration) error {
	// bbolt can panic inside Open on a damaged file after it took the
	// lock; keep hold of its file so that the lock can be freed for the
	// next attempt.
	var f *os.File
	openFile := func(name string, flag int, mode os.FileMode) (*os.File, error) {
		var err error
		f, err = os.OpenFile(name, flag, mode)
		return f, err
	}
	err := guard("open store", db.path, func() error {
		b, err := bolt.Open(db.path, 0o600, &bolt.Options{Timeout: timeout, OpenFile: openFile})
		if err != nil {
			return classifyOpen(db.path, timeout, err)
		}
		db.bolt = b
		return nil
	})
	if err != nil && db.bolt == nil && f != nil {
		// A mapping bbolt made keeps the open file alive, and the lock
		// with it, past Close: unlock explicitly.
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	return err
}

// prepare makes a just-opened store ready for use: its file mode
// tightened, every page read when check is set, its schema brought up to
// date. On failure the store is closed.
func (db *DB) prepare(check bool) error {
	// bbolt creates the file with 0600 but keeps the mode of an existing
	// file; records name people and their keys, so tighten it.
	if err := os.Chmod(db.path, 0o600); err != nil {
		db.bolt.Close()
		return kiosk.E(kiosk.KindStoreCorrupt, "open store", err)
	}
	if check {
		if err := db.check(); err != nil {
			db.closeAfterCheck(err)
			return err
		}
	}
	if err := db.migrate(migrations); err != nil {
		db.bolt.Close()
		return err
	}
	return nil
}

// publish renames a newly built store into place and makes the rename
// durable by syncing the directory.
func publish(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// OutOfService reports whether err from Open means the appliance must start
// in its out-of-service state ("call IT"): the store is held by another
// process or is damaged. Any other error from Open is a programming or
// configuration mistake (a negative timeout).
func OutOfService(err error) bool {
	k := kiosk.KindOf(err)
	return k == kiosk.KindStoreCorrupt || k == kiosk.KindStoreLocked
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

// view and update run fn in a transaction with panics and memory faults
// recovered into KindStoreCorrupt errors: bbolt panics on some damaged pages
// and a damaged mapping can fault, and the appliance must answer with an
// error, never a crash.
func (db *DB) view(op string, fn func(*bolt.Tx) error) error {
	return guard(op, db.path, func() error { return db.bolt.View(fn) })
}

func (db *DB) update(op string, fn func(*bolt.Tx) error) error {
	err := guard(op, db.path, func() error { return db.bolt.Update(fn) })
	if err == nil {
		db.forward()
		next := make(chan struct{})
		if old := db.written.Swap(&next); old != nil {
			close(*old)
		}
	}
	return err
}

// Written returns a channel closed by the next write that commits: a
// reader that takes it before reading what it follows (the audit log,
// say) and then waits on it misses no write.
func (db *DB) Written() <-chan struct{} {
	for {
		if ch := db.written.Load(); ch != nil {
			return *ch
		}
		ch := make(chan struct{})
		db.written.CompareAndSwap(nil, &ch)
	}
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
