package usbkey

/*
#include <fido.h>
*/
import "C"

import (
	"bytes"
	"context"
	"errors"

	"passkiosk/kiosk"
)

// Method is how the person proved to the key that it was them.
type Method int

const (
	// MethodPresence: a touch only: the key has no PIN and no sensor, or
	// the request asked for presence only.
	MethodPresence Method = iota
	// MethodPIN: the key checked its PIN (CTAP 2.1 §6.5).
	MethodPIN
	// MethodFingerprint: the key's built-in user verification.
	MethodFingerprint
)

func (m Method) String() string {
	switch m {
	case MethodPIN:
		return "pin"
	case MethodFingerprint:
		return "fingerprint"
	default:
		return "presence"
	}
}

// PINFunc asks the person for the key's PIN. The adapter calls it only
// when the key needs the PIN: it has no fingerprint sensor, or the sensor
// is locked after too many misses. Returning an error abandons the
// operation with that error (kind cancelled when it has none). The bytes
// stay the caller's, who wipes them after the operation.
type PINFunc func(ctx context.Context) ([]byte, error)

// verifyUser runs attempt with the method the key supports, preferring
// the fingerprint, and falling back to the PIN when the fingerprint is
// blocked (CTAP 2.1 §6.5.5.4: once uvRetries reaches 0, built-in UV is
// blocked and the platform uses the PIN). attempt is the CTAP operation,
// given either a PIN or a request for built-in UV.
func (d *Device) verifyUser(ctx context.Context, s *session, op string, askPIN PINFunc, requireUV bool,
	attempt func(pin []byte, uv bool) C.int) (Method, error) {
	if s.hasUV() {
		code := attempt(nil, true)
		if code == C.FIDO_OK {
			return MethodFingerprint, nil
		}
		if code != C.FIDO_ERR_UV_BLOCKED || !s.hasPIN() || askPIN == nil {
			return MethodFingerprint, d.fail(s, op, int(code))
		}
	}
	if s.hasPIN() {
		if askPIN == nil {
			return MethodPIN, kiosk.Errorf(kiosk.KindNotAllowed, op, "the key needs its PIN and none can be asked for")
		}
		pin, err := askPIN(ctx)
		if err != nil {
			if kiosk.KindOf(err) == kiosk.KindUnknown {
				err = kiosk.E(kiosk.KindCancelled, op, err)
			}
			return MethodPIN, err
		}
		if len(pin) == 0 {
			return MethodPIN, kiosk.E(kiosk.KindPINPolicy, op, errors.New("empty PIN"))
		}
		if bytes.IndexByte(pin, 0) >= 0 {
			// C would cut it short there and try a different PIN.
			return MethodPIN, kiosk.E(kiosk.KindPINPolicy, op, errors.New("the PIN holds a NUL byte"))
		}
		return MethodPIN, d.fail(s, op, int(attempt(pin, false)))
	}
	if requireUV {
		return MethodPresence, kiosk.Errorf(kiosk.KindPINNotSet, op, "the key has neither a PIN nor a fingerprint; set a PIN first")
	}
	return MethodPresence, d.fail(s, op, int(attempt(nil, false)))
}
