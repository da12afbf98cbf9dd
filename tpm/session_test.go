package tpm_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

// With one salted session kept open across sign-ins, a sign-in is five
// commands: TPM2_Load, TPM2_Sign, TPM2_NV_Increment, TPM2_NV_Read,
// TPM2_FlushContext. Two people's keys are authorized through the same
// session, each by its own PIN, and every assertion verifies.
func TestKeptSessionSignInIsFiveCommands(t *testing.T) {
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{KeepSession: true})
	e1, cred1 := enroll(t, k, pin)
	e2, cred2 := enroll(t, k, "97531864")
	if _, err := signIn(t, k, &e1.Blobs, cred1, pin); err != nil { // opens the session
		t.Fatal(err)
	}
	want := []tpm2.TPMCC{tpm2.TPMCCLoad, tpm2.TPMCCSign, tpm2.TPMCCNVIncrement, tpm2.TPMCCNVRead, tpm2.TPMCCFlushContext}
	for i, c := range []struct {
		blobs *tpm.KeyBlobs
		pin   string
	}{{&e2.Blobs, "97531864"}, {&e1.Blobs, pin}, {&e2.Blobs, "97531864"}} {
		tr.Reset()
		cred := cred1
		if c.blobs == &e2.Blobs {
			cred = cred2
		}
		res, err := signIn(t, k, c.blobs, cred, c.pin)
		if err != nil {
			t.Fatalf("sign-in %d: %v", i, err)
		}
		if c.blobs == &e2.Blobs {
			cred2 = res.Updated
		} else {
			cred1 = res.Updated
		}
		if got := tr.Commands(); names(got) != names(want) {
			t.Fatalf("sign-in %d: %s\nwant %s", i, names(got), names(want))
		}
	}
}

// A wrong PIN through the kept session is a wrong PIN with the TPM's
// tries; the session is dropped and the next sign-in opens a new one. A
// session the TPM lost (flushed behind passkiosk's back, as a resume or a
// TPM restart would) is opened again without the person noticing, and
// costs no PIN try.
func TestKeptSessionSurvivesAWrongPINAndALostSession(t *testing.T) {
	tr := tpmtest.Simulator(t)
	var logged []string
	k := tpmtest.Open(t, tr, tpm.Config{KeepSession: true, Logf: func(f string, args ...any) { logged = append(logged, fmt.Sprintf(f, args...)) }})
	e, cred := enroll(t, k, pin)
	if _, err := signIn(t, k, &e.Blobs, cred, "000000"); !errors.Is(err, kiosk.ErrPINInvalid) || kiosk.TriesLeft(err) < 0 {
		t.Fatalf("wrong PIN: %v", err)
	}
	res, err := signIn(t, k, &e.Blobs, cred, pin)
	if err != nil {
		t.Fatalf("right PIN after a wrong one: %v", err)
	}
	before, err := k.Lockout(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := tpmtest.LoadedHandles(tr)
	if err != nil || len(hs) != 1 {
		t.Fatalf("loaded handles %v, %v; want the kept session alone", hs, err)
	}
	if _, err := (tpm2.FlushContext{FlushHandle: hs[0]}).Execute(tr); err != nil {
		t.Fatal(err)
	}
	tr.Reset()
	if _, err := signIn(t, k, &e.Blobs, res.Updated, pin); err != nil {
		t.Fatalf("sign-in after the TPM lost the session: %v", err)
	}
	if n := tr.Counts()[tpm2.TPMCCSign]; n != 2 || !strings.Contains(strings.Join(logged, "\n"), "kept session is gone") {
		t.Fatalf("%d TPM2_Sign, log %q; want one refused for the lost session and one through a new one", n, logged)
	}
	if after, _ := k.Lockout(ctx); after.Failures != before.Failures {
		t.Fatalf("the lost session cost a try: %d → %d", before.Failures, after.Failures)
	}
}
