package engine

import (
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/kiosktest"
)

func TestSecurityKeyEnrollThenTapAndGoWithPIN(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "CODE-1")
	if !h.hasAudit(kiosk.EventEnrolled, "ok") {
		t.Fatalf("enrollment not audited: %v", h.auditTypes())
	}

	h.keys.Plug(k)
	v := h.waitPrompt(kiosk.PromptPIN)
	if v.State != kiosk.StateVerifying || v.Deadline.IsZero() || v.PINMinLength != 4 {
		t.Fatalf("PIN prompt view %+v", v)
	}
	h.e.EnterPIN([]byte("4821"))
	v = h.waitState(kiosk.StateInSession)
	if v.Session == nil || v.Session.User != alice.ID || !v.Session.ProgramRunning || !v.Session.BackupMissing {
		t.Fatalf("session view %+v", v.Session)
	}
	if s := h.sessions.Last(); s == nil || s.Spec.User.ID != alice.ID || s.Spec.MaxDuration != 8*time.Hour {
		t.Fatalf("session started with %+v", s)
	}
	if !h.hasAudit(kiosk.EventSignIn, "ok") || !h.hasAudit(kiosk.EventSessionOpened, "ok") {
		t.Fatalf("audit: %v", h.auditTypes())
	}
	cred, _ := h.store.Credentials(alice.ID)
	if cred[0].Counter != 1 || !cred[0].LastUsed.Equal(t0) {
		t.Fatalf("stored credential not updated: %+v", cred[0])
	}
}

func TestWrongPINShowsTriesThenReplugAfterThree(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C")
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	for want := 7; want >= 6; want-- {
		h.e.EnterPIN([]byte("0000"))
		v := h.waitFor("wrong PIN notice", func(v kiosk.View) bool {
			return v.Prompt == kiosk.PromptPIN && v.Notice != nil && v.Notice.Code == kiosk.NoticeWrongPIN && v.Notice.Tries == want
		})
		if v.State != kiosk.StateVerifying {
			t.Fatalf("state %v", v.State)
		}
	}
	h.e.EnterPIN([]byte("0000"))
	v := h.waitNotice(kiosk.NoticeReplugKey)
	if v.State != kiosk.StateLocked {
		t.Fatalf("after the third wrong PIN: state %v", v.State)
	}
	if k.PINRetries() != 5 {
		t.Fatalf("key retries %d, want 5", k.PINRetries())
	}
	if n := len(h.sessions.Started); n != 0 {
		t.Fatalf("%d sessions started", n)
	}
}

func TestFingerprintSignInAndFallbackToPIN(t *testing.T) {
	h := newHarness(t)
	k := newKey("bio", "4821", true)
	h.enrollKey(k, alice, "C")

	h.keys.Plug(k)
	h.waitState(kiosk.StateInSession)
	h.e.SignOut()
	h.waitNotice(kiosk.NoticeSessionEnded)
	h.unplug(k)

	// A finger the key does not know: tries left, then locked, then PIN.
	k.Fingerprint = false
	h.drain()
	h.keys.Plug(k)
	v := h.waitFor("fingerprint failed", func(v kiosk.View) bool {
		return v.Notice != nil && v.Notice.Code == kiosk.NoticeFingerprintFailed && v.Notice.Tries == 4
	})
	if v.Prompt != kiosk.PromptFingerprint {
		t.Fatalf("prompt %v", v.Prompt)
	}
	v = h.waitNotice(kiosk.NoticeFingerprintLocked)
	if v.Prompt != kiosk.PromptPIN {
		t.Fatalf("fingerprint locked but prompt %v", v.Prompt)
	}
	h.e.EnterPIN([]byte("4821"))
	h.waitState(kiosk.StateInSession)
	if !h.hasAudit(kiosk.EventFingerprintLocked, "") {
		t.Fatalf("audit: %v", h.auditTypes())
	}
}

func TestOneKeySeveralAccountsOffersAPicker(t *testing.T) {
	h := newHarness(t)
	k := newKey("shared", "4821", false)
	h.enrollKey(k, alice, "C1")
	h.enrollKey(k, bob, "C2")
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	v := h.waitPrompt(kiosk.PromptChooseAccount)
	if v.State != kiosk.StateIdentifying || len(v.Accounts) != 2 {
		t.Fatalf("picker view %+v", v)
	}
	pick := -1
	for _, a := range v.Accounts {
		if a.DisplayName == bob.DisplayName {
			pick = a.Index
		}
	}
	h.e.ChooseAccount(pick)
	v = h.waitState(kiosk.StateInSession)
	if v.Session.User != bob.ID {
		t.Fatalf("signed in %v, want bob", v.Session.User)
	}
}

func TestUnknownKeyIsRefused(t *testing.T) {
	h := newHarness(t)
	stranger := newKey("stranger", "1111", false)
	// The key holds a credential for us made elsewhere: enroll then forget.
	h2 := newHarness(t)
	h2.enrollKey(stranger, alice, "X")
	h.keys.Plug(stranger)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("1111"))
	v := h.waitNotice(kiosk.NoticeUnknownKey)
	if v.State != kiosk.StateLocked || len(h.sessions.Started) != 0 {
		t.Fatalf("view %+v", v)
	}
}

func TestPINPromptTimesOutToLockScreen(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C")
	h.keys.Plug(k)
	v := h.waitPrompt(kiosk.PromptPIN)
	h.clock.Advance(v.Deadline.Sub(h.clock.Now()))
	v = h.waitNotice(kiosk.NoticeTimedOut)
	if v.State != kiosk.StateLocked {
		t.Fatalf("state %v", v.State)
	}
	// A PIN typed after the deadline does nothing.
	h.e.EnterPIN([]byte("4821"))
	if h.e.View().State != kiosk.StateLocked || len(h.sessions.Started) != 0 {
		t.Fatal("late PIN signed someone in")
	}
}

func TestNoTouchTimesOutAndCancelsTheDevice(t *testing.T) {
	h := newHarness(t)
	k := newKey("bio", "4821", true)
	h.enrollKey(k, alice, "C")
	k.Hang = true
	h.keys.Plug(k)
	v := h.waitPrompt(kiosk.PromptFingerprint)
	h.clock.Advance(v.Deadline.Sub(h.clock.Now()))
	h.waitNotice(kiosk.NoticeTimedOut)
	if !h.hasAudit(kiosk.EventTimedOut, "timeout") {
		t.Fatalf("audit: %v", h.auditTypes())
	}
}

func TestKeyPulledMidCeremony(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C")
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.keys.Unplug(k)
	v := h.waitNotice(kiosk.NoticeKeyRemoved)
	if v.State != kiosk.StateLocked || v.KeyPresent {
		t.Fatalf("view %+v", v)
	}
}

func TestClonedKeyCounterIsRefusedAndAudited(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C")
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	h.waitState(kiosk.StateInSession)
	h.e.SignOut()
	h.waitNotice(kiosk.NoticeSessionEnded)
	h.unplug(k)
	k.Authenticator(0).Count = 0 // a clone made before the last sign-in
	h.drain()
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	v := h.waitNotice(kiosk.NoticeVerificationFailed)
	if v.Notice.Kind != kiosk.KindCounterRegression || len(h.sessions.Started) != 1 {
		t.Fatalf("notice %+v, sessions %d", v.Notice, len(h.sessions.Started))
	}
	if !h.hasAudit(kiosk.EventPossibleClone, "") {
		t.Fatalf("audit: %v", h.auditTypes())
	}
}

func TestBackoffAfterRepeatedFailures(t *testing.T) {
	h := newHarness(t)
	h.enrollPlatform(alice, "C", "135790")
	v := h.backOff(alice)
	if v.State != kiosk.StateLocked || !v.Notice.Until.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("backoff view %+v notice %+v", v.State, v.Notice)
	}
	// Still in backoff: choosing the tile is refused without asking the TPM.
	signs := h.platform.Signs
	h.e.ChooseUser(alice.ID)
	h.waitNotice(kiosk.NoticeTooManyAttempts)
	h.clock.Advance(31 * time.Second)
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitState(kiosk.StateInSession)
	if h.platform.Signs != signs+1 || !h.hasAudit(kiosk.EventLockout, "backoff") {
		t.Fatalf("signs %d→%d, audit %v", signs, h.platform.Signs, h.auditTypes())
	}
}

// A person in backoff who signs in with a security key is refused after
// the key has said who they are, and the lock screen takes input again at
// once: the refused ceremony does not linger until the key is pulled.
func TestBackoffRefusesAKeySignInAndFreesTheLockScreen(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C1")
	h.enrollPlatform(alice, "C2", "135790")
	h.enrollPlatform(bob, "C3", "246801")
	h.backOff(alice)

	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	v := h.waitNotice(kiosk.NoticeTooManyAttempts)
	if v.State != kiosk.StateLocked || len(h.sessions.Started) != 0 || !h.hasAudit(kiosk.EventRefused, "backoff") {
		t.Fatalf("state %v, %d sessions, audit %v", v.State, len(h.sessions.Started), h.auditTypes())
	}
	// Another person signs in with the key still plugged in.
	h.e.ChooseUser(bob.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("246801"))
	if v := h.waitState(kiosk.StateInSession); v.Session.User != bob.ID {
		t.Fatalf("session for %v", v.Session.User)
	}
}

// Failures count against their own subject: guessing enrollment codes
// does not hold up a person's sign-in, and a key's wrong PINs (before it
// said who this is) do not hold up enrollment.
func TestBackoffSubjectsAreSeparate(t *testing.T) {
	h := newHarness(t)
	h.enrollPlatform(alice, "C1", "135790")
	for i := 0; i < 5; i++ {
		h.e.StartEnrollment("WRONG-CODE")
		h.waitFor("refused code", func(v kiosk.View) bool {
			return v.Notice != nil && (v.Notice.Code == kiosk.NoticeBadEnrollmentCode || v.Notice.Code == kiosk.NoticeTooManyAttempts)
		})
		h.drain()
	}
	h.issueCode("GOOD", bob)
	h.e.StartEnrollment("GOOD")
	h.waitNotice(kiosk.NoticeTooManyAttempts)
	h.e.ChooseUser(alice.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("135790"))
	h.waitState(kiosk.StateInSession)
	h.e.SignOut()
	h.waitPrompt(kiosk.PromptTouchOrChoose)

	h.clock.Advance(time.Hour)
	stranger := wrongKeyPINs(h)
	h.unplug(stranger)
	h.issueCode("GOOD-2", bob)
	h.e.StartEnrollment("GOOD-2")
	h.waitPrompt(kiosk.PromptEnrollChoose)
}

// Switching the terminal off and on does not lift a backoff: a new engine
// on the same records reads the failures back.
func TestBackoffSurvivesARestart(t *testing.T) {
	h := newHarness(t)
	h.enrollPlatform(alice, "C", "135790")
	h.backOff(alice)

	h.clock.Advance(10 * time.Second)
	again := newHarness(t, func(c *Config) { c.Store, c.Platform, c.Clock = h.store, h.platform, h.clock })
	again.e.ChooseUser(alice.ID)
	v := again.waitNotice(kiosk.NoticeTooManyAttempts)
	if !v.Notice.Until.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("backoff until %v after the restart, want %v", v.Notice.Until, t0.Add(30*time.Second))
	}
	// Once it has passed, a correct PIN signs in and clears the history.
	h.clock.Advance(time.Minute)
	again.e.ChooseUser(alice.ID)
	again.waitPrompt(kiosk.PromptPIN)
	again.e.EnterPIN([]byte("135790"))
	again.waitState(kiosk.StateInSession)
	past, _ := h.store.RecentFailures(t0.Add(-time.Hour))
	if len(past[userSubject(alice.ID)]) != 0 {
		t.Fatalf("alice's failures still counted after her sign-in: %v", past)
	}
}

// backOff types wrong platform PINs for u until the engine backs off:
// four wrong PINs ask again, the fifth (policy.Default's MaxFailures)
// sends the person back to the lock screen until t0 + 30 s.
// It returns the backoff's view.
func (h *harness) backOff(u kiosk.User) kiosk.View {
	h.t.Helper()
	h.platform.MaxTries = 100
	h.e.ChooseUser(u.ID)
	h.waitPrompt(kiosk.PromptPIN)
	for i := 1; i <= 4; i++ {
		h.e.EnterPIN([]byte("000000"))
		h.waitFor("wrong PIN", func(v kiosk.View) bool {
			// The person's own tries before their passkey here is
			// suspended, never the TPM's.
			return v.Prompt == kiosk.PromptPIN && v.Notice != nil && v.Notice.Code == kiosk.NoticeWrongPIN && v.Notice.Tries == 10-i
		})
	}
	h.e.EnterPIN([]byte("000000"))
	return h.waitNotice(kiosk.NoticeTooManyAttempts)
}

// wrongKeyPINs plugs in a key nobody here knows and types five wrong
// PINs: three in a row (the key then wants a re-plug), a re-plug, and two
// more. The key's own rules apply; the kiosk adds no backoff for a key
// that has not said who this is (ceremony.subject). It returns the key,
// still plugged in.
func wrongKeyPINs(h *harness) *kiosktest.Key {
	h.t.Helper()
	lockouts := func() (n int) {
		for _, ev := range h.audited() {
			if ev.Type == kiosk.EventLockout {
				n++
			}
		}
		return n
	}
	before := lockouts()
	stranger := newKey("k9", "9999", false)
	wrong := func() kiosk.View {
		h.t.Helper()
		h.waitPrompt(kiosk.PromptPIN)
		h.drain()
		h.last = kiosk.View{} // only what this PIN brings counts
		h.e.EnterPIN([]byte("0000"))
		return h.waitFor("a refusal", func(v kiosk.View) bool {
			return v.Notice != nil && (v.Prompt == kiosk.PromptPIN || v.State == kiosk.StateLocked)
		})
	}
	h.keys.Plug(stranger)
	for i := 0; i < 2; i++ {
		wrong()
	}
	if v := wrong(); v.Notice.Code != kiosk.NoticeReplugKey {
		h.t.Fatalf("third wrong PIN: %+v, want the re-plug notice", v.Notice)
	}
	h.unplug(stranger)
	stranger.Replug()
	h.keys.Plug(stranger)
	wrong()
	if v := wrong(); v.Notice.Code != kiosk.NoticeWrongPIN || v.Notice.Tries != 3 || v.Prompt != kiosk.PromptPIN {
		h.t.Fatalf("fifth wrong PIN: prompt %v notice %+v, want the PIN pad with the key's 3 tries left", v.Prompt, v.Notice)
	}
	if stranger.PINRetries() != 3 || lockouts() != before {
		h.t.Fatalf("key tries left %d, audit %v", stranger.PINRetries(), h.auditTypes())
	}
	return stranger
}

// Wrong PINs on a key that has not said who this is are audited and count
// towards the terminal's spike, but hold up no one: the next key plugged
// in, maybe another of the same model, is asked for its PIN at once.
func TestUnidentifiedKeyFollowsItsOwnPINRules(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C1")
	stranger := wrongKeyPINs(h)
	h.unplug(stranger)
	failed := 0
	for _, ev := range h.audited() {
		if ev.Type == kiosk.EventSignInFailed && ev.Kind == kiosk.KindPINInvalid {
			failed++
		}
	}
	if failed != 4 { // the third was the key's re-plug refusal
		t.Fatalf("%d wrong PINs audited, want 4: %v", failed, h.auditTypes())
	}
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	h.waitState(kiosk.StateInSession)
}

// A sign-in with a key that holds one account looks its credential and
// its person up once, and verifies the assertion once, in the engine: the
// key's adapter passes the assertion on as it came.
func TestKeySignInLooksUpOnce(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "CODE-1")
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	creds0, users0 := h.store.Lookups()
	h.e.EnterPIN([]byte("4821"))
	h.waitState(kiosk.StateInSession)
	creds, users := h.store.Lookups()
	if creds-creds0 != 1 || users-users0 != 1 {
		t.Fatalf("a single-account sign-in looked up %d credentials and %d people, want 1 and 1", creds-creds0, users-users0)
	}
}
