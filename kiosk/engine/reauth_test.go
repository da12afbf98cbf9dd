package engine

import (
	"testing"
	"time"

	"passkiosk/fido"
	"passkiosk/kiosk"
	"passkiosk/kiosk/kiosktest"
)

// backToSession waits for the session screen with the notice that no
// backup was added, for the reason kind.
func (h *harness) backToSession(kind kiosk.Kind) kiosk.View {
	h.t.Helper()
	v := h.waitFor("the session with a not-confirmed notice", func(v kiosk.View) bool {
		return v.Prompt == kiosk.PromptSession && v.Notice != nil && v.Notice.Code == kiosk.NoticeBackupNotConfirmed
	})
	if v.Notice.Kind != kind || v.Reauth {
		h.t.Fatalf("notice %+v, reauth %v; want kind %v", v.Notice, v.Reauth, kind)
	}
	return v
}

func (h *harness) credentialCount(u kiosk.User) int {
	creds, _ := h.store.Credentials(u.ID)
	return len(creds)
}

// The backup is not had for the asking: "add a backup" first asks for the
// current PIN of the person's TPM passkey. A wrong PIN is counted like a
// sign-in's (the person's own tries left, audited as reauth-failed with
// the person as subject) and asked again; the right one is verified by
// the TPM and the engine, audited, and only then does the enrollment
// begin.
func TestBackupAsksForTheCurrentPINFirst(t *testing.T) {
	h := newHarness(t)
	h.platform.MaxTries = 1000
	signedIn(t, h)
	signs := h.platform.Signs
	h.e.AddBackup()
	v := h.waitPrompt(kiosk.PromptPIN)
	if !v.Reauth || v.State != kiosk.StateVerifying || v.PINMinLength != h.e.Policy().MinPINLength {
		t.Fatalf("proof prompt: reauth %v, state %v, min %d", v.Reauth, v.State, v.PINMinLength)
	}
	h.e.EnterPIN([]byte("000000"))
	v = h.waitNotice(kiosk.NoticeWrongPIN)
	if v.Prompt != kiosk.PromptPIN || !v.Reauth || v.Notice.Tries != h.e.Policy().Lockout.SuspendAfter()-1 {
		t.Fatalf("after a wrong PIN: prompt %v, reauth %v, notice %+v", v.Prompt, v.Reauth, v.Notice)
	}
	if n, _, _ := h.store.PlatformPINTries(alice.ID); n != 1 {
		t.Fatalf("wrong PINs counted: %d, want 1", n)
	}
	h.e.EnterPIN([]byte("135790"))
	v = h.waitFor("the enrollment", func(v kiosk.View) bool { return v.State == kiosk.StateEnrolling })
	if v.Reauth || h.platform.Signs != signs+2 {
		t.Fatalf("reauth %v, TPM signs %d (want %d)", v.Reauth, h.platform.Signs, signs+2)
	}
	if n, _, _ := h.store.PlatformPINTries(alice.ID); n != 0 {
		t.Fatalf("wrong PINs after the right one: %d, want 0", n)
	}
	var failed, proved bool
	for _, ev := range h.audited() {
		switch ev.Type {
		case kiosk.EventReauthFailed:
			failed = ev.User == alice.ID && ev.Kind == kiosk.KindPINInvalid && ev.Detail["subject"] == userSubject(alice.ID)
		case kiosk.EventReauth:
			proved = ev.User == alice.ID && ev.Detail["method"] == kiosk.AttachPlatform.String()
		}
	}
	if !failed || !proved {
		t.Fatalf("audit: %v", h.auditTypes())
	}
}

// Cancelling the proof, or letting it time out, returns to the session
// with a notice, audited, and registers nothing.
func TestBackupProofCancelledOrTimedOutRegistersNothing(t *testing.T) {
	h := newHarness(t)
	signedIn(t, h)
	before := h.credentialCount(alice)

	h.e.AddBackup()
	h.waitPrompt(kiosk.PromptPIN)
	h.e.Cancel()
	h.backToSession(kiosk.KindCancelled)
	cancelled := false
	for _, ev := range h.audited() {
		if ev.Type == kiosk.EventCancelled && ev.User == alice.ID && ev.Detail["ceremony"] == "reauth" {
			cancelled = true
		}
	}
	if !cancelled {
		t.Fatalf("the cancelled proof is not audited: %v", h.auditTypes())
	}

	h.e.AddBackup()
	h.waitPrompt(kiosk.PromptPIN)
	h.clock.Advance(DefaultTimeouts.PIN + time.Second)
	h.backToSession(kiosk.KindTimeout)
	timedOut := false
	for _, ev := range h.audited() {
		if ev.Type == kiosk.EventTimedOut && ev.User == alice.ID && ev.Detail["ceremony"] == "reauth" {
			timedOut = true
		}
	}
	if !timedOut {
		t.Fatalf("the timed-out proof is not audited: %v", h.auditTypes())
	}
	if h.credentialCount(alice) != before || h.hasAuditCount(kiosk.EventEnrolled, "ok") != 1 {
		t.Fatalf("credentials %d (was %d)", h.credentialCount(alice), before)
	}
	if h.hasAudit(kiosk.EventReauth, "") {
		t.Fatal("a proof that never happened was audited as done")
	}
}

// Wrong PINs in a proof count towards the person's backoff exactly as at
// sign-in: after Lockout.MaxFailures the proof ends with the wait, and
// the next sign-in with the passkey is held up just the same.
func TestBackupProofWrongPINsBackOffLikeSignIn(t *testing.T) {
	h := newHarness(t)
	h.platform.MaxTries = 1000
	signedIn(t, h)
	max := h.e.Policy().Lockout.MaxFailures
	h.e.AddBackup()
	h.waitPrompt(kiosk.PromptPIN)
	var v kiosk.View
	for i := 0; i < max; i++ {
		h.e.EnterPIN([]byte("000000"))
		h.waitPrompt(kiosk.PromptWorking)
		v = h.waitFor("the answer to a wrong PIN", func(v kiosk.View) bool {
			return v.Notice != nil && (v.Prompt == kiosk.PromptPIN || v.Prompt == kiosk.PromptSession)
		})
		if v.Prompt == kiosk.PromptSession {
			break
		}
	}
	v = h.backToSession(kiosk.KindPolicy)
	if v.Notice.Until.IsZero() {
		t.Fatalf("no wait in %+v", v.Notice)
	}
	// The backoff holds the proof up too…
	h.e.AddBackup()
	h.backToSession(kiosk.KindPolicy)
	// …and the next sign-in.
	h.e.SignOut()
	h.waitState(kiosk.StateLocked)
	h.e.ChooseUser(alice.ID)
	v = h.waitNotice(kiosk.NoticeTooManyAttempts)
	if v.State != kiosk.StateLocked {
		t.Fatalf("sign-in during the backoff: %v", v.State)
	}
}

// With a security key: the proof is an assertion from the key the session
// was signed in with, with the key's PIN, verified like a sign-in. An
// answer that does not verify (here: the key leaves the UV flag unset)
// is refused and audited, and nothing is registered; a good one goes on
// to the enrollment.
func TestBackupProofWithTheSignedInKey(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	keySession(t, h, k)
	before := h.credentialCount(alice)

	k.Authenticator(0).Flags &^= fido.FlagUV
	h.e.AddBackup()
	v := h.waitPrompt(kiosk.PromptPIN)
	if !v.Reauth || v.PINMinLength != 4 {
		t.Fatalf("proof prompt: reauth %v, min %d", v.Reauth, v.PINMinLength)
	}
	h.e.EnterPIN([]byte(pinOf(k)))
	h.backToSession(kiosk.KindUVMissing)
	if !h.hasAudit(kiosk.EventReauthFailed, kiosk.KindUVMissing.String()) || h.credentialCount(alice) != before {
		t.Fatalf("audit %v, credentials %d", h.auditTypes(), h.credentialCount(alice))
	}

	k.Authenticator(0).Flags |= fido.FlagUV
	h.e.AddBackup()
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte(pinOf(k)))
	h.waitPrompt(kiosk.PromptEnrollChoose)
	if !h.hasAudit(kiosk.EventReauth, "ok") {
		t.Fatalf("audit %v", h.auditTypes())
	}
	h.e.ChooseAttachment(kiosk.AttachPlatform)
	h.waitPrompt(kiosk.PromptNewPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitPrompt(kiosk.PromptEnrollDone)
	if h.credentialCount(alice) != before+1 {
		t.Fatalf("credentials %d, want %d", h.credentialCount(alice), before+1)
	}
}

// A key that answers with a counter that went back (a clone) fails the
// proof: audited with the possible clone, nothing registered.
func TestBackupProofFromACloneIsRefused(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	keySession(t, h, k)
	before := h.credentialCount(alice)
	k.Authenticator(0).Count = 0
	h.e.AddBackup()
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte(pinOf(k)))
	h.backToSession(kiosk.KindCounterRegression)
	if !h.hasAudit(kiosk.EventReauthFailed, kiosk.KindCounterRegression.String()) || !h.hasAudit(kiosk.EventPossibleClone, "") ||
		h.credentialCount(alice) != before {
		t.Fatalf("audit %v, credentials %d", h.auditTypes(), h.credentialCount(alice))
	}
}

// When the TPM cannot be used, a person who also has a security key is
// asked to plug it in, and proves it with that; another person's key
// does not do.
func TestBackupProofAsksForARegisteredKeyWhenThePINCannotBeUsed(t *testing.T) {
	h := newHarness(t)
	mine := newKey("mine", "4821", false)
	bobs := newKey("bobs", "1357", false)
	h.enrollKey(mine, alice, "C1")
	h.enrollKey(bobs, bob, "C2")
	signedIn(t, h)
	h.platform.OK, h.platform.Reason = false, "the TPM is busy"

	h.e.AddBackup()
	v := h.waitPrompt(kiosk.PromptInsertKey)
	if !v.Reauth || v.State != kiosk.StateVerifying {
		t.Fatalf("insert-key prompt: reauth %v, state %v", v.Reauth, v.State)
	}
	h.keys.Plug(bobs)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte(pinOf(bobs)))
	h.backToSession(kiosk.KindNoCredentials)
	h.unplug(bobs)

	h.e.AddBackup()
	h.waitPrompt(kiosk.PromptInsertKey)
	h.keys.Plug(mine)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte(pinOf(mine)))
	h.waitFor("the enrollment", func(v kiosk.View) bool { return v.State == kiosk.StateEnrolling })
	if !h.hasAudit(kiosk.EventReauth, "ok") {
		t.Fatalf("audit %v", h.auditTypes())
	}
}

// When nothing could be registered anyway (here: policy allows only the
// TPM passkey, which the person has), no proof is asked for: the session
// says why at once.
func TestBackupWithNothingToRegisterAsksNoProof(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Policy.Roaming.Enabled = false
		if err := c.Policy.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	h.issueCode("C", alice)
	h.e.StartEnrollment("C")
	h.waitPrompt(kiosk.PromptNewPIN) // the only choice
	h.e.EnterPIN([]byte("135790"))
	h.waitPrompt(kiosk.PromptEnrollDone)
	h.e.Cancel()
	h.waitPrompt(kiosk.PromptTouchOrChoose)
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitState(kiosk.StateInSession)
	h.e.AddBackup()
	v := h.waitNotice(kiosk.NoticeNotAllowed)
	if v.Prompt != kiosk.PromptSession || v.Reauth {
		t.Fatalf("prompt %v, reauth %v", v.Prompt, v.Reauth)
	}
	if h.hasAudit(kiosk.EventReauthFailed, "") || !h.hasAudit(kiosk.EventEnrollFailed, kiosk.KindPolicy.String()) {
		t.Fatalf("audit %v", h.auditTypes())
	}
}

// A key with a fingerprint sensor proves it with the finger, no PIN; the
// prompt says so once the key is free of the touch-to-sign-out request.
func TestBackupProofWithAFingerprint(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", true)
	h.enrollKey(k, alice, "C")
	h.keys.Plug(k)
	h.waitState(kiosk.StateInSession)
	h.e.AddBackup()
	h.waitFor("the fingerprint prompt for the proof", func(v kiosk.View) bool {
		return v.Prompt == kiosk.PromptFingerprint && v.Reauth && v.State == kiosk.StateVerifying
	})
	h.waitPrompt(kiosk.PromptEnrollChoose)
	if !h.hasAudit(kiosk.EventReauth, "ok") {
		t.Fatalf("audit %v", h.auditTypes())
	}
}

// fleetStore is a store whose credentials only the fleet writes.
type fleetStore struct{ *kiosktest.Store }

func (fleetStore) NoBackupHere() error {
	return kiosk.Errorf(kiosk.KindNotAllowed, "add a backup", "a second credential comes with a code from IT")
}

// On a fleet terminal a backup added from a session would stay on that
// terminal and vanish at the directory's next full reload: "add a
// backup" says at once that IT gives a code for it, asks for no proof
// and registers nothing, and the session goes on.
func TestBackupOnAFleetTerminalSaysHowInsteadOfAskingProof(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Store = fleetStore{c.Store.(*kiosktest.Store)}
		c.Policy.Roaming.Enabled = false
		if err := c.Policy.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	h.issueCode("C", alice)
	h.e.StartEnrollment("C")
	h.waitPrompt(kiosk.PromptNewPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitPrompt(kiosk.PromptEnrollDone)
	h.e.Cancel()
	h.waitPrompt(kiosk.PromptTouchOrChoose)
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitState(kiosk.StateInSession)
	before := h.credentialCount(alice)
	h.e.AddBackup()
	h.backToSession(kiosk.KindNotAllowed)
	if n := h.credentialCount(alice); n != before {
		t.Fatalf("%d credentials after, %d before", n, before)
	}
	if !h.hasAudit(kiosk.EventReauthFailed, kiosk.KindNotAllowed.String()) || h.hasAudit(kiosk.EventReauth, "") {
		t.Fatalf("audit %v", h.auditTypes())
	}
}
