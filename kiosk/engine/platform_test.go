package engine

import (
	"testing"
	"time"

	"passkiosk/kiosk"
)

func TestPlatformEnrollAndSignInByTileAndByName(t *testing.T) {
	h := newHarness(t)
	h.enrollPlatform(alice, "C", "135790")
	v := h.e.View()
	if len(v.Tiles) != 1 || v.Tiles[0].User != alice.ID || !v.PlatformAvailable {
		t.Fatalf("lock screen %+v", v)
	}
	h.e.ChooseUser(alice.ID)
	v = h.waitPrompt(kiosk.PromptPIN)
	if v.Who != alice.DisplayName || v.PINMinLength != 6 {
		t.Fatalf("PIN view %+v", v)
	}
	h.e.EnterPIN([]byte("135790"))
	h.waitState(kiosk.StateInSession)
	h.e.SignOut()
	h.waitNotice(kiosk.NoticeSessionEnded)

	h.e.TypeUserName("alice")
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitState(kiosk.StateInSession)
}

func TestPlatformWrongPINThenTPMLockout(t *testing.T) {
	h := newHarness(t)
	h.enrollPlatform(alice, "C", "135790")
	h.platform.MaxTries = 3
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("000000"))
	// The PIN pad shows the person's own tries (10 before suspension),
	// not the TPM's (3 for the whole terminal).
	h.waitFor("9 tries", func(v kiosk.View) bool { return v.Notice != nil && v.Notice.Tries == 9 })
	h.e.EnterPIN([]byte("000000"))
	h.waitFor("8 tries", func(v kiosk.View) bool { return v.Notice != nil && v.Notice.Tries == 8 })
	h.e.EnterPIN([]byte("000000"))
	v := h.waitNotice(kiosk.NoticePlatformLocked)
	if v.State != kiosk.StateLocked || !v.Notice.Until.Equal(h.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("state %v notice %+v", v.State, v.Notice)
	}
}

func TestTypedUnknownNameAndClearedTPM(t *testing.T) {
	h := newHarness(t)
	h.e.TypeUserName("mallory")
	v := h.waitNotice(kiosk.NoticeNotAllowed)
	if v.State != kiosk.StateLocked {
		t.Fatalf("state %v", v.State)
	}
	h.enrollPlatform(alice, "C", "135790")
	h.platform.Cleared = true
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitNotice(kiosk.NoticeTPMCleared)
}

func TestNoTPMStillWorksWithSecurityKeys(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Platform = nil })
	v := h.e.View()
	if v.PlatformAvailable || v.PlatformReason == "" || len(v.Tiles) != 0 {
		t.Fatalf("lock screen without TPM %+v", v)
	}
	h.issueCode("C", alice)
	h.e.StartEnrollment("C")
	// Only security keys can be registered: no choice offered.
	h.waitPrompt(kiosk.PromptInsertKey)
	k := newKey("k1", "4821", false)
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	h.waitPrompt(kiosk.PromptEnrollDone)
}

func TestPlatformPINTooShortAtEnrollment(t *testing.T) {
	h := newHarness(t)
	h.issueCode("C", alice)
	h.e.StartEnrollment("C")
	h.waitPrompt(kiosk.PromptEnrollChoose)
	h.e.ChooseAttachment(kiosk.AttachPlatform)
	h.waitPrompt(kiosk.PromptNewPIN)
	h.e.EnterPIN([]byte("123"))
	v := h.waitNotice(kiosk.NoticePINTooShort)
	if v.Prompt != kiosk.PromptNewPIN {
		t.Fatalf("prompt %v", v.Prompt)
	}
}

func TestOutOfServiceAtStart(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.OutOfService = "database damaged" })
	v := h.e.View()
	if v.State != kiosk.StateOutOfService || v.OutOfService != "database damaged" {
		t.Fatalf("view %+v", v)
	}
	k := newKey("k1", "4821", false)
	h.keys.Plug(k)
	h.e.TypeUserName("alice")
	h.e.StartEnrollment("x")
	if h.e.View().State != kiosk.StateOutOfService {
		t.Fatal("left out of service")
	}
}
