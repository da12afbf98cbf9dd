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
	// The same blobs rewritten to claim the new SRK as parent: the TPM
	// itself refuses them (TPM_RC_INTEGRITY). The record names an SRK the
	// key was not made under, so it was altered: a corrupt record, not a
	// cleared TPM.
	forged := e.Blobs
	forged.ParentName = mustCredentialSRKName(t, k2, tr)
	_, err = k2.SignIn(ctx, &forged, rpID, [32]byte{}, []byte(pin))
	if !errors.Is(err, kiosk.ErrStoreCorrupt) || !errors.Is(err, tpm2.TPMRCIntegrity) {
		t.Fatalf("old key claiming the new SRK: %v; want store-corrupt from TPM_RC_INTEGRITY", err)
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

// Blobs altered in storage are a corrupt credential, not a cleared TPM:
// the SRK they name is the one this TPM has, so the TPM's refusal says
// something about the bytes. Only a changed SRK means the keys are gone.
func TestAlteredBlobsAreCorruptNotCleared(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](e.Blobs.Public)
	if err != nil {
		t.Fatal(err)
	}
	area, err := pub.Contents()
	if err != nil {
		t.Fatal(err)
	}
	withTrailing := append(tpm2.Marshal(*area), 0, 0)

	tests := []struct {
		name  string
		alter func(b *tpm.KeyBlobs)
		kind  kiosk.Kind
		rc    tpm2.TPMRC
	}{
		{"one bit of the private blob flipped", func(b *tpm.KeyBlobs) {
			b.Private[len(b.Private)-1] ^= 0x01
		}, kiosk.KindStoreCorrupt, tpm2.TPMRCIntegrity},
		{"private blob cut short", func(b *tpm.KeyBlobs) {
			b.Private = []byte{0, 2, 0, 0}
		}, kiosk.KindStoreCorrupt, tpm2.TPMRCIntegrity},
		{"private blob larger than any TPM2B_PRIVATE", func(b *tpm.KeyBlobs) {
			b.Private = make([]byte, 2+1000)
			b.Private[0], b.Private[1] = 1000>>8, 1000&0xff
		}, kiosk.KindMalformed, tpm2.TPMRCSize},
		{"public area with trailing bytes", func(b *tpm.KeyBlobs) {
			b.Public = append([]byte{0, byte(len(withTrailing))}, withTrailing...)
		}, kiosk.KindMalformed, tpm2.TPMRCSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.Blobs
			b.Public = append([]byte(nil), e.Blobs.Public...)
			b.Private = append([]byte(nil), e.Blobs.Private...)
			tc.alter(&b)
			_, err := k.SignIn(ctx, &b, rpID, [32]byte{}, []byte(pin))
			if kiosk.KindOf(err) != tc.kind || !errors.Is(err, tc.rc) {
				t.Fatalf("altered blobs: %v; want %v from %v", err, tc.kind, tc.rc)
			}
		})
	}
	// The intact blobs still work: nothing was counted against the key.
	if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
		t.Fatal(err)
	}
}

func TestChangePIN(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)

	if _, err := k.ChangePIN(ctx, &e.Blobs, []byte("000000"), []byte("13579246")); !errors.Is(err, kiosk.ErrPINInvalid) {
		t.Fatalf("change with wrong old PIN: %v; want pin-invalid", err)
	}
	tr.Reset()
	nb, err := k.ChangePIN(ctx, &e.Blobs, []byte(pin), []byte("13579246"))
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
		{"short PIN at sign-in", func() error { _, err := k.SignIn(ctx, &e.Blobs, rpID, [32]byte{}, []byte("123")); return err }, kiosk.KindPINPolicy},
		{"long PIN at enrollment", func() error {
			_, err := k.Enroll(ctx, tpm.EnrollRequest{RPID: rpID, PIN: []byte(long)})
			return err
		}, kiosk.KindPINPolicy},
		{"PIN not UTF-8", func() error { _, err := k.SignIn(ctx, &e.Blobs, rpID, [32]byte{}, []byte("12\xff456")); return err }, kiosk.KindPINPolicy},
		{"negative lockout interval", func() error { return k.SetDictionaryAttackParameters(ctx, nil, 3, -time.Second, 0) }, kiosk.KindPolicy},
		{"empty RP ID", func() error { _, err := k.Enroll(ctx, tpm.EnrollRequest{PIN: []byte(pin)}); return err }, kiosk.KindPolicy},
		{"short new PIN", func() error { _, err := k.ChangePIN(ctx, &e.Blobs, []byte(pin), []byte("12")); return err }, kiosk.KindPINPolicy},
		{"nil blobs", func() error { _, err := k.SignIn(ctx, nil, rpID, [32]byte{}, []byte(pin)); return err }, kiosk.KindMalformed},
		{"blobs without salt", func() error {
			b := e.Blobs
			b.AuthSalt = nil
			_, err := k.SignIn(ctx, &b, rpID, [32]byte{}, []byte(pin))
			return err
		}, kiosk.KindMalformed},
		{"garbage public blob", func() error {
			b := e.Blobs
			b.Public = []byte{0, 3, 1, 2, 3}
			_, err := k.SignIn(ctx, &b, rpID, [32]byte{}, []byte(pin))
			return err
		}, kiosk.KindMalformed},
		{"garbage stored blobs", func() error { _, err := tpm.ParseKeyBlobs([]byte{0xa1, 0x01}); return err }, kiosk.KindMalformed},
		{"cancelled sign-in", func() error { _, err := k.SignIn(cancelled, &e.Blobs, rpID, [32]byte{}, []byte(pin)); return err }, kiosk.KindCancelled},
		{"cancelled enrollment", func() error {
			_, err := k.Enroll(cancelled, tpm.EnrollRequest{RPID: rpID, PIN: []byte(pin)})
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

// warnOnce answers the first TPM2_Sign with a warning that means "not
// executed, send it again" without passing the command on, as a busy or
// self-testing TPM does. With always set it answers every TPM2_Sign so.
type warnOnce struct {
	transport.TPM
	rc     tpm2.TPMRC
	always bool
	sent   atomic.Int32
}

func (w *warnOnce) Send(cmd []byte) ([]byte, error) {
	if binary.BigEndian.Uint32(cmd[6:]) == uint32(tpm2.TPMCCSign) && (w.always || w.sent.Load() == 0) {
		w.sent.Add(1)
		return rcResponse(w.rc), nil
	}
	return w.TPM.Send(cmd)
}

// rcResponse is a TPM's answer that carries only a response code.
func rcResponse(rc tpm2.TPMRC) []byte {
	rsp := make([]byte, 10)
	binary.BigEndian.PutUint16(rsp, uint16(tpm2.TPMSTNoSessions))
	binary.BigEndian.PutUint32(rsp[2:], 10)
	binary.BigEndian.PutUint32(rsp[6:], uint32(rc))
	return rsp
}

func TestRetryWarningsAreResent(t *testing.T) {
	for _, rc := range []tpm2.TPMRC{tpm2.TPMRCRetry, tpm2.TPMRCTesting, tpm2.TPMRCYielded} {
		t.Run(rc.Error(), func(t *testing.T) {
			tr := tpmtest.Simulator(t)
			w := &warnOnce{TPM: tr, rc: rc}
			k := tpmtest.Open(t, w, tpm.Config{})
			e, cred := enroll(t, k, pin)
			tr.Reset()
			if _, err := signIn(t, k, &e.Blobs, cred, pin); err != nil {
				t.Fatalf("sign-in through one %v: %v", rc, err)
			}
			if w.sent.Load() != 1 || tr.Counts()[tpm2.TPMCCSign] != 1 {
				t.Errorf("retry not exercised: %d warnings, %s", w.sent.Load(), tpmtest.Summary(tr.Counts()))
			}
		})
	}
}

// A TPM that keeps answering TPM_RC_RETRY is given up on after the
// bounded number of attempts (about a second): the sign-in fails as a
// device error carrying the code, and nothing is left loaded.
func TestRetryGivesUpAfterBoundedAttempts(t *testing.T) {
	tr := tpmtest.Simulator(t)
	w := &warnOnce{TPM: tr, rc: tpm2.TPMRCRetry, always: true}
	k := tpmtest.Open(t, w, tpm.Config{})
	e, cred := enroll(t, k, pin)
	_, err := signIn(t, k, &e.Blobs, cred, pin)
	if !errors.Is(err, kiosk.ErrDevice) || !errors.Is(err, tpm2.TPMRCRetry) {
		t.Fatalf("sign-in through endless TPM_RC_RETRY: %v; want device error from TPM_RC_RETRY", err)
	}
	if n := w.sent.Load(); n != 12 {
		t.Errorf("TPM2_Sign sent %d times, want 12", n)
	}
	tpmtest.CheckNoHandles(t, tr)
}

type nopCloser struct{ transport.TPM }

func (nopCloser) Close() error { return nil }

// A TPM cleared while the appliance runs: the next sign-in says the keys
// are gone and creates nothing, and enrolling again works without a
// restart.
func TestClearWhileRunningIsReportedAndRecovered(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	if _, err := (tpm2.Clear{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)}}).Execute(tr); err != nil {
		t.Fatalf("TPM2_Clear: %v", err)
	}
	tr.Reset()
	if _, err := signIn(t, k, &e.Blobs, cred, pin); !errors.Is(err, kiosk.ErrTPMCleared) {
		t.Fatalf("sign-in after clear: %v; want tpm-cleared", err)
	}
	// Sign-in leaves provisioning to enrollment and Open.
	checkCreatedNothing(t, tr, "sign-in after a clear")
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
