package engine

import (
	"testing"
	"time"

	"passkiosk/kiosk"
)

// typeWrongPINs has u type n wrong TPM PINs, waiting out every backoff as
// a patient guesser would, and returns the last view.
func (h *harness) typeWrongPINs(u kiosk.User, n int) kiosk.View {
	h.t.Helper()
	var v kiosk.View
	h.drain()
	h.last = kiosk.View{}
	for typed := 0; typed < n; {
		if h.last.Prompt != kiosk.PromptPIN {
			h.last = kiosk.View{}
			h.e.ChooseUser(u.ID)
			v = h.waitFor("the PIN pad or a refusal", func(v kiosk.View) bool {
				return v.Prompt == kiosk.PromptPIN || (v.State == kiosk.StateLocked && v.Notice != nil)
			})
			if v.Prompt != kiosk.PromptPIN {
				if v.Notice.Code == kiosk.NoticeTooManyAttempts {
					h.clock.Advance(v.Notice.Until.Sub(h.clock.Now()) + time.Second)
					h.drain()
					h.last = kiosk.View{}
					continue
				}
				return v
			}
		}
		h.e.EnterPIN([]byte("000000"))
		typed++
		h.waitPrompt(kiosk.PromptWorking)
		v = h.waitFor("the answer to a wrong PIN", func(v kiosk.View) bool {
			return v.Notice != nil && (v.Prompt == kiosk.PromptPIN || v.State == kiosk.StateLocked)
		})
	}
	return v
}

// Ten wrong PINs in a row suspend a person's passkey on this terminal,
// whatever the TPM's own count; the PIN pad counted down their own tries.
// The suspension survives a restart and is lifted by a sign-in with their
// security key, after which the TPM passkey works again.
func TestTenWrongPINsSuspendUntilAnotherCredentialSignsIn(t *testing.T) {
	h := newHarness(t)
	h.platform.MaxTries = 1000
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C1")
	h.unplug(k)
	h.enrollPlatform(alice, "C2", "135790")

	v := h.typeWrongPINs(alice, 10)
	if v.Notice.Code != kiosk.NoticePlatformSuspended || !v.Notice.OfferKey || v.State != kiosk.StateLocked {
		t.Fatalf("after 10 wrong PINs: %v %+v; want suspended, offering the security key", v.State, v.Notice)
	}
	if h.platform.Signs != 10 || !h.hasAudit(kiosk.EventLockout, "platform-suspended") {
		t.Fatalf("TPM asked %d times, audit %v", h.platform.Signs, h.auditTypes())
	}
	// A restart lifts nothing: the count is in the store.
	again := newHarness(t, func(c *Config) { c.Store, c.Platform, c.Clock = h.store, h.platform, h.clock })
	again.e.ChooseUser(alice.ID)
	if v := again.waitNotice(kiosk.NoticePlatformSuspended); h.platform.Signs != 10 {
		t.Fatalf("a suspended passkey reached the TPM: %+v", v.Notice)
	}
	// Later (the backoff of the last wrong PINs is over), with the key.
	h.clock.Advance(time.Hour)
	again.keys.Plug(k)
	again.waitPrompt(kiosk.PromptPIN)
	again.e.EnterPIN([]byte("4821"))
	again.waitState(kiosk.StateInSession)
	again.e.SignOut()
	again.waitNotice(kiosk.NoticeSessionEnded)
	again.unplug(k)
	if !h.hasAudit(kiosk.EventPlatformUnsuspended, "ok") { // again's records are h's
		t.Fatalf("audit %v", h.auditTypes())
	}
	again.e.ChooseUser(alice.ID)
	again.waitPrompt(kiosk.PromptPIN)
	again.e.EnterPIN([]byte("135790"))
	again.waitState(kiosk.StateInSession)
}

// From five wrong PINs in a row the person backs off, doubling; a right
// PIN after the wait forgets the count, so the next typo shows 9 tries.
func TestWrongPINsInARowBackOffAndARightPINForgetsThem(t *testing.T) {
	h := newHarness(t)
	h.platform.MaxTries = 1000
	h.enrollPlatform(alice, "C", "135790")
	h.enrollPlatform(bob, "C2", "246801")
	v := h.typeWrongPINs(alice, 5)
	if v.Notice.Code != kiosk.NoticeTooManyAttempts || v.Notice.Tries != 5 || !v.Notice.Until.Equal(h.clock.Now().Add(30*time.Second)) {
		t.Fatalf("after 5 wrong PINs: %+v", v.Notice)
	}
	// Bob is not held up.
	h.e.ChooseUser(bob.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("246801"))
	h.waitState(kiosk.StateInSession)
	h.e.SignOut()
	h.waitNotice(kiosk.NoticeSessionEnded)

	h.clock.Advance(31 * time.Second)
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitState(kiosk.StateInSession)
	h.e.SignOut()
	h.waitNotice(kiosk.NoticeSessionEnded)
	h.clock.Advance(time.Hour) // past the sliding window of the terminal-wide count
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("000000"))
	if v := h.waitNotice(kiosk.NoticeWrongPIN); v.Notice.Tries != 9 {
		t.Fatalf("after a right PIN the count starts again: %+v", v.Notice)
	}
}

// When policy allows no security keys, a suspension and a TPM lockout
// say to ask IT instead of offering one.
func TestPausedAndSuspendedAskITWithoutKeys(t *testing.T) {
	h := newHarness(t)
	h.platform.MaxTries = 1000
	h.enrollPlatform(alice, "C", "135790")
	p := h.e.Policy()
	p.Roaming.Enabled = false
	if err := h.e.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	v := h.typeWrongPINs(alice, 10)
	if v.Notice.Code != kiosk.NoticePlatformSuspended || v.Notice.OfferKey {
		t.Fatalf("notice %+v; want suspended without a key offered", v.Notice)
	}
}
