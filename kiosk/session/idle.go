package session

import (
	"context"
	"errors"
	"sync"
	"time"

	"passkiosk/kiosk"
)

// IdleSource says how long the person at the terminal has given no input
// to anything on the display: the session program's windows as much as
// the appliance's own. The engine polls it with its Clock to warn and
// then end an idle session.
type IdleSource interface {
	Idle(ctx context.Context) (time.Duration, error)
}

// X11Idle measures idle time with the X server's MIT-SCREEN-SAVER
// extension (ScreenSaverQueryInfo, "ms since user input"): the server
// stamps every input event from every device before it dispatches it to
// whichever client's window has focus, so the figure covers the session
// program's windows and not only ours. It is what xprintidle and screen
// lockers use. One connection is kept and re-dialled after an error.
type X11Idle struct {
	// Display is the X display (":0"); XAuthority the cookie file ("" is
	// $HOME/.Xauthority; a missing file means no authorization).
	Display, XAuthority string
	// Timeout bounds each query, dial included. Default 2 s.
	Timeout time.Duration

	mu    sync.Mutex
	conn  *x11conn
	major byte
}

// Idle returns the time since the last input event on the display.
func (x *X11Idle) Idle(ctx context.Context) (time.Duration, error) {
	const op = "x11 idle"
	x.mu.Lock()
	defer x.mu.Unlock()
	d, err := x.queryLocked(ctx)
	if err != nil && x.conn != nil {
		// One retry on a fresh connection: the server may have been
		// restarted under us.
		x.closeLocked()
		d, err = x.queryLocked(ctx)
	}
	if err != nil {
		x.closeLocked()
		if ctx.Err() != nil {
			return 0, kiosk.E(kiosk.KindCancelled, op, err)
		}
		return 0, kiosk.E(kiosk.KindDevice, op, err)
	}
	return d, nil
}

func (x *X11Idle) queryLocked(ctx context.Context) (time.Duration, error) {
	timeout := x.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if x.conn == nil {
		c, err := dialX11(x.Display, x.XAuthority, time.Until(deadline))
		if err != nil {
			return 0, err
		}
		major, err := c.extension("MIT-SCREEN-SAVER")
		if err != nil {
			c.c.Close()
			return 0, err
		}
		x.conn, x.major = c, major
	}
	_ = x.conn.c.SetDeadline(deadline)
	// ScreenSaverQueryInfo (minor 1) on the root window; the reply's
	// "idle" field, at byte 16, is milliseconds since the last input.
	req := make([]byte, 8)
	req[0], req[1] = x.major, 1
	le.PutUint16(req[2:], 2)
	le.PutUint32(req[4:], x.conn.root)
	p, err := x.conn.roundTrip(req)
	if err != nil {
		return 0, err
	}
	return time.Duration(le.Uint32(p[16:])) * time.Millisecond, nil
}

// Close drops the connection to the X server.
func (x *X11Idle) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.closeLocked()
	return nil
}

func (x *X11Idle) closeLocked() {
	if x.conn != nil {
		x.conn.c.Close()
		x.conn = nil
	}
}

// AnyInput combines idle sources: input seen by any of them is input, so
// the idle time is the smallest that any source reports. A source that
// fails is passed over; AnyInput fails only when every source does.
type AnyInput []IdleSource

// Idle returns the shortest idle time among the sources that answer.
func (a AnyInput) Idle(ctx context.Context) (time.Duration, error) {
	best, ok := time.Duration(0), false
	var errs []error
	for _, s := range a {
		d, err := s.Idle(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok || d < best {
			best, ok = d, true
		}
	}
	if !ok {
		if len(errs) == 0 {
			errs = append(errs, errors.New("no idle source"))
		}
		return 0, kiosk.E(kiosk.KindDevice, "idle", errors.Join(errs...))
	}
	return best, nil
}
