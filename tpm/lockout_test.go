package tpm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

func TestRepeatedWrongPINsReachLockoutAndRightPINWorksAfterRecovery(t *testing.T) {
	tr := tpmtest.Simulator(t)
	lockoutScenario(t, tpmtest.Open(t, tr, tpm.Config{}))
}

// lockoutScenario drives a TPM from three wrong PINs into lockout and out.
func lockoutScenario(t *testing.T, k *tpm.TPM) {
	t.Helper()
	// Three tries, one forgiven per hour: the test reaches the lockout in
	// three commands instead of the TPM's factory setting.
	if err := k.SetDictionaryAttackParameters(ctx, nil, 3, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	e, cred := enroll(t, k, pin)

	for _, wantTries := range []int{2, 1} {
		_, err := signIn(t, k, &e.Blobs, cred, "999999")
		if kiosk.KindOf(err) != kiosk.KindPINInvalid || kiosk.TriesLeft(err) != wantTries {
			t.Fatalf("wrong PIN: %v; want pin-invalid with %d tries left", err, wantTries)
		}
	}
	_, err := signIn(t, k, &e.Blobs, cred, "999999")
	var le *tpm.LockoutError
	if kiosk.KindOf(err) != kiosk.KindTPMLockout || !errors.As(err, &le) || le.RetryAfter() != time.Hour {
		t.Fatalf("third wrong PIN: %v; want tpm-lockout with a one-hour retry", err)
	}
	// Locked out, the TPM refuses even the right PIN, and says so.
	_, err = signIn(t, k, &e.Blobs, cred, pin)
	if !errors.Is(err, kiosk.ErrTPMLockout) || !errors.Is(err, tpm2.TPMRCLockout) {
		t.Fatalf("right PIN during lockout: %v; want tpm-lockout from TPM_RC_LOCKOUT", err)
	}
	s, err := k.Lockout(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !s.InLockout || s.TriesLeft() != 0 || s.RetryAfter() != time.Hour {
		t.Errorf("lockout state %+v", s)
	}

	// Recovery: TPM2_DictionaryAttackLockReset stands in for an hour
	// passing (the TPM forgets one failure per interval).
	if err := k.ResetLockout(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatalf("right PIN after recovery: %v", err)
	}
	if s, _ := k.Lockout(ctx); s.InLockout || s.TriesLeft() != 3 {
		t.Errorf("after recovery: %+v", s)
	}
}

func TestLockoutEndsWhenItsIntervalPassesAndRightPINWorks(t *testing.T) {
	tr := tpmtest.Simulator(t)
	lockoutExpiryScenario(t, tpmtest.Open(t, tr, tpm.Config{}))
}

// lockoutExpiryScenario locks the TPM out with two wrong PINs under a
// one-second lockout interval (TPM2_DictionaryAttackParameters
// newRecoveryTime, TPM_PT_LOCKOUT_INTERVAL), and lets the TPM itself end
// the lockout: after one interval it forgets one failure (Part 1 §19.8.3),
// and the right PIN works without anyone resetting anything. The waits are
// bounded; how long the TPM took is not checked.
func lockoutExpiryScenario(t *testing.T, k *tpm.TPM) {
	t.Helper()
	const interval = time.Second
	if err := k.SetDictionaryAttackParameters(ctx, nil, 2, interval, interval); err != nil {
		t.Fatal(err)
	}
	e, cred := enroll(t, k, pin)
	if _, err := signIn(t, k, &e.Blobs, cred, "999999"); kiosk.KindOf(err) != kiosk.KindPINInvalid || kiosk.TriesLeft(err) != 1 {
		t.Fatalf("first wrong PIN: %v; want pin-invalid with 1 try left", err)
	}
	_, err := signIn(t, k, &e.Blobs, cred, "999999")
	var le *tpm.LockoutError
	if !errors.Is(err, kiosk.ErrTPMLockout) || !errors.As(err, &le) || le.RetryAfter() != interval {
		t.Fatalf("second wrong PIN: %v; want tpm-lockout with a one-second retry", err)
	}
	if s, err := k.Lockout(ctx); err != nil || !s.InLockout {
		t.Fatalf("lockout state after two wrong PINs: %+v, %v", s, err)
	}

	time.Sleep(interval + 100*time.Millisecond)
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := k.Lockout(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !s.InLockout && s.TriesLeft() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still locked out long after the interval: %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatalf("right PIN after the lockout interval passed: %v", err)
	}
}
