package tpm_test

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

// counterValue reads the terminal's signature counter straight from the TPM.
func counterValue(t *testing.T, tr transport.TPM) uint64 {
	t.Helper()
	idx := counterHandle(t, tr)
	rsp, err := (tpm2.NVRead{AuthHandle: tpm2.AuthHandle{Handle: idx.Handle, Name: idx.Name, Auth: tpm2.PasswordAuth(nil)}, NVIndex: idx, Size: 8}).Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint64(rsp.Data.Buffer)
}

func counterHandle(t *testing.T, tr transport.TPM) tpm2.NamedHandle {
	t.Helper()
	nv, err := (tpm2.NVReadPublic{NVIndex: tpm.DefaultCounterIndex}).Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	return tpm2.NamedHandle{Handle: tpm.DefaultCounterIndex, Name: nv.NVName}
}

// A wrong PIN fails at TPM2_Sign, before the counter moves: it costs no NV
// write, only the TPM's own dictionary-attack bookkeeping.
func TestWrongPINWritesNoCounter(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	before := counterValue(t, tr)
	tr.Reset()
	if _, err := signIn(t, k, &e.Blobs, cred, "000000"); !errors.Is(err, kiosk.ErrPINInvalid) {
		t.Fatalf("wrong PIN: %v; want pin-invalid", err)
	}
	for _, cc := range []tpm2.TPMCC{tpm2.TPMCCNVIncrement, tpm2.TPMCCNVWrite, tpm2.TPMCCNVDefineSpace} {
		if n := tr.Counts()[cc]; n != 0 {
			t.Errorf("a wrong PIN ran %s %d times", tpmtest.Name(cc), n)
		}
	}
	if got := counterValue(t, tr); got != before {
		t.Errorf("a wrong PIN moved the counter from %d to %d", before, got)
	}
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(res.Counter) != before+1 || counterValue(t, tr) != before+1 {
		t.Errorf("right PIN: assertion counter %d, TPM counter %d, want both %d", res.Counter, counterValue(t, tr), before+1)
	}
}

// pushCounter plays another program on the same TPM: before each of the
// next n TPM2_Sign commands it increments passkiosk's counter.
type pushCounter struct {
	transport.TPM
	n atomic.Int32
}

func (p *pushCounter) Send(cmd []byte) ([]byte, error) {
	if binary.BigEndian.Uint32(cmd[6:]) == uint32(tpm2.TPMCCSign) && p.n.Add(-1) >= 0 {
		nv, err := (tpm2.NVReadPublic{NVIndex: tpm.DefaultCounterIndex}).Execute(p.TPM)
		if err != nil {
			return nil, err
		}
		idx := tpm2.NamedHandle{Handle: tpm.DefaultCounterIndex, Name: nv.NVName}
		auth := tpm2.AuthHandle{Handle: idx.Handle, Name: idx.Name, Auth: tpm2.PasswordAuth(nil)}
		if _, err := (tpm2.NVIncrement{AuthHandle: auth, NVIndex: idx}).Execute(p.TPM); err != nil {
			return nil, err
		}
	}
	return p.TPM.Send(cmd)
}

// The counter moving between sign-in's read and its increment never lets
// a counter value out twice: the signature over the stale value is
// dropped and the key signs again over a value the increment made; if the
// counter keeps moving, sign-in gives up as "busy" and releases nothing.
func TestCounterMovedDuringSignInIsNeverReleasedTwice(t *testing.T) {
	tr := tpmtest.Simulator(t)
	p := &pushCounter{TPM: tr}
	k := tpmtest.Open(t, p, tpm.Config{})
	e, cred := enroll(t, k, pin)
	before := counterValue(t, tr)

	p.n.Store(1)
	tr.Reset()
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatalf("sign-in with the counter pushed once: %v", err)
	}
	now := counterValue(t, tr)
	if uint64(res.Counter) != now || now <= before+1 {
		t.Errorf("assertion counter %d, TPM counter %d (was %d): want the assertion on the value the last increment made", res.Counter, now, before)
	}
	if n := tr.Counts()[tpm2.TPMCCSign]; n != 2 {
		t.Errorf("signed %d times, want 2", n)
	}

	p.n.Store(100)
	tr.Reset()
	_, err = signIn(t, k, &e.Blobs, res.Updated, pin)
	if !errors.Is(err, kiosk.ErrDeviceBusy) {
		t.Fatalf("sign-in with the counter always pushed: %v; want device-busy", err)
	}
	if n := tr.Counts()[tpm2.TPMCCSign]; n != 3 {
		t.Errorf("signed %d times, want 3", n)
	}
	p.n.Store(0)
	if s, err := k.Lockout(ctx); err != nil || s.Failures != 0 {
		t.Errorf("a busy counter counted against the PIN: %+v, %v", s, err)
	}
}

// nvRateLimited answers TPM2_NV_Increment with TPM_RC_NV_RATE while on,
// as a real chip does when NV writes come too fast.
type nvRateLimited struct {
	transport.TPM
	on atomic.Bool
}

func (r *nvRateLimited) Send(cmd []byte) ([]byte, error) {
	if r.on.Load() && binary.BigEndian.Uint32(cmd[6:]) == uint32(tpm2.TPMCCNVIncrement) {
		return rcResponse(tpm2.TPMRCNVRate), nil
	}
	return r.TPM.Send(cmd)
}

// An NV rate limit is "busy, try again", not a wrong PIN or a broken TPM,
// and the signature made before it is not released.
func TestNVRateLimitIsBusy(t *testing.T) {
	tr := tpmtest.Simulator(t)
	r := &nvRateLimited{TPM: tr}
	k := tpmtest.Open(t, r, tpm.Config{})
	if err := k.SetDictionaryAttackParameters(ctx, nil, 5, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	e, cred := enroll(t, k, pin)
	before := counterValue(t, tr)

	r.on.Store(true)
	_, err := signIn(t, k, &e.Blobs, cred, pin)
	if !errors.Is(err, kiosk.ErrDeviceBusy) || !errors.Is(err, tpm2.TPMRCNVRate) {
		t.Fatalf("sign-in under an NV rate limit: %v; want device-busy from TPM_RC_NV_RATE", err)
	}
	_, err = k.Enroll(ctx, tpm.EnrollRequest{RPID: rpID, PIN: []byte(pin)})
	if !errors.Is(err, kiosk.ErrDeviceBusy) {
		t.Fatalf("enrollment under an NV rate limit: %v; want device-busy", err)
	}
	r.on.Store(false)

	if got := counterValue(t, tr); got != before {
		t.Errorf("counter moved from %d to %d", before, got)
	}
	if s, err := k.Lockout(ctx); err != nil || s.Failures != 0 {
		t.Errorf("the rate limit counted against the PIN: %+v, %v", s, err)
	}
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil || uint64(res.Counter) != before+1 {
		t.Fatalf("sign-in after the rate limit: %+v, %v; want counter %d", res, err, before+1)
	}
}

// Sign-in signs over the counter the last increment read back + 1. When
// another program moved the counter since, the check after the increment
// catches it: that signature is dropped and the key signs again over the
// counter's real next value, so the assertion's counter is still the
// TPM's own and still unique.
func TestStaleCachedCounterSignsAgainOverTheRealValue(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatal(err)
	}
	h := counterHandle(t, tr)
	for i := 0; i < 3; i++ { // another program on the TPM
		if _, err := (tpm2.NVIncrement{AuthHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: tpm2.PasswordAuth(nil)}, NVIndex: h}).Execute(tr); err != nil {
			t.Fatal(err)
		}
	}
	tr.Reset()
	res2, err := signIn(t, k, &e.Blobs, res.Updated, pin)
	if err != nil {
		t.Fatal(err)
	}
	if want := counterValue(t, tr); uint64(res2.Counter) != want || res2.Counter != res.Counter+5 { // 3 by the other program, 1 for the dropped signature, 1 for this one
		t.Fatalf("assertion counter %d after %d, TPM counter %d", res2.Counter, res.Counter, want)
	}
	if n := tr.Counts()[tpm2.TPMCCSign]; n != 2 {
		t.Fatalf("%d signatures, want 2 (one dropped)", n)
	}
	tr.Reset()
	if _, err := signIn(t, k, &e.Blobs, res2.Updated, pin); err != nil {
		t.Fatal(err)
	}
	if n := tr.Total(); n != 6 {
		t.Fatalf("next sign-in: %d commands, want 6", n)
	}
}
