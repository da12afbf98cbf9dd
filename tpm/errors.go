package tpm

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/kiosk"
)

// TPM response codes of the commands that use a person's key become kiosk
// kinds here, in one place. (Open's failures are all kiosk.KindNoTPM.)

// useError classifies a failure of a command authorized with the person's
// PIN (TPM2_Sign, TPM2_ObjectChangeAuth). The session-number bits of a
// format-1 code (Part 2 §6.6.3) are ignored by errors.Is.
func (k *TPM) useError(op string, err error) error {
	switch {
	case errors.Is(err, tpm2.TPMRCBadAuth), errors.Is(err, tpm2.TPMRCAuthFail):
		s, lerr := k.lockoutLocked()
		if lerr != nil {
			k.logf("tpm: read lockout state after wrong PIN: %v", lerr)
			return kiosk.E(kiosk.KindPINInvalid, op, err)
		}
		if s.TriesLeft() == 0 {
			// That wrong PIN was the last one the TPM accepted.
			return kiosk.WithTries(kiosk.KindTPMLockout, op, 0, &LockoutError{Wait: s.RetryAfter(), Err: err, WrongPIN: true})
		}
		return kiosk.WithTries(kiosk.KindPINInvalid, op, s.TriesLeft(), err)
	case errors.Is(err, tpm2.TPMRCLockout):
		after := k.retryAfterLocked()
		return kiosk.WithTries(kiosk.KindTPMLockout, op, 0, &LockoutError{Wait: after, Err: err})
	}
	return kiosk.E(kiosk.KindDevice, op, err)
}

func (k *TPM) retryAfterLocked() time.Duration {
	s, err := k.lockoutLocked()
	if err != nil {
		k.logf("tpm: read lockout state: %v", err)
		return 0
	}
	return s.Interval
}

// loadError classifies a failure of TPM2_Load (Part 3 §12.2) of a key
// whose blobs name, as their parent, the SRK this TPM had at Open.
//
// Once the two blobs unmarshal, TPM2_Load checks the private blob's outer
// HMAC, keyed from the SRK's seed and covering the key's Name (Part 1
// §23.5, integrity), before it decrypts the private part. So:
//
//   - TPM_RC_HANDLE: the SRK's persistent handle is empty (srkGoneLocked).
//   - TPM_RC_INTEGRITY or TPM_RC_SENSITIVE under an SRK whose Name differs
//     from the one stored with the blobs: the SRK was made again from a new
//     storage seed, the TPM was cleared, and the key is gone
//     (kiosk.KindTPMCleared). Our copy of the Name may be older than the
//     SRK now at the handle, so it is read again before deciding.
//   - The same under the very SRK the blobs name: the key was made under
//     this SRK (an enrollment under any other fails), so the blobs were
//     altered or damaged in storage: kiosk.KindStoreCorrupt.
//   - Any other fault the TPM finds with the blobs (isBlobError:
//     TPM_RC_SIZE, _KEY, _VALUE, …): the stored bytes are not a well-formed
//     key, whether or not the TPM was cleared, because a clear alone fails
//     the integrity check and nothing else: kiosk.KindMalformed, like blobs
//     that do not parse in Go.
func (k *TPM) loadError(op string, blobs *KeyBlobs, err error) error {
	switch {
	case errors.Is(err, tpm2.TPMRCHandle):
		return k.srkGoneLocked(op, err)
	case errors.Is(err, tpm2.TPMRCIntegrity), errors.Is(err, tpm2.TPMRCSensitive):
		name, nerr := k.refreshSRKLocked()
		switch {
		case errors.Is(nerr, tpm2.TPMRCHandle):
			return k.srkGoneLocked(op, err)
		case nerr != nil:
			return kiosk.E(kiosk.KindDevice, op, fmt.Errorf("%w (and reading the storage root key to explain it: %v)", err, nerr))
		case !bytes.Equal(name, blobs.ParentName):
			return kiosk.E(kiosk.KindTPMCleared, op, fmt.Errorf("the storage root key was made again from a new seed, the TPM was cleared and the key is gone: %w", err))
		}
		return kiosk.E(kiosk.KindStoreCorrupt, op, fmt.Errorf("the key blobs do not verify under the storage root key they were made under: the stored credential was altered or damaged: %w", err))
	case isBlobError(err):
		return kiosk.E(kiosk.KindMalformed, op, fmt.Errorf("the TPM refuses the stored key blobs as malformed: %w", err))
	}
	return kiosk.E(kiosk.KindDevice, op, err)
}

// isBlobError reports a format-1 response code about a parameter:
// TPM2_Load's only parameters are inPrivate and inPublic, so the TPM found
// fault with the blobs themselves (TPM_RC_SIZE, _KEY, _VALUE, _ATTRIBUTES,
// _BINDING, _SCHEME and the like, Part 3 §12.2), not with the TPM.
func isBlobError(err error) bool {
	var f tpm2.TPMFmt1Error
	if !errors.As(err, &f) {
		return false
	}
	param, _ := f.Parameter()
	return param
}
