package tpm

import (
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
			return kiosk.WithTries(kiosk.KindTPMLockout, op, 0, &LockoutError{Wait: s.RetryAfter(), Err: err})
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

// loadError classifies a failure of TPM2_Load. A private blob that no
// longer verifies under the SRK (TPM_RC_INTEGRITY), or whose sensitive
// area does not decrypt (TPM_RC_SENSITIVE), was made under a storage key
// this TPM no longer has: the TPM was cleared, or the blob comes from
// another machine. Either way the credential is gone (Part 1 §23.5).
func loadError(op string, err error) error {
	switch {
	case errors.Is(err, tpm2.TPMRCHandle):
		// TPM2_Load's only handle is the parent: the SRK is gone.
		return kiosk.E(kiosk.KindTPMCleared, op, fmt.Errorf("the storage root key is gone, the TPM was cleared: %w", err))
	case errors.Is(err, tpm2.TPMRCIntegrity), errors.Is(err, tpm2.TPMRCSensitive),
		errors.Is(err, tpm2.TPMRCSize), errors.Is(err, tpm2.TPMRCKey), errors.Is(err, tpm2.TPMRCValue):
		return kiosk.E(kiosk.KindTPMCleared, op, fmt.Errorf("the key no longer loads, the TPM was cleared or the key is from another TPM: %w", err))
	}
	return kiosk.E(kiosk.KindDevice, op, err)
}
