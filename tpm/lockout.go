package tpm

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/kiosk"
)

// LockoutState is the TPM's dictionary-attack state (TPM 2.0 Part 1
// §19.8.3, Part 2 §6.13 TPM_PT_LOCKOUT_*). It is one state for the whole
// TPM, not per key: every wrong PIN on any DA-protected key counts.
type LockoutState struct {
	// Failures is TPM_PT_LOCKOUT_COUNTER, the authorization failures counted.
	Failures uint32
	// MaxTries is TPM_PT_MAX_AUTH_FAIL: at this many the TPM locks out.
	MaxTries uint32
	// Interval is TPM_PT_LOCKOUT_INTERVAL: every interval the TPM forgets
	// one failure, so after a lockout one try comes back per interval.
	Interval time.Duration
	// Recovery is TPM_PT_LOCKOUT_RECOVERY: after a failed lockout
	// authorization, how long lockoutAuth itself stays blocked.
	Recovery time.Duration
	// InLockout is TPMA_PERMANENT.inLockout.
	InLockout bool
}

// TriesLeft is how many wrong PINs the TPM takes before it locks out.
func (s LockoutState) TriesLeft() int {
	if s.InLockout || s.Failures >= s.MaxTries {
		return 0
	}
	return int(s.MaxTries - s.Failures)
}

// RetryAfter is the longest wait until the next try is possible: nothing
// when tries are left, otherwise one lockout interval (the TPM does not say
// how much of the current interval has passed).
func (s LockoutState) RetryAfter() time.Duration {
	if s.TriesLeft() > 0 {
		return 0
	}
	return s.Interval
}

// LockoutError is the detail inside a kiosk.KindTPMLockout error. Code
// that may not import this package (the engine) finds the wait with
// errors.As(err, &x) for x of type interface{ RetryAfter() time.Duration }.
type LockoutError struct {
	Wait time.Duration
	Err  error
	// WrongPIN: this attempt's PIN was wrong and used the TPM's last try
	// (not an attempt refused because the TPM already was in lockout).
	WrongPIN bool
}

// PINWasWrong reports whether the attempt that met the lockout had a
// wrong PIN, so the engine counts it against the person who typed it.
func (e *LockoutError) PINWasWrong() bool { return e.WrongPIN }

// RetryAfter is the longest wait until the TPM takes a PIN again.
func (e *LockoutError) RetryAfter() time.Duration { return e.Wait }

func (e *LockoutError) Error() string {
	return fmt.Sprintf("TPM locked out after too many wrong PINs, next try in at most %s: %v", e.Wait, e.Err)
}

func (e *LockoutError) Unwrap() error { return e.Err }

// Lockout reads the dictionary-attack state, so the UI can say how many
// tries are left before anyone types a PIN.
func (k *TPM) Lockout(ctx context.Context) (LockoutState, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return LockoutState{}, kiosk.E(kiosk.KindCancelled, "tpm lockout state", err)
	}
	s, err := k.lockoutLocked()
	if err != nil {
		return LockoutState{}, kiosk.E(kiosk.KindDevice, "tpm lockout state", err)
	}
	return s, nil
}

func (k *TPM) lockoutLocked() (LockoutState, error) {
	perm, err := k.properties(tpm2.TPMPTPermanent, 1)
	if err != nil {
		return LockoutState{}, err
	}
	p, err := k.properties(tpm2.TPMPTLockoutCounter, 4)
	if err != nil {
		return LockoutState{}, err
	}
	return LockoutState{
		Failures: p[tpm2.TPMPTLockoutCounter],
		MaxTries: p[tpm2.TPMPTMaxAuthFail],
		Interval: time.Duration(p[tpm2.TPMPTLockoutInterval]) * time.Second,
		Recovery: time.Duration(p[tpm2.TPMPTLockoutRecovery]) * time.Second,
		// TPMA_PERMANENT bit 9 is inLockout (Part 2 §8.6).
		InLockout: perm[tpm2.TPMPTPermanent]&(1<<9) != 0,
	}, nil
}

// SetDictionaryAttackParameters runs TPM2_DictionaryAttackParameters
// (Part 3 §25.3) with the lockout hierarchy's authorization. Sites tune the
// TPM's lockout with it; tests use it to reach a lockout in a few tries.
func (k *TPM) SetDictionaryAttackParameters(ctx context.Context, lockoutAuth []byte, maxTries uint32, interval, recovery time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return kiosk.E(kiosk.KindCancelled, "tpm dictionary-attack parameters", err)
	}
	if interval < 0 || recovery < 0 || interval/time.Second > math.MaxUint32 || recovery/time.Second > math.MaxUint32 {
		return kiosk.Errorf(kiosk.KindPolicy, "tpm dictionary-attack parameters", "interval and recovery must be 0 to 2^32-1 seconds")
	}
	params := make([]byte, 12)
	binary.BigEndian.PutUint32(params[0:], maxTries)
	binary.BigEndian.PutUint32(params[4:], uint32(interval/time.Second))
	binary.BigEndian.PutUint32(params[8:], uint32(recovery/time.Second))
	if err := k.lockoutCommand(tpm2.TPMCCDictionaryAttackParameters, lockoutAuth, params); err != nil {
		return kiosk.E(kiosk.KindDevice, "tpm dictionary-attack parameters",
			fmt.Errorf("TPM2_DictionaryAttackParameters: %w", err))
	}
	return nil
}

// ResetLockout runs TPM2_DictionaryAttackLockReset (Part 3 §25.2): the
// failure count goes to zero and a lockout ends at once. It is the
// administrator's way out of a lockout without waiting.
func (k *TPM) ResetLockout(ctx context.Context, lockoutAuth []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return kiosk.E(kiosk.KindCancelled, "tpm reset lockout", err)
	}
	if err := k.lockoutCommand(tpm2.TPMCCDictionaryAttackLockReset, lockoutAuth, nil); err != nil {
		return kiosk.E(kiosk.KindDevice, "tpm reset lockout", fmt.Errorf("TPM2_DictionaryAttackLockReset: %w", err))
	}
	return nil
}

// lockoutCommand sends a command whose only handle is TPM_RH_LOCKOUT,
// authorized by a password session (Part 1 §19.6.5). go-tpm's tpm2 package
// has no structures for the two dictionary-attack commands, so they are
// framed here (Part 1 §18: header, handle, authorization area, parameters).
func (k *TPM) lockoutCommand(cc tpm2.TPMCC, auth, params []byte) error {
	authArea := make([]byte, 0, 9+len(auth))
	authArea = binary.BigEndian.AppendUint32(authArea, uint32(tpm2.TPMRSPW))
	authArea = binary.BigEndian.AppendUint16(authArea, 0) // nonceCaller
	authArea = append(authArea, 0)                        // sessionAttributes
	authArea = binary.BigEndian.AppendUint16(authArea, uint16(len(auth)))
	authArea = append(authArea, auth...)

	cmd := make([]byte, 0, 64)
	cmd = binary.BigEndian.AppendUint16(cmd, uint16(tpm2.TPMSTSessions))
	cmd = binary.BigEndian.AppendUint32(cmd, 0) // size, filled below
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(cc))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRHLockout))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(len(authArea)))
	cmd = append(cmd, authArea...)
	cmd = append(cmd, params...)
	binary.BigEndian.PutUint32(cmd[2:], uint32(len(cmd)))

	rsp, err := k.t.Send(cmd)
	if err != nil {
		return err
	}
	rc, ok := responseCode(rsp)
	if !ok {
		return fmt.Errorf("short response (%d bytes)", len(rsp))
	}
	if rc != tpm2.TPMRCSuccess {
		return rc
	}
	return nil
}
