package tpm_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

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

func TestClearedTPMReportsKeysGoneAndCounterStillMovesForward(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatal(err)
	}

	// TPM2_Clear (Part 3 §24.6) with the lockout hierarchy's empty
	// authorization: new storage seed, persistent SRK and owner NV gone.
	if _, err := (tpm2.Clear{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)}}).Execute(tr); err != nil {
		t.Fatalf("TPM2_Clear: %v", err)
	}
	k2 := tpmtest.Open(t, tr, tpm.Config{})
	_, err = signIn(t, k2, &e.Blobs, cred, pin)
	if !errors.Is(err, kiosk.ErrTPMCleared) {
		t.Fatalf("sign-in after clear: %v; want tpm-cleared", err)
	}
	// Same blobs claiming the new SRK as parent: the TPM itself refuses
	// them (TPM_RC_INTEGRITY), which is reported the same way.
	forged := e.Blobs
	forged.ParentName = mustCredentialSRKName(t, k2, tr)
	_, err = k2.SignIn(ctx, &forged, rpID, [32]byte{}, pin)
	if !errors.Is(err, kiosk.ErrTPMCleared) {
		t.Fatalf("old key under the new SRK: %v; want tpm-cleared", err)
	}

	// A new enrollment works, and its counter is past every value the
	// old counter index gave out (Part 1 §37.2.4).
	e2, cred2 := enroll(t, k2, pin)
	if cred2.Counter <= res.Counter {
		t.Errorf("counter after clear %d, before %d", cred2.Counter, res.Counter)
	}
	if _, err := signIn(t, k2, &e2.Blobs, cred2, pin); err != nil {
		t.Fatal(err)
	}
}

// mustCredentialSRKName reads the persistent SRK's Name.
func mustCredentialSRKName(t *testing.T, _ *tpm.TPM, tr transport.TPM) []byte {
	t.Helper()
	rsp, err := (tpm2.ReadPublic{ObjectHandle: tpm.DefaultSRKHandle}).Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	return rsp.Name.Buffer
}

func TestTamperedPrivateBlobIsRefused(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, _ := enroll(t, k, pin)
	bad := e.Blobs
	bad.Private = append([]byte(nil), e.Blobs.Private...)
	bad.Private[len(bad.Private)-1] ^= 0x01
	_, err := k.SignIn(ctx, &bad, rpID, [32]byte{}, pin)
	if !errors.Is(err, kiosk.ErrTPMCleared) || !errors.Is(err, tpm2.TPMRCIntegrity) {
		t.Fatalf("tampered blob: %v; want tpm-cleared from TPM_RC_INTEGRITY", err)
	}
}

func TestChangePIN(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)

	if _, err := k.ChangePIN(ctx, &e.Blobs, "000000", "13579246"); !errors.Is(err, kiosk.ErrPINInvalid) {
		t.Fatalf("change with wrong old PIN: %v; want pin-invalid", err)
	}
	tr.Reset()
	nb, err := k.ChangePIN(ctx, &e.Blobs, pin, "13579246")
	if err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	if n := tr.Counts()[tpm2.TPMCCObjectChangeAuth]; n != 1 {
		t.Errorf("TPM2_ObjectChangeAuth ran %d times", n)
	}
	if id, _ := tpm.CredentialID(nb); string(id) != string(e.CredentialID) {
		t.Error("changing the PIN changed the credential")
	}
	if _, err := signIn(t, k, nb, cred, pin); !errors.Is(err, kiosk.ErrPINInvalid) {
		t.Fatalf("old PIN on new blobs: %v; want pin-invalid", err)
	}
	res, err := signIn(t, k, nb, cred, "13579246")
	if err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	if res.Counter <= cred.Counter {
		t.Error("counter did not advance")
	}
}

func TestBadInputIsRefusedBeforeTheTPM(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, _ := enroll(t, k, pin)
	long := strings.Repeat("9", tpm.MaxPINBytes+1)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		run  func() error
		kind kiosk.Kind
	}{
		{"short PIN at sign-in", func() error { _, err := k.SignIn(ctx, &e.Blobs, rpID, [32]byte{}, "123"); return err }, kiosk.KindPINPolicy},
		{"long PIN at enrollment", func() error {
			_, err := k.Enroll(ctx, tpm.EnrollRequest{RPID: rpID, PIN: long})
			return err
		}, kiosk.KindPINPolicy},
		{"PIN not UTF-8", func() error { _, err := k.SignIn(ctx, &e.Blobs, rpID, [32]byte{}, "12\xff456"); return err }, kiosk.KindPINPolicy},
		{"negative lockout interval", func() error { return k.SetDictionaryAttackParameters(ctx, nil, 3, -time.Second, 0) }, kiosk.KindPolicy},
		{"empty RP ID", func() error { _, err := k.Enroll(ctx, tpm.EnrollRequest{PIN: pin}); return err }, kiosk.KindPolicy},
		{"short new PIN", func() error { _, err := k.ChangePIN(ctx, &e.Blobs, pin, "12"); return err }, kiosk.KindPINPolicy},
		{"nil blobs", func() error { _, err := k.SignIn(ctx, nil, rpID, [32]byte{}, pin); return err }, kiosk.KindMalformed},
		{"blobs without salt", func() error {
			b := e.Blobs
			b.AuthSalt = nil
			_, err := k.SignIn(ctx, &b, rpID, [32]byte{}, pin)
			return err
		}, kiosk.KindMalformed},
		{"garbage public blob", func() error {
			b := e.Blobs
			b.Public = []byte{0, 3, 1, 2, 3}
			_, err := k.SignIn(ctx, &b, rpID, [32]byte{}, pin)
			return err
		}, kiosk.KindMalformed},
		{"garbage stored blobs", func() error { _, err := tpm.ParseKeyBlobs([]byte{0xa1, 0x01}); return err }, kiosk.KindMalformed},
		{"cancelled sign-in", func() error { _, err := k.SignIn(cancelled, &e.Blobs, rpID, [32]byte{}, pin); return err }, kiosk.KindCancelled},
		{"cancelled enrollment", func() error {
			_, err := k.Enroll(cancelled, tpm.EnrollRequest{RPID: rpID, PIN: pin})
			return err
		}, kiosk.KindCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr.Reset()
			err := tc.run()
			if kiosk.KindOf(err) != tc.kind {
				t.Fatalf("got %v, want kind %v", err, tc.kind)
			}
			if n := tr.Total(); n != 0 {
				t.Errorf("%d TPM commands sent for input refused up front", n)
			}
		})
	}
}

func TestKeyBlobsRoundTrip(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	stored, err := e.Blobs.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := tpm.ParseKeyBlobs(stored)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signIn(t, k, back, cred, pin); err != nil {
		t.Fatal(err)
	}
	back.Wipe()
	if back.Private != nil || back.AuthSalt != nil {
		t.Error("Wipe left the blobs")
	}
}

func TestOpenWithoutUsableTPMSaysWhy(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "tpm0")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  tpm.Config
		want string
	}{
		{"missing device", tpm.Config{Device: filepath.Join(dir, "tpmrm0")}, "does not exist"},
		{"not a device", tpm.Config{Device: plain}, "not a character device"},
		{"unknown transport", tpm.Config{Transport: "carrier-pigeon"}, "unknown transport"},
		{"no swtpm listening", tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: "unix:" + filepath.Join(dir, "none.sock")}, "connect to swtpm"},
		{"no swtpm address", tpm.Config{Transport: tpm.TransportSwtpm}, "no swtpm address"},
		{"SRK handle not persistent", tpm.Config{Transport: tpm.TransportSimulator, SRKHandle: 0x80000001}, "not an owner persistent handle"},
		{"counter handle not NV", tpm.Config{Transport: tpm.TransportSimulator, CounterIndex: 0x81000001}, "not an NV index"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tpm.Open(tc.cfg)
			if k != nil || !errors.Is(err, kiosk.ErrNoTPM) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want no-tpm saying %q", err, tc.want)
			}
		})
	}
}

func TestDisabledStorageHierarchyIsNoTPM(t *testing.T) {
	tr := tpmtest.Simulator(t)
	// TPM2_HierarchyControl(TPM_RH_PLATFORM, enable=TPM_RH_OWNER, NO)
	// (Part 3 §24.2), framed by hand: firmware does this when the owner
	// turns the TPM off in setup.
	cmd := []byte{0x80, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x21, 0x40, 0, 0, 0x0c,
		0, 0, 0, 9, 0x40, 0, 0, 9, 0, 0, 0, 0, 0, 0x40, 0, 0, 1, 0}
	binary.BigEndian.PutUint32(cmd[2:], uint32(len(cmd)))
	rsp, err := tr.Send(cmd)
	if err != nil || binary.BigEndian.Uint32(rsp[6:]) != 0 {
		t.Fatalf("TPM2_HierarchyControl: %x %v", rsp, err)
	}
	_, err = tpm.New(nopCloser{tr}, tpm.Config{})
	if !errors.Is(err, kiosk.ErrNoTPM) || !strings.Contains(err.Error(), "storage hierarchy is disabled") {
		t.Fatalf("New: %v; want no-tpm, storage hierarchy disabled", err)
	}
}

func TestForeignObjectsAtOurHandlesAreNotUsed(t *testing.T) {
	tr := tpmtest.Simulator(t)
	owner := tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
	other := tpm2.ECCSRKTemplate
	other.ObjectAttributes.NoDA = false
	created, err := (tpm2.CreatePrimary{PrimaryHandle: owner, InPublic: tpm2.New2B(other)}).Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (tpm2.EvictControl{Auth: owner, ObjectHandle: tpm2.NamedHandle{Handle: created.ObjectHandle, Name: created.Name}, PersistentHandle: tpm.DefaultSRKHandle}).Execute(tr)
	if _, ferr := (tpm2.FlushContext{FlushHandle: created.ObjectHandle}).Execute(tr); ferr != nil {
		t.Fatal(ferr)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpm.New(nopCloser{tr}, tpm.Config{})
	if !errors.Is(err, kiosk.ErrNoTPM) || !strings.Contains(err.Error(), "not the standard ECC storage key") {
		t.Fatalf("foreign key at SRK handle: %v", err)
	}

	// An ordinary NV index at the counter's handle is not taken for it.
	const index = tpm2.TPMHandle(0x01B0F1D1)
	if _, err := (tpm2.NVDefineSpace{AuthHandle: owner, PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
		NVIndex: index, NameAlg: tpm2.TPMAlgSHA256,
		Attributes: tpm2.TPMANV{OwnerWrite: true, OwnerRead: true, NT: tpm2.TPMNTOrdinary}, DataSize: 8,
	})}).Execute(tr); err != nil {
		t.Fatal(err)
	}
	_, err = tpm.New(nopCloser{tr}, tpm.Config{SRKHandle: 0x81000010, CounterIndex: index})
	if !errors.Is(err, kiosk.ErrNoTPM) || !strings.Contains(err.Error(), "not passkiosk's counter") {
		t.Fatalf("foreign NV index at counter handle: %v", err)
	}
}

// retryOnce answers the first TPM2_Sign with TPM_RC_RETRY without passing
// it on, as a busy TPM does.
type retryOnce struct {
	transport.TPM
	done atomic.Bool
}

func (r *retryOnce) Send(cmd []byte) ([]byte, error) {
	if binary.BigEndian.Uint32(cmd[6:]) == uint32(tpm2.TPMCCSign) && !r.done.Swap(true) {
		rsp := make([]byte, 10)
		binary.BigEndian.PutUint16(rsp, uint16(tpm2.TPMSTNoSessions))
		binary.BigEndian.PutUint32(rsp[2:], 10)
		binary.BigEndian.PutUint32(rsp[6:], uint32(tpm2.TPMRCRetry))
		return rsp, nil
	}
	return r.TPM.Send(cmd)
}

func TestRetryIsResent(t *testing.T) {
	tr := tpmtest.Simulator(t)
	r := &retryOnce{TPM: tr}
	k := tpmtest.Open(t, r, tpm.Config{})
	e, cred := enroll(t, k, pin)
	tr.Reset()
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatalf("sign-in through a TPM_RC_RETRY: %v", err)
	}
	if !r.done.Load() || tr.Counts()[tpm2.TPMCCSign] != 1 {
		t.Errorf("retry not exercised: %v", tpmtest.Summary(tr.Counts()))
	}
}

type nopCloser struct{ transport.TPM }

func (nopCloser) Close() error { return nil }

// A TPM cleared while the appliance runs: the next sign-in says the keys
// are gone, and enrolling again works without a restart.
func TestClearWhileRunningIsReportedAndRecovered(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	if _, err := (tpm2.Clear{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)}}).Execute(tr); err != nil {
		t.Fatalf("TPM2_Clear: %v", err)
	}
	if _, err := signIn(t, k, &e.Blobs, cred, pin); !errors.Is(err, kiosk.ErrTPMCleared) {
		t.Fatalf("sign-in after clear: %v; want tpm-cleared", err)
	}
	e2, cred2 := enroll(t, k, pin)
	if _, err := signIn(t, k, &e2.Blobs, cred2, pin); err != nil {
		t.Fatalf("sign-in with a key enrolled after the clear: %v", err)
	}
	if _, err := signIn(t, k, &e.Blobs, cred, pin); !errors.Is(err, kiosk.ErrTPMCleared) {
		t.Fatalf("old key after re-provisioning: %v; want tpm-cleared", err)
	}
}

// On a machine without TPM device nodes (like CI), the default
// configuration reports both paths it tried.
func TestDefaultDevicesMissingNamesBoth(t *testing.T) {
	for _, p := range tpm.DefaultDevices {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists on this machine", p)
		}
	}
	_, err := tpm.Open(tpm.Config{})
	if !errors.Is(err, kiosk.ErrNoTPM) || !strings.Contains(err.Error(), "/dev/tpmrm0") || !strings.Contains(err.Error(), "/dev/tpm0") {
		t.Fatalf("Open default: %v", err)
	}
}

// Someone undefines the counter index under a running appliance: the next
// sign-in defines it again, and the counter still only moves forward.
func TestCounterIndexRedefinedStillMovesForward(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatal(err)
	}
	nv, err := (tpm2.NVReadPublic{NVIndex: tpm.DefaultCounterIndex}).Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (tpm2.NVUndefineSpace{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    tpm2.NamedHandle{Handle: tpm.DefaultCounterIndex, Name: nv.NVName},
	}).Execute(tr); err != nil {
		t.Fatalf("TPM2_NV_UndefineSpace: %v", err)
	}
	res2, err := signIn(t, k, &e.Blobs, res.Updated, pin)
	if err != nil {
		t.Fatalf("sign-in after the counter vanished: %v", err)
	}
	if res2.Counter <= res.Counter {
		t.Errorf("counter went from %d to %d", res.Counter, res2.Counter)
	}
}
