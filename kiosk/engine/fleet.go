package engine

import (
	"bytes"
	"time"

	"passkiosk/kiosk"
)

// RevokeMode says when a running session of a person the fleet directory
// stopped (a revoked credential, a disabled or removed person) ends.
type RevokeMode uint8

const (
	// RevokeAtOnce ends the session as soon as the revocation reaches
	// this terminal.
	RevokeAtOnce RevokeMode = iota
	// RevokeAtIdle lets the person finish what they are typing: the
	// session ends at their next idle timeout (or sign-out, or any other
	// end), with the cause "revoked", and cannot be extended by a
	// relaunch of the program.
	RevokeAtIdle
)

// Revoked is told which people and credentials the fleet directory
// stopped. A session of one of those people, or signed in with one of
// those credentials, ends as mode says, with kiosk.EndRevoked; the
// request is audited (EventFleetRevoked) before the end, and the end and
// wipe are audited as every end is. It reports whether a session was
// affected. The lock screen drops the people's tiles either way.
func (e *Engine) Revoked(users []kiosk.UserID, creds [][]byte, mode RevokeMode) bool {
	e.mu.Lock()
	defer e.unlock()
	e.refreshLockScreenLocked()
	if p := e.startingFor; p != nil && e.sess == nil && revokedAny(users, creds, p.user, p.cred) {
		// Verified from the mirror just before the revocation came:
		// the session ends as soon as it has started (session.go).
		p.revoked = true
		return true
	}
	as := e.sess
	if as == nil || as.ending || as.revoked {
		return false
	}
	if !revokedAny(users, creds, as.user.ID, as.credID) {
		return false
	}
	as.revoked = true
	when := "at-once"
	if mode == RevokeAtIdle {
		when = "at-idle"
	}
	e.audit(kiosk.AuditEvent{Type: kiosk.EventFleetRevoked, User: as.user.ID, Credential: as.credID, Outcome: "session-" + when,
		Detail: map[string]string{"session": as.s.ID(), "ends": when}})
	if mode == RevokeAtOnce {
		e.endSessionLocked(kiosk.EndRevoked)
	}
	return true
}

// pendingSession is a verified person's session while it starts.
type pendingSession struct {
	user    kiosk.UserID
	cred    []byte
	revoked bool // the fleet stopped them meanwhile: end it once started
}

// revokedAny reports whether user or cred is among those stopped.
func revokedAny(users []kiosk.UserID, creds [][]byte, user kiosk.UserID, cred []byte) bool {
	for _, u := range users {
		if u == user {
			return true
		}
	}
	for _, c := range creds {
		if bytes.Equal(c, cred) {
			return true
		}
	}
	return false
}

// SetOffline shows on the lock screen since when the terminal has not
// reached the fleet directory (zero: online, or not in a fleet).
func (e *Engine) SetOffline(since time.Time) {
	e.mu.Lock()
	defer e.unlock()
	if e.offlineSince.Equal(since) {
		return
	}
	e.offlineSince = since
	e.publishLocked()
}

// RefuseKeys refuses sign-in with security keys for the reason why (the
// terminal has been offline longer than the fleet's offline_max_age, with
// offline_strict set: a key revoked meanwhile would not be known here);
// "" allows them again. Platform passkeys are not affected: they never
// left this terminal. Each refusal is audited as a failed sign-in.
func (e *Engine) RefuseKeys(why string) {
	e.mu.Lock()
	defer e.unlock()
	e.keysRefused = why
}
