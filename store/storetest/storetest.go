// Package storetest helps tests of packages that use the store: a fake clock,
// a store opened on a temporary file that is closed when the test ends, and
// RewriteAuditEntry, which tampers with a closed file's audit log. It is
// test support only; production code must not import it.
package storetest

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"passkiosk/store"
)

// Clock is a settable clock for store.Options.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Epoch is the time new test clocks start at.
var Epoch = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// Open opens a store on a new file in t's temporary directory, reading time
// from clock (a new clock at Epoch when nil). The store is closed when the
// test ends.
func Open(t testing.TB, clock *Clock) (*store.DB, *Clock) {
	t.Helper()
	if clock == nil {
		clock = NewClock(Epoch)
	}
	path := filepath.Join(t.TempDir(), "passkiosk.db")
	db, err := store.Open(path, store.Options{Now: clock.Now, LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return db, clock
}

// User is a ready-made active user for tests.
func User(id string) store.User {
	return store.User{ID: []byte(id), Name: id, DisplayName: "User " + id, State: store.UserActive}
}

// Roaming is a ready-made roaming credential for tests; its public key bytes
// are a placeholder the store does not interpret.
func Roaming(id, userID string) store.Credential {
	return store.Credential{
		ID: []byte(id), UserID: []byte(userID), Kind: store.KindRoaming,
		PublicKey: []byte{0xa1, 0x01, 0x02}, Transports: []string{"usb"}, Label: "key " + id,
	}
}
