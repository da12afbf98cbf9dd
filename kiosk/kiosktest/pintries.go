package kiosktest

import (
	"time"

	"passkiosk/kiosk"
)

var _ kiosk.PINTries = (*Store)(nil)

type pinTries struct {
	n    int
	last time.Time
}

// PlatformPINTries implements kiosk.PINTries in memory: a test that makes
// a new engine on the same Store sees the counts, as after a restart.
func (s *Store) PlatformPINTries(u kiosk.UserID) (int, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.pins[u]
	return t.n, t.last, nil
}

func (s *Store) AddPlatformPINFailure(u kiosk.UserID, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pins == nil {
		s.pins = map[kiosk.UserID]pinTries{}
	}
	t := s.pins[u]
	t.n++
	t.last = at
	s.pins[u] = t
	return t.n, nil
}

func (s *Store) ClearPlatformPINTries(u kiosk.UserID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.pins[u]
	delete(s.pins, u)
	return had, nil
}
