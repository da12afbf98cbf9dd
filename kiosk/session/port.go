package session

import (
	"context"
	"sync"
	"time"

	"passkiosk/kiosk"
)

// Port adapts a Manager to the engine's ports: kiosk.Sessions, and
// kiosk.InputIdle through Idle.
type Port struct {
	Manager *Manager
	// Idle measures input to the whole display (X11Idle); nil means
	// LastInput knows nothing and returns the zero time.
	Idle IdleSource
	// IdleTimeout bounds one Idle query; the engine asks when its idle
	// timer fires, so this is short. Default 300 ms.
	IdleTimeout time.Duration
	// Env adds environment entries for a person; nil adds none.
	Env func(kiosk.User) []string

	mu   sync.Mutex
	last time.Time // the last successful LastInput answer
}

var (
	_ kiosk.Sessions  = (*Port)(nil)
	_ kiosk.InputIdle = (*Port)(nil)
	_ kiosk.Session   = PortSession{}
	_ IdleSource      = (*X11Idle)(nil)
)

// Start starts a session for spec.User; the journal records them by ID.
func (p *Port) Start(ctx context.Context, spec kiosk.SessionSpec) (kiosk.Session, error) {
	var env []string
	if p.Env != nil {
		env = p.Env(spec.User)
	}
	s, err := p.Manager.Start(ctx, Spec{User: spec.User.ID, Name: spec.User.Name, Program: spec.Program, Env: env})
	if err != nil {
		return nil, err
	}
	return PortSession{s}, nil
}

// LastInput is the clock's now minus the display's idle time. When the
// query fails it returns the last good answer (the zero time if there was
// none): the engine takes the later of this and input to its own window,
// so a failed measurement never counts as fresh input.
func (p *Port) LastInput() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Idle == nil {
		return time.Time{}
	}
	timeout := p.IdleTimeout
	if timeout <= 0 {
		timeout = 300 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if d, err := p.Idle.Idle(ctx); err == nil {
		p.last = p.Manager.cfg.Clock.Now().Add(-d)
	}
	return p.last
}

// PortSession is a Session seen through the kiosk.Session port.
type PortSession struct{ *Session }

// ID names the session.
func (ps PortSession) ID() string { return ps.Session.ID }

// End ends the session for cause; reason, the engine's words for people
// if it gave some, is kept in the report.
func (ps PortSession) End(cause kiosk.EndCause, reason string) (kiosk.WipeReport, error) {
	return ps.Session.endWith(cause, reason)
}
