package usbkey

/*
#include <fido.h>
*/
import "C"

import (
	"context"
	"errors"
	"sync"
	"time"

	"passkiosk/kiosk"
)

// Default time bounds. A touch or a finger can take a person a while; the
// rest of a CTAP exchange takes milliseconds on a real key.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultUserTimeout = 45 * time.Second
)

// Options bound the operations of a Device.
type Options struct {
	// Timeout bounds operations that need no person: getInfo, retry
	// counts. Zero means DefaultTimeout.
	Timeout time.Duration
	// UserTimeout bounds operations that wait for a touch or a finger.
	// Zero means DefaultUserTimeout.
	UserTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserTimeout <= 0 {
		o.UserTimeout = DefaultUserTimeout
	}
	return o
}

// Device is one security key, by its hidraw path. Each operation opens the
// key, runs, and closes it again, so a key pulled between operations costs
// nothing and a re-plugged key starts clean. Operations on one Device run
// one at a time.
type Device struct {
	path string
	opts Options
	opMu sync.Mutex
}

// Open returns the key at path (a path from DeviceLocations or a Watcher
// event). It does not talk to the key.
func Open(path string, opts Options) (*Device, error) {
	if path == "" {
		return nil, kiosk.Errorf(kiosk.KindDevice, "open key", "empty device path")
	}
	return &Device{path: path, opts: opts.withDefaults()}, nil
}

// Path is the key's device node.
func (d *Device) Path() string { return d.path }

// run opens a session, runs fn with the context's cancellation wired to
// CTAPHID_CANCEL, and closes the session. The time bound is the shorter
// of ctx's deadline and the operation's own; when the context ends, the
// error says cancelled or timed out whatever libfido2 reported, because
// that is the cause.
func (d *Device) run(ctx context.Context, op string, fn func(*session) error) error {
	return d.runFor(ctx, op, d.opts.Timeout, fn)
}

func (d *Device) runFor(ctx context.Context, op string, limit time.Duration, fn func(*session) error) error {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := ctxError(ctx, op); err != nil {
		return err
	}
	// libfido2's own budget is a little longer than the context's, so the
	// context normally ends the call through CTAPHID_CANCEL, and the
	// budget ends it when the key ignores the cancel.
	budget := limit + time.Second
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl) + time.Second
	}
	s, code := openSession(d.path, budget)
	if code != C.FIDO_OK {
		if err := ctxError(ctx, op); err != nil {
			return err
		}
		return d.fail(nil, op, int(code))
	}
	defer s.close()
	stop := s.watch(ctx)
	err := fn(s)
	stop()
	if cerr := ctxError(ctx, op); cerr != nil {
		return cerr
	}
	return err
}

// ctxError turns an ended context into the matching kiosk error.
func ctxError(ctx context.Context, op string) error {
	switch err := ctx.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return kiosk.E(kiosk.KindTimeout, op, err)
	default:
		return kiosk.E(kiosk.KindCancelled, op, err)
	}
}

// PINRetries is the number of PIN attempts the key allows before it blocks
// the PIN for good (CTAP 2.1 §6.5.5.3 getPINRetries).
func (d *Device) PINRetries(ctx context.Context) (int, error) {
	var n int
	err := d.run(ctx, "get PIN retries", func(s *session) error {
		var code C.int
		n, code = s.pinRetries()
		return d.fail(s, "get PIN retries", int(code))
	})
	return n, err
}

// UVRetries is the number of built-in user verification (fingerprint)
// attempts left before the key falls back to its PIN (CTAP 2.1 §6.5.5.4
// getUVRetries).
func (d *Device) UVRetries(ctx context.Context) (int, error) {
	var n int
	err := d.run(ctx, "get UV retries", func(s *session) error {
		var code C.int
		n, code = s.uvRetries()
		return d.fail(s, "get UV retries", int(code))
	})
	return n, err
}
