package tpm_test

import (
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

var ownerAuth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}

// evictSRK removes the persistent SRK, as an administrator's
// `tpm2_evictcontrol` would, without clearing the TPM.
func evictSRK(t *testing.T, tr transport.TPM) {
	t.Helper()
	if _, err := (tpm2.EvictControl{
		Auth:             ownerAuth,
		ObjectHandle:     tpm2.NamedHandle{Handle: tpm.DefaultSRKHandle, Name: tpm2.TPM2BName{Buffer: mustCredentialSRKName(t, nil, tr)}},
		PersistentHandle: tpm.DefaultSRKHandle,
	}).Execute(tr); err != nil {
		t.Fatalf("TPM2_EvictControl (evict the SRK): %v", err)
	}
}

// checkCreatedNothing fails if the commands counted since the last Reset
// created a key or provisioned anything.
func checkCreatedNothing(t *testing.T, tr *tpmtest.Transport, what string) {
	t.Helper()
	counts := tr.Counts()
	for _, cc := range append(tpmtest.KeyCreating, tpm2.TPMCCEvictControl, tpm2.TPMCCNVDefineSpace) {
		if counts[cc] != 0 {
			t.Errorf("%s ran %s: %s", what, tpmtest.Name(cc), tpmtest.Summary(counts))
		}
	}
}

// The persistent SRK evicted, the TPM not cleared: sign-in creates no key
// and says clearly what is wrong (not "TPM cleared": the keys are intact);
// the next enrollment, or the next Open, makes the SRK again from the same
// seed, and the keys enrolled before work again.
func TestSignInWithEvictedSRKCreatesNoKeyAndOpenOrEnrollmentRestores(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	srkName := mustCredentialSRKName(t, k, tr)

	evictSRK(t, tr)
	tr.Reset()
	_, err := signIn(t, k, &e.Blobs, cred, pin)
	if !errors.Is(err, kiosk.ErrDevice) || !errors.Is(err, tpm2.TPMRCHandle) {
		t.Fatalf("sign-in without the SRK: %v; want a device error from TPM_RC_HANDLE", err)
	}
	if _, err := k.ChangePIN(ctx, &e.Blobs, []byte(pin), []byte("24681357")); !errors.Is(err, kiosk.ErrDevice) {
		t.Fatalf("PIN change without the SRK: %v; want a device error", err)
	}
	checkCreatedNothing(t, tr, "sign-in without the SRK")
	if _, err := (tpm2.ReadPublic{ObjectHandle: tpm.DefaultSRKHandle}).Execute(tr); !errors.Is(err, tpm2.TPMRCHandle) {
		t.Fatalf("the SRK came back without an enrollment or Open: %v", err)
	}

	// An enrollment provisions the SRK again: the same key, so the key
	// enrolled before loads again.
	e2, cred2 := enroll(t, k, "11112222")
	if got := mustCredentialSRKName(t, k, tr); string(got) != string(srkName) {
		t.Fatalf("SRK made again from the same seed has another Name")
	}
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatalf("sign-in after the enrollment restored the SRK: %v", err)
	}
	if _, err := signIn(t, k, &e2.Blobs, cred2, "11112222"); err != nil {
		t.Fatal(err)
	}

	// Evicted again, and this time the appliance restarts: Open restores it.
	evictSRK(t, tr)
	k2 := tpmtest.Open(t, tr, tpm.Config{})
	if _, err := signIn(t, k2, &e.Blobs, res.Updated, pin); err != nil {
		t.Fatalf("sign-in after Open restored the SRK: %v", err)
	}
}

// The TPM cleared and its SRK made again by another program before
// passkiosk noticed: passkiosk's copy of the SRK's Name still matches the
// old blobs, so the TPM's integrity failure is what shows the key is gone.
// It is reported as a clear TPM, passkiosk takes up the new SRK, and
// enrolling works without a restart.
func TestClearedAndReprovisionedElsewhereIsClearedAndNewSRKIsUsed(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	e, cred := enroll(t, k, pin)
	if _, err := (tpm2.Clear{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)}}).Execute(tr); err != nil {
		t.Fatalf("TPM2_Clear: %v", err)
	}
	created, err := (tpm2.CreatePrimary{PrimaryHandle: ownerAuth, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}).Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (tpm2.EvictControl{Auth: ownerAuth, ObjectHandle: tpm2.NamedHandle{Handle: created.ObjectHandle, Name: created.Name}, PersistentHandle: tpm.DefaultSRKHandle}).Execute(tr)
	if _, ferr := (tpm2.FlushContext{FlushHandle: created.ObjectHandle}).Execute(tr); ferr != nil {
		t.Fatal(ferr)
	}
	if err != nil {
		t.Fatal(err)
	}

	tr.Reset()
	_, err = signIn(t, k, &e.Blobs, cred, pin)
	if !errors.Is(err, kiosk.ErrTPMCleared) || !errors.Is(err, tpm2.TPMRCIntegrity) {
		t.Fatalf("old key under the SRK made after a clear: %v; want tpm-cleared from TPM_RC_INTEGRITY", err)
	}
	checkCreatedNothing(t, tr, "sign-in after a clear")
	e2, cred2 := enroll(t, k, pin)
	if _, err := signIn(t, k, &e2.Blobs, cred2, pin); err != nil {
		t.Fatalf("sign-in with a key enrolled under the new SRK: %v", err)
	}
}
