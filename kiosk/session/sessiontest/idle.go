package sessiontest

import (
	"context"
	"sync"
	"time"

	"passkiosk/kiosk"
)

// Idle is a fake session.IdleSource driven by a (fake) clock: Input marks
// the moment of the last input, and Idle is the clock's distance from it.
// Err, when set, is returned instead.
type Idle struct {
	Clock kiosk.Clock

	mu   sync.Mutex
	last time.Time
	err  error
}

// NewIdle returns an idle source whose last input is now.
func NewIdle(c kiosk.Clock) *Idle { return &Idle{Clock: c, last: c.Now()} }

// Input records input at the clock's current time.
func (i *Idle) Input() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.last = i.Clock.Now()
}

// Fail makes Idle return err (nil restores normal answers).
func (i *Idle) Fail(err error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.err = err
}

// Idle is the clock's time since the last Input.
func (i *Idle) Idle(context.Context) (time.Duration, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.err != nil {
		return 0, i.err
	}
	return i.Clock.Now().Sub(i.last), nil
}
