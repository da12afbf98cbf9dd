package kiosktest

import (
	"context"
	"fmt"
	"sync"

	"passkiosk/kiosk"
)

// Sessions is a fake kiosk.Sessions recording what was started.
type Sessions struct {
	mu      sync.Mutex
	Started []*Session
	// Report is what End returns (unset: a clean wipe); Err makes Start
	// fail.
	Report kiosk.WipeReport
	Err    error
}

func (s *Sessions) Start(ctx context.Context, spec kiosk.SessionSpec) (kiosk.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	report := s.Report
	if report == (kiosk.WipeReport{}) {
		report.WorkspaceGone = true
	}
	ss := &Session{id: fmt.Sprintf("s%d", len(s.Started)+1), Spec: spec, exited: make(chan struct{}), report: report}
	s.Started = append(s.Started, ss)
	return ss, nil
}

// Last is the most recently started session, or nil.
func (s *Sessions) Last() *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.Started) == 0 {
		return nil
	}
	return s.Started[len(s.Started)-1]
}

// Session is a fake running session.
type Session struct {
	id     string
	Spec   kiosk.SessionSpec
	mu     sync.Mutex
	exited chan struct{}
	report kiosk.WipeReport
	// EndedWith and Reason are what End was called with (EndUnknown
	// and "" while running).
	EndedWith  kiosk.EndCause
	Reason     string
	Relaunches int
}

func (s *Session) ID() string { return s.id }

func (s *Session) Exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exited
}

// Exit makes the session program exit.
func (s *Session) Exit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.exited)
}

func (s *Session) Relaunch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Relaunches++
	s.exited = make(chan struct{})
	return nil
}

func (s *Session) End(cause kiosk.EndCause, reason string) (kiosk.WipeReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.EndedWith, s.Reason = cause, reason
	return s.report, nil
}

// Ended reports the cause End was called with.
func (s *Session) Ended() kiosk.EndCause {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.EndedWith
}
