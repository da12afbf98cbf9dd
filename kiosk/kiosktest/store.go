package kiosktest

import (
	"bytes"
	"slices"
	"sync"
	"time"

	"passkiosk/kiosk"
)

// Store is an in-memory kiosk.Store that keeps the audit log for tests to
// read.
type Store struct {
	mu    sync.Mutex
	users []kiosk.User
	creds []kiosk.Credential
	codes map[string]code
	audit []kiosk.AuditEvent
	pins  map[kiosk.UserID]pinTries // pintries.go

	credLookups, userLookups int
}

type code struct {
	user    kiosk.UserID
	expires time.Time
}

func NewStore() *Store { return &Store{codes: map[string]code{}} }

func (s *Store) AddUser(u kiosk.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = append(s.users, u)
}

// SetDisabled disables or enables a person, as an administrator would.
func (s *Store) SetDisabled(id kiosk.UserID, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.users {
		if s.users[i].ID == id {
			s.users[i].Disabled = disabled
		}
	}
}

// IssueCode adds a one-time enrollment code.
func (s *Store) IssueCode(c string, u kiosk.UserID, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[c] = code{u, expires}
}

// AuditLog returns the events so far.
func (s *Store) AuditLog() []kiosk.AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]kiosk.AuditEvent(nil), s.audit...)
}

func (s *Store) Users() ([]kiosk.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]kiosk.User(nil), s.users...), nil
}

// Lookups counts the calls of Credential and User so far.
func (s *Store) Lookups() (credential, user int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.credLookups, s.userLookups
}

func (s *Store) User(id kiosk.UserID) (kiosk.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userLookups++
	for _, u := range s.users {
		if u.ID == id {
			return u, nil
		}
	}
	return kiosk.User{}, kiosk.Errorf(kiosk.KindNotFound, "store", "no user %q", id)
}

func (s *Store) UserByName(name string) (kiosk.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Name == name {
			return u, nil
		}
	}
	return kiosk.User{}, kiosk.Errorf(kiosk.KindNotFound, "store", "no user named %q", name)
}

func (s *Store) Credential(id []byte) (kiosk.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.credLookups++
	for _, c := range s.creds {
		if bytes.Equal(c.ID, id) {
			return c, nil
		}
	}
	return kiosk.Credential{}, kiosk.Errorf(kiosk.KindNotFound, "store", "no such credential")
}

func (s *Store) Credentials(u kiosk.UserID) ([]kiosk.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []kiosk.Credential
	for _, c := range s.creds {
		if c.User == u {
			out = append(out, c)
		}
	}
	return out, nil
}

// RemoveCredential deletes a credential, as an administrator's revoke
// would.
func (s *Store) RemoveCredential(id []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds = slices.DeleteFunc(s.creds, func(c kiosk.Credential) bool { return bytes.Equal(c.ID, id) })
}

func (s *Store) AddCredential(c kiosk.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds = append(s.creds, c)
	return nil
}

func (s *Store) RecordSignIn(id []byte, counter uint32, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.creds {
		if bytes.Equal(s.creds[i].ID, id) {
			if counter != 0 && counter <= s.creds[i].Counter {
				return kiosk.Errorf(kiosk.KindCounterRegression, "store", "counter %d not above %d", counter, s.creds[i].Counter)
			}
			s.creds[i].Counter, s.creds[i].LastUsed = counter, at
			return nil
		}
	}
	return kiosk.Errorf(kiosk.KindNotFound, "store", "no such credential")
}

func (s *Store) CheckEnrollmentCode(c string, now time.Time) (kiosk.UserID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cd, ok := s.codes[c]
	if !ok || !now.Before(cd.expires) {
		return "", kiosk.Errorf(kiosk.KindNotFound, "store", "no such code")
	}
	return cd.user, nil
}

func (s *Store) RedeemEnrollmentCode(c string, now time.Time) (kiosk.UserID, error) {
	u, err := s.CheckEnrollmentCode(c, now)
	if err == nil {
		s.mu.Lock()
		delete(s.codes, c)
		s.mu.Unlock()
	}
	return u, err
}

// RecentFailures implements kiosk.FailureHistory over the audit log.
func (s *Store) RecentFailures(since time.Time) (map[string][]time.Time, error) {
	var recent []kiosk.AuditEvent
	for _, e := range s.AuditLog() {
		if !e.Time.Before(since) {
			recent = append(recent, e)
		}
	}
	return kiosk.FailuresIn(recent), nil
}

func (s *Store) Audit(e kiosk.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = append(s.audit, e)
	return nil
}
