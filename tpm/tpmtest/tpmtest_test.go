package tpmtest_test

import (
	"testing"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/tpm/tpmtest"
)

// The leak check must see a loaded object and a loaded session, and the
// counting transport must count them by code.
func TestLoadedHandlesSeesObjectsAndSessions(t *testing.T) {
	tr := tpmtest.Simulator(t)
	created, err := (tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}).Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	sess, closeSession, err := tpm2.HMACSession(tr, tpm2.TPMAlgSHA256, 16)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := tpmtest.LoadedHandles(tr)
	if err != nil {
		t.Fatal(err)
	}
	want := map[tpm2.TPMHandle]bool{created.ObjectHandle: true, sess.Handle(): true}
	if len(hs) != 2 || !want[hs[0]] || !want[hs[1]] {
		t.Fatalf("LoadedHandles = %v, want %v", hs, want)
	}
	if err := closeSession(); err != nil {
		t.Fatal(err)
	}
	if _, err := (tpm2.FlushContext{FlushHandle: created.ObjectHandle}).Execute(tr); err != nil {
		t.Fatal(err)
	}
	if hs, err := tpmtest.LoadedHandles(tr); err != nil || len(hs) != 0 {
		t.Fatalf("after flushing: %v, %v", hs, err)
	}
	c := tr.Counts()
	if c[tpm2.TPMCCCreatePrimary] != 1 || c[tpm2.TPMCCStartAuthSession] != 1 || c[tpm2.TPMCCFlushContext] != 2 {
		t.Errorf("counts: %s", tpmtest.Summary(c))
	}
}
