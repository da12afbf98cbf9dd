package usbkey

/*
#include <fido.h>
*/
import "C"

import (
	"fmt"

	"passkiosk/kiosk"
)

// codeError keeps libfido2's own code and name under the kiosk error, for
// logs and for tests that check the device really said what the kind
// claims.
type codeError struct {
	Code int
	Name string
}

func (e *codeError) Error() string { return fmt.Sprintf("libfido2: %s (%d)", e.Name, e.Code) }

// fail is the one place where libfido2 results become kiosk errors. Codes
// are libfido2's: CTAP 2.1 status codes (§8.2) as the key sent them, and
// libfido2's own negative codes for transport and parsing trouble. s, when
// not nil, is the open session, used to ask how many PIN or fingerprint
// tries are left, so the person sees "2 tries left" rather than "wrong".
func (d *Device) fail(s *session, op string, code int) error {
	if code == C.FIDO_OK {
		return nil
	}
	detail := &codeError{Code: code, Name: goString(C.fido_strerr(C.int(code)))}
	switch code {
	case C.FIDO_ERR_PIN_INVALID:
		return kiosk.WithTries(kiosk.KindPINInvalid, op, retries(s, (*session).pinRetries), detail)
	case C.FIDO_ERR_PIN_AUTH_BLOCKED:
		// CTAP 2.1 §6.5.2: three wrong PINs in a row block PIN entry until
		// the key is power-cycled; the person must pull it out and put it
		// back.
		return kiosk.E(kiosk.KindPINAuthBlocked, op, fmt.Errorf("re-plug the key to try again: %w", detail))
	case C.FIDO_ERR_PIN_BLOCKED:
		return kiosk.WithTries(kiosk.KindPINBlocked, op, 0, detail)
	case C.FIDO_ERR_PIN_NOT_SET:
		return kiosk.E(kiosk.KindPINNotSet, op, detail)
	case C.FIDO_ERR_PIN_POLICY_VIOLATION:
		return kiosk.E(kiosk.KindPINPolicy, op, detail)
	case C.FIDO_ERR_UV_INVALID:
		return kiosk.WithTries(kiosk.KindUVInvalid, op, retries(s, (*session).uvRetries), detail)
	case C.FIDO_ERR_UV_BLOCKED:
		return kiosk.WithTries(kiosk.KindUVBlocked, op, 0, detail)
	case C.FIDO_ERR_NO_CREDENTIALS, C.FIDO_ERR_INVALID_CREDENTIAL:
		return kiosk.E(kiosk.KindNoCredentials, op, detail)
	case C.FIDO_ERR_CREDENTIAL_EXCLUDED:
		return kiosk.E(kiosk.KindExcluded, op, detail)
	case C.FIDO_ERR_ACTION_TIMEOUT, C.FIDO_ERR_USER_ACTION_TIMEOUT:
		// The key waited for a touch that never came.
		return kiosk.E(kiosk.KindTimeout, op, detail)
	case C.FIDO_ERR_OPERATION_DENIED, C.FIDO_ERR_NOT_ALLOWED, C.FIDO_ERR_UP_REQUIRED,
		C.FIDO_ERR_USER_PRESENCE_REQUIRED, C.FIDO_ERR_PIN_REQUIRED, C.FIDO_ERR_UNAUTHORIZED_PERM:
		return kiosk.E(kiosk.KindNotAllowed, op, detail)
	case C.FIDO_ERR_KEEPALIVE_CANCEL:
		return kiosk.E(kiosk.KindCancelled, op, detail)
	case C.FIDO_ERR_CHANNEL_BUSY:
		return kiosk.E(kiosk.KindDeviceBusy, op, detail)
	case C.FIDO_ERR_PIN_AUTH_INVALID:
		// The key refused the pinUvAuthParam made with the token it gave
		// moments ago (CTAP 2.1 §6.5.5.7): a key power-cycles its token
		// when it is pulled, so a pulled key is the common cause. One
		// still there either restarted or is faulty; a re-plug settles it.
		return d.faulty(op, detail, "the key refused its own PIN token; re-plug it and try again")
	case C.FIDO_ERR_TX, C.FIDO_ERR_RX:
		// A transport error is the key being pulled when its node has gone,
		// and a key that broke the framing (a message cut short, a
		// continuation out of sequence) when it is still there. A reply on
		// another channel never gets here: libfido2 skips it and waits on
		// (see the WrongChannel case in faults_test.go).
		return d.faulty(op, detail, "key broke CTAPHID framing")
	default:
		// Malformed replies (FIDO_ERR_RX_NOT_CBOR, FIDO_ERR_RX_INVALID_CBOR,
		// FIDO_ERR_INVALID_CBOR), FIDO_ERR_INTERNAL and any status this
		// switch does not name: the key misbehaved, unless it is gone.
		return d.faulty(op, detail, "")
	}
}

// faulty is a key that misbehaved, saying why when why is not empty, or a
// pulled key when its node has gone. fido_dev_open on a node that vanished
// between the watcher seeing the key and the operation opening it says
// FIDO_ERR_INTERNAL, and a reply cut off by the pull may not parse: both
// are a pulled key, not a faulty one.
func (d *Device) faulty(op string, detail *codeError, why string) error {
	if !nodePresent(d.path) {
		return kiosk.E(kiosk.KindDeviceGone, op, detail)
	}
	if why == "" {
		return kiosk.E(kiosk.KindDevice, op, detail)
	}
	return kiosk.E(kiosk.KindDevice, op, fmt.Errorf("%s: %w", why, detail))
}

// retries asks the key how many tries are left, or -1 when it cannot say.
func retries(s *session, get func(*session) (int, C.int)) int {
	if s == nil {
		return -1
	}
	n, r := get(s)
	if r != C.FIDO_OK {
		return -1
	}
	return n
}
