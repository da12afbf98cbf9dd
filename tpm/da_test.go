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

// A fresh swtpm has an empty lockout authorization and swtpm's own
// parameters (3 failures, 1000 s). Open gives it a random authorization,
// sealed under the SRK and handed to the store before the TPM changes,
// applies the shared-terminal parameters and reads them back. A restart
// unseals the stored copy and manages the TPM again, and with it a
// lockout is reset; without the copy the appliance says it cannot manage
// the TPM and what the chip's parameters are.
func TestSwtpmDictionaryAttackParametersAppliedAndReadBack(t *testing.T) {
	s := tpmtest.StartSwtpm(t)
	var stored []byte
	cfg := tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: s.Address(), DA: &tpm.DefaultDAParams,
		SaveSealedLockoutAuth: func(b []byte) error { stored = append([]byte(nil), b...); return nil }}
	k, err := tpm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	da := k.DAStatus()
	want := tpm.LockoutState{MaxTries: 32, Interval: 600 * time.Second, Recovery: 86400 * time.Second}
	if !da.Managed || da.Source != "sealed" || da.State != want || len(stored) == 0 {
		t.Fatalf("after the first Open: %+v (sealed copy %d bytes); want managed with %+v", da, len(stored), want)
	}
	read, err := k.Lockout(ctx)
	if err != nil || read != want {
		t.Fatalf("read back %+v, %v; want %+v", read, err, want)
	}
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k))
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	s.Restart()
	cfg.SealedLockoutAuth = stored
	cfg.SaveSealedLockoutAuth = func([]byte) error { t.Error("a second lockout authorization was made"); return nil }
	cfg.DA = &tpm.DAParams{MaxTries: 2, Interval: time.Hour, Recovery: 86400 * time.Second}
	k2, err := tpm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if da := k2.DAStatus(); !da.Managed || da.Source != "sealed" || da.State.MaxTries != 2 || da.State.Interval != time.Hour {
		t.Fatalf("after a restart with the sealed copy: %+v", da)
	}
	e, cred := enroll(t, k2, pin)
	for i := 0; i < 2; i++ {
		signIn(t, k2, &e.Blobs, cred, "000000")
	}
	if _, err := signIn(t, k2, &e.Blobs, cred, pin); !errors.Is(err, kiosk.ErrTPMLockout) {
		t.Fatalf("right PIN during the lockout: %v", err)
	}
	if err := k2.ResetLockoutManaged(); err != nil {
		t.Fatal(err)
	}
	if l, _ := k2.Lockout(ctx); l.Failures != 0 || l.InLockout {
		t.Fatalf("after the reset: %+v", l)
	}
	if _, err := signIn(t, k2, &e.Blobs, cred, pin); err != nil {
		t.Fatalf("right PIN after the reset: %v", err)
	}
	tpmtest.CheckNoHandles(t, tpm.TransportOf(k2))
	// The empty authorization is gone: another program cannot reset or
	// retune the TPM with it. (Trying costs the lockout hierarchy its
	// recovery time, so this comes last.)
	if err := k2.ResetLockout(ctx, nil); err == nil {
		t.Fatal("the empty lockout authorization still works")
	}
	k2.Close()

	// Without the sealed copy and without IT's file, nothing is tried
	// (a wrong lockout authorization would block it for a day).
	k3, err := tpm.Open(tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: s.Address(), DA: &tpm.DefaultDAParams})
	if err != nil {
		t.Fatal(err)
	}
	defer k3.Close()
	da = k3.DAStatus()
	if da.Managed || da.Reason == "" || da.State.MaxTries != 2 {
		t.Fatalf("without the authorization: %+v; want not managed, saying why, with the chip's parameters", da)
	}
	if err := k3.ResetLockoutManaged(); kiosk.KindOf(err) != kiosk.KindPolicy {
		t.Fatalf("reset without the authorization: %v", err)
	}
}

// IT's lockout authorization from a file manages a TPM whose lockout
// hierarchy IT owns; a wrong one is reported once, not retried.
func TestSwtpmLockoutAuthFromIT(t *testing.T) {
	s := tpmtest.StartSwtpm(t)
	conn, done := tpmtest.Dial(t, s.Process)
	if _, err := (tpm2.HierarchyChangeAuth{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)},
		NewAuth:    tpm2.TPM2BAuth{Buffer: []byte("set-by-IT")},
	}).Execute(conn); err != nil {
		t.Fatal(err)
	}
	done()
	cfg := tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: s.Address(), DA: &tpm.DefaultDAParams,
		LockoutAuth:           []byte("set-by-IT"),
		SaveSealedLockoutAuth: func([]byte) error { t.Error("took over a lockout hierarchy IT owns"); return nil }}
	k, err := tpm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if da := k.DAStatus(); !da.Managed || da.Source != "file" || da.State.MaxTries != 32 {
		t.Fatalf("with IT's authorization: %+v", da)
	}
	k.Close()
	cfg.LockoutAuth = []byte("not-the-authorization")
	k2, err := tpm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if da := k2.DAStatus(); da.Managed || da.Source != "file" || da.Reason == "" {
		t.Fatalf("with a wrong authorization from the file: %+v", da)
	}
}

// A clean stop of the appliance sends TPM2_Shutdown(CLEAR) and so does
// the swtpm helper: after a restart of the TPM process the
// dictionary-attack counter is still 0.
func TestSwtpmCleanStopLeavesTheCounterAtZero(t *testing.T) {
	s := tpmtest.StartSwtpm(t)
	cfg := tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: s.Address(), DA: &tpm.DefaultDAParams,
		SaveSealedLockoutAuth: func([]byte) error { return nil }}
	for i := 0; i < 3; i++ {
		k, err := tpm.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l, err := k.Lockout(ctx)
		if err != nil || l.Failures != 0 {
			t.Fatalf("start %d: counter %d (%v), want 0", i+1, l.Failures, err)
		}
		if i == 0 {
			e, cred := enroll(t, k, pin)
			if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
				t.Fatal(err)
			}
		}
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
		s.Restart()
		cfg.SaveSealedLockoutAuth = nil
		cfg.DA = nil
	}
	// What the shutdown saves: the same stop without it, after a sign-in,
	// costs a try.
	k, err := tpm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, cred := enroll(t, k, pin)
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatal(err)
	}
	k.CloseWithoutShutdown()
	s.PowerCut()
	k, err = tpm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if l, err := k.Lockout(ctx); err != nil || l.Failures != 1 {
		t.Fatalf("after a stop without TPM2_Shutdown: counter %d (%v), want 1", l.Failures, err)
	}
}
