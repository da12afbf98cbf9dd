package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// Session is a journal entry: a session is written here before its
// workspace is created and marked ended after the wipe, so after a crash
// the session manager finds every workspace that may still hold someone's
// data (OpenSessions) and wipes it.
type Session struct {
	ID           uint64 // assigned by OpenSession, increasing
	UserID       []byte
	CredentialID []byte
	Terminal     string
	Workspace    string // path of the session's workspace
	OpenedAt     time.Time
	EndedAt      time.Time // zero while open
	Cause        kiosk.EndCause
	Wiped        bool // the wipe finished and was verified
}

type sessionWire struct {
	V            uint           `cbor:"0,keyasint"`
	ID           uint64         `cbor:"1,keyasint"`
	UserID       []byte         `cbor:"2,keyasint,omitempty"`
	CredentialID []byte         `cbor:"3,keyasint,omitempty"`
	Terminal     string         `cbor:"4,keyasint,omitempty"`
	Workspace    string         `cbor:"5,keyasint"`
	PID          int            `cbor:"6,keyasint,omitempty"` // written by old versions; unused
	OpenedAt     int64          `cbor:"7,keyasint"`
	EndedAt      int64          `cbor:"8,keyasint,omitempty"`
	Cause        kiosk.EndCause `cbor:"9,keyasint,omitempty"`
	Wiped        bool           `cbor:"10,keyasint,omitempty"`
}

func (w sessionWire) version() uint { return w.V }

func (w sessionWire) record() (*Session, error) {
	if w.ID == 0 {
		return nil, fmt.Errorf("session id 0")
	}
	return &Session{
		ID: w.ID, UserID: w.UserID, CredentialID: w.CredentialID, Terminal: w.Terminal,
		Workspace: w.Workspace, OpenedAt: Unstamp(w.OpenedAt),
		EndedAt: Unstamp(w.EndedAt), Cause: w.Cause, Wiped: w.Wiped,
	}, nil
}

func encodeSession(s *Session) ([]byte, error) {
	return encodeWire("encode session", sessionWire{
		V: recordVersion, ID: s.ID, UserID: s.UserID, CredentialID: s.CredentialID,
		Terminal: s.Terminal, Workspace: s.Workspace, OpenedAt: Stamp(s.OpenedAt),
		EndedAt: Stamp(s.EndedAt), Cause: s.Cause, Wiped: s.Wiped,
	})
}

func decodeSession(k, b []byte) (*Session, error) {
	return decodeRecord[Session, sessionWire]("decode session", k, b, encodeSession)
}

// OpenSession journals a new session and audits it; it returns the session
// with its ID.
func (db *DB) OpenSession(s Session) (*Session, error) {
	const op = "open session"
	if s.Workspace == "" {
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "session without workspace")
	}
	s.OpenedAt = db.at(s.OpenedAt)
	s.EndedAt, s.Cause, s.Wiped = time.Time{}, kiosk.EndUnknown, false
	err := db.update(op, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketSessions)
		if err != nil {
			return err
		}
		if s.ID, err = b.NextSequence(); err != nil {
			return err
		}
		if err := putSession(b, &s); err != nil {
			return err
		}
		ev := AuditEvent{
			Time: s.OpenedAt, Type: kiosk.EventSessionOpened, Terminal: s.Terminal, UserID: s.UserID,
			CredentialID: s.CredentialID, SessionID: s.ID, Detail: map[string]string{"workspace": s.Workspace},
		}
		_, err = appendAudit(tx, &ev)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func putSession(b *bolt.Bucket, s *Session) error {
	v, err := encodeSession(s)
	if err != nil {
		return err
	}
	return put(b, u64(s.ID), v)
}

func sessionIn(b *bolt.Bucket, op string, id uint64) (*Session, error) {
	v := b.Get(u64(id))
	if v == nil {
		return nil, kiosk.Errorf(kiosk.KindNotFound, op, "no session %d", id)
	}
	return decodeSession(u64(id), v)
}

// EndSession marks a session ended, records whether its wipe was verified,
// and audits the end with its cause. Ending an ended session is a
// kiosk.KindConflict error.
func (db *DB) EndSession(id uint64, cause kiosk.EndCause, wiped bool, at time.Time) (*Session, error) {
	const op = "end session"
	if !cause.Known() {
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "unknown end cause %d", cause)
	}
	at = db.at(at)
	var s *Session
	err := db.update(op, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketSessions)
		if err != nil {
			return err
		}
		if s, err = sessionIn(b, op, id); err != nil {
			return err
		}
		if !s.EndedAt.IsZero() {
			return kiosk.Errorf(kiosk.KindConflict, op, "session %d already ended (%s)", id, s.Cause)
		}
		s.EndedAt, s.Cause, s.Wiped = at, cause, wiped
		if err := putSession(b, s); err != nil {
			return err
		}
		ev := AuditEvent{
			Time: at, Type: kiosk.EventSessionEnded, Terminal: s.Terminal, UserID: s.UserID,
			CredentialID: s.CredentialID, SessionID: s.ID, Cause: cause,
			Detail: map[string]string{"wiped": fmt.Sprint(wiped), "duration": at.Sub(s.OpenedAt).String()},
		}
		_, err = appendAudit(tx, &ev)
		return err
	})
	return s, err
}

// Session returns one journal entry.
func (db *DB) Session(id uint64) (*Session, error) {
	const op = "read session"
	var s *Session
	err := db.view(op, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketSessions)
		if err != nil {
			return err
		}
		s, err = sessionIn(b, op, id)
		return err
	})
	return s, err
}

// Sessions returns journal entries oldest first; with openOnly, only those
// not yet ended: after a crash, these are the workspaces to wipe.
func (db *DB) Sessions(openOnly bool) ([]Session, error) {
	return records(db, "list sessions", bucketSessions, decodeSession, func(s *Session) bool {
		return !openOnly || s.EndedAt.IsZero()
	})
}

// PruneSessions drops journal entries of sessions that ended and were
// wiped before cut. Open and unwiped ones are kept whatever their age.
func (db *DB) PruneSessions(cut time.Time) (int, error) {
	return prune(db, "prune sessions", bucketSessions, decodeSession, func(s *Session) bool {
		return !s.EndedAt.IsZero() && s.Wiped && s.EndedAt.Before(cut)
	})
}
