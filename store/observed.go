package store

import (
	"fmt"
	"time"

	"passkiosk/kiosk"
)

// Typed helpers for the events the engine and the session manager observe
// rather than cause through a store method. Each appends one audit entry.

// Wipe is what the session manager removed when a session ended.
type Wipe struct {
	At        time.Time
	SessionID uint64
	Terminal  string
	Workspace string
	Removed   []string // top-level paths removed; long lists are shortened
	Files     int64
	Bytes     int64
	Verified  bool // a second pass found nothing left
	Problem   string
}

// RecordWipe audits a wipe. A Removed list longer than MaxEventItems keeps
// its first entries and ends with a count of the rest, so a session that
// left thousands of files is still recorded rather than refused.
func (db *DB) RecordWipe(w Wipe) (uint64, error) {
	items := w.Removed
	if len(items) > MaxEventItems {
		items = append(append([]string(nil), items[:MaxEventItems-1]...), fmt.Sprintf("… and %d more", len(w.Removed)-(MaxEventItems-1)))
	}
	d := map[string]string{
		"workspace": w.Workspace, "files": fmt.Sprint(w.Files), "bytes": fmt.Sprint(w.Bytes),
		"verified": fmt.Sprint(w.Verified),
	}
	if w.Problem != "" {
		d["problem"] = w.Problem
	}
	return db.Append(AuditEvent{Time: w.At, Type: kiosk.EventWipe, Terminal: w.Terminal, SessionID: w.SessionID, Items: items, Detail: d})
}

// Lockout is a decision of the engine to refuse a user, a credential or a
// terminal for a while.
type Lockout struct {
	At           time.Time
	UserID       []byte
	CredentialID []byte
	Terminal     string
	Reason       kiosk.Kind // the failure kind that tipped it
	Failures     int        // failures counted in the window
	Until        time.Time  // zero: until an administrator clears it
}

// RecordLockout audits a lockout.
func (db *DB) RecordLockout(l Lockout) (uint64, error) {
	until := "cleared by an administrator"
	if !l.Until.IsZero() {
		until = l.Until.UTC().Format(time.RFC3339)
	}
	return db.Append(AuditEvent{
		Time: l.At, Type: kiosk.EventLockout, Terminal: l.Terminal, UserID: l.UserID, CredentialID: l.CredentialID,
		Reason: l.Reason, Detail: map[string]string{"failures": fmt.Sprint(l.Failures), "until": until},
	})
}

// RecordFailureSpike audits that a terminal's failures within window
// reached count.
func (db *DB) RecordFailureSpike(at time.Time, terminal string, count int, window time.Duration) (uint64, error) {
	return db.Append(AuditEvent{
		Time: at, Type: kiosk.EventFailureSpike, Terminal: terminal,
		Detail: map[string]string{"failures": fmt.Sprint(count), "window": window.String()},
	})
}
