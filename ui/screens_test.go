package ui

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"passkiosk/kiosk"
)

// screen is one screen in one state, for goldens, pictures and benchmarks.
type screen struct {
	name  string
	lang  string
	view  kiosk.View
	setup func(h *harness) // input typed after the View is shown
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func notice(c kiosk.NoticeCode) *kiosk.Notice { return &kiosk.Notice{Code: c, Tries: -1} }

func tries(c kiosk.NoticeCode, n int) *kiosk.Notice { return &kiosk.Notice{Code: c, Tries: n} }

func offerKey(n *kiosk.Notice) *kiosk.Notice { n.OfferKey = true; return n }

func until(c kiosk.NoticeCode, d time.Duration) *kiosk.Notice {
	return &kiosk.Notice{Code: c, Tries: -1, Until: at(d)}
}

const terminal = "Ward 4B · Station 2"

var tiles = []kiosk.Tile{
	{User: "u-alice", DisplayName: "Alice Nguyen"},
	{User: "u-bob", DisplayName: "Bob Schmidt"},
	{User: "u-carla", DisplayName: "Carla Díaz"},
	{User: "u-max", DisplayName: "Maximiliane Schmidt-Hofmann"},
}

func lockView(n *kiosk.Notice) kiosk.View {
	return kiosk.View{State: kiosk.StateLocked, Prompt: kiosk.PromptTouchOrChoose, Terminal: terminal,
		Tiles: tiles, PlatformAvailable: true, PINMinLength: 4, Notice: n}
}

func verifying(p kiosk.Prompt, n *kiosk.Notice) kiosk.View {
	return kiosk.View{State: kiosk.StateVerifying, Prompt: p, Terminal: terminal, Who: "Alice Nguyen",
		PlatformAvailable: true, PINMinLength: 4, Deadline: at(45 * time.Second), Notice: n}
}

func enrolling(p kiosk.Prompt, n *kiosk.Notice) kiosk.View {
	return kiosk.View{State: kiosk.StateEnrolling, Prompt: p, Terminal: terminal, Who: "Dana Okafor",
		PlatformAvailable: true, PINMinLength: 6, Deadline: at(2 * time.Minute), Notice: n}
}

func inSession(p kiosk.Prompt, running, backup bool, idle time.Duration) kiosk.View {
	s := &kiosk.SessionView{User: "u-alice", DisplayName: "Alice Nguyen", Started: at(-time.Hour),
		EndsAt: at(7*time.Hour + 30*time.Minute), ProgramRunning: running, BackupMissing: backup}
	if idle > 0 {
		s.IdleEndsAt = at(idle)
	}
	return kiosk.View{State: kiosk.StateInSession, Prompt: p, Terminal: terminal, Who: "Alice Nguyen", Session: s}
}

func typePIN(pin string) func(h *harness) {
	return func(h *harness) { test.Type(h.ui.pad, pin) }
}

func typePINs(pins ...string) func(h *harness) {
	return func(h *harness) {
		for _, p := range pins {
			test.Type(h.ui.pad, p)
			h.tap("OK")
		}
	}
}

func screens() []screen {
	keyOnly := lockView(nil)
	keyOnly.PlatformAvailable, keyOnly.PlatformReason, keyOnly.Tiles = false, "no TPM 2.0 found", nil
	keyIn := lockView(nil)
	keyIn.KeyPresent, keyIn.Tiles = true, nil
	keyIn2 := enrolling(kiosk.PromptInsertKey, nil)
	keyIn2.KeyPresent = true
	accounts := verifying(kiosk.PromptChooseAccount, nil)
	accounts.State, accounts.Who = kiosk.StateIdentifying, "" // as the engine sends it
	accounts.Accounts = []kiosk.Account{
		{Index: 0, DisplayName: "Alice Nguyen", Name: "anguyen"},
		{Index: 1, DisplayName: "Alice Nguyen (admin)", Name: "anguyen-adm"},
		{Index: 2, DisplayName: "Night pharmacy", Name: "pharm-night"},
	}
	oos := kiosk.View{State: kiosk.StateOutOfService, Terminal: terminal, OutOfService: "the sign-in database does not open (store-corrupt)"}
	many := lockView(notice(kiosk.NoticeTimedOut))
	many.KeyPresent = true
	for i := range 8 {
		many.Tiles = append(many.Tiles, kiosk.Tile{User: kiosk.UserID(fmt.Sprint("u-", i)), DisplayName: fmt.Sprint("Person ", i+1)})
	}
	tapOut := inSession(kiosk.PromptSession, true, false, 0)
	tapOut.Session.TapToSignOut = true
	ending := inSession(kiosk.PromptWorking, true, false, 0)
	ending.State = kiosk.StateEnding
	codeBad := enrolling(kiosk.PromptEnrollCode, notice(kiosk.NoticeBadEnrollmentCode))
	codeBad.Who = ""
	reauth := func(p kiosk.Prompt, n *kiosk.Notice) kiosk.View {
		v := verifying(p, n)
		v.Reauth, v.PINMinLength, v.Session = true, 6, inSession(kiosk.PromptSession, true, true, 0).Session
		return v
	}
	notConfirmed := func(n *kiosk.Notice) kiosk.View {
		v := inSession(kiosk.PromptSession, true, true, 0)
		v.Notice = n
		return v
	}
	return []screen{
		{name: "lock", view: lockView(nil)},
		{name: "lock-key-present", view: keyIn},
		{name: "lock-platform-unavailable", view: keyOnly},
		{name: "lock-unknown-key", view: lockView(notice(kiosk.NoticeUnknownKey))},
		{name: "lock-replug-key", view: lockView(notice(kiosk.NoticeReplugKey))},
		{name: "lock-key-blocked", view: lockView(notice(kiosk.NoticeKeyBlocked))},
		{name: "lock-platform-locked", view: lockView(offerKey(until(kiosk.NoticePlatformLocked, 5*time.Minute)))},
		{name: "lock-platform-locked-ask-it", view: lockView(until(kiosk.NoticePlatformLocked, 14*time.Minute+38*time.Second))},
		{name: "lock-platform-suspended", view: lockView(offerKey(&kiosk.Notice{Code: kiosk.NoticePlatformSuspended, Tries: 0}))},
		{name: "pin-wrong-own-tries", view: verifying(kiosk.PromptPIN, tries(kiosk.NoticeWrongPIN, 7))},
		{name: "lock-too-many-attempts", view: lockView(until(kiosk.NoticeTooManyAttempts, 30*time.Second))},
		{name: "lock-timed-out", view: lockView(notice(kiosk.NoticeTimedOut))},
		{name: "lock-no-sign-in-for-name", view: lockView(&kiosk.Notice{Code: kiosk.NoticeNotAllowed, Kind: kiosk.KindNotFound, Tries: -1,
			Detail: "no passkey for that name on this terminal"})},
		{name: "lock-many-tiles", view: many},
		{name: "lock-session-ended-idle", view: lockView(&kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Cause: kiosk.EndIdle})},
		{name: "enroll-code", view: lockView(nil), setup: func(h *harness) { h.tap("I have an enrollment code") }},
		{name: "enroll-code-bad", view: codeBad},
		{name: "pin", view: verifying(kiosk.PromptPIN, nil)},
		{name: "pin-typed", view: verifying(kiosk.PromptPIN, nil), setup: typePIN("4711")},
		{name: "pin-wrong-2-left", view: verifying(kiosk.PromptPIN, tries(kiosk.NoticeWrongPIN, 2))},
		{name: "pin-wrong-1-left", view: verifying(kiosk.PromptPIN, tries(kiosk.NoticeWrongPIN, 1))},
		{name: "pin-fingerprint-locked", view: verifying(kiosk.PromptPIN, notice(kiosk.NoticeFingerprintLocked))},
		{name: "fingerprint", view: verifying(kiosk.PromptFingerprint, nil)},
		{name: "fingerprint-failed-3-left", view: verifying(kiosk.PromptFingerprint, tries(kiosk.NoticeFingerprintFailed, 3))},
		{name: "touch-key", view: verifying(kiosk.PromptTouchKey, nil)},
		{name: "accounts", view: accounts},
		{name: "accounts-unknown", view: func() kiosk.View { v := accounts; v.UnknownAccounts = 1; return v }()},
		{name: "working", view: verifying(kiosk.PromptWorking, nil)},
		{name: "ending", view: ending},
		{name: "enroll-choose", view: enrolling(kiosk.PromptEnrollChoose, nil)},
		{name: "new-pin", view: enrolling(kiosk.PromptNewPIN, nil)},
		{name: "new-pin-again", view: enrolling(kiosk.PromptNewPIN, nil), setup: typePINs("246810")},
		{name: "new-pin-mismatch", view: enrolling(kiosk.PromptNewPIN, nil), setup: typePINs("246810", "246811")},
		{name: "new-pin-too-short", view: enrolling(kiosk.PromptNewPIN, nil), setup: func(h *harness) {
			// OK waits for the minimum; Enter on a keyboard does not.
			test.Type(h.ui.pad, "123")
			h.key(fyne.KeyReturn)
		}},
		{name: "insert-key", view: enrolling(kiosk.PromptInsertKey, nil)},
		{name: "insert-key-present", view: keyIn2},
		{name: "enroll-touch-key", view: enrolling(kiosk.PromptTouchKey, nil)},
		{name: "enroll-done", view: enrolling(kiosk.PromptEnrollDone, notice(kiosk.NoticeEnrolled))},
		{name: "enroll-done-backup", view: enrolling(kiosk.PromptEnrollDone, notice(kiosk.NoticeBackupSuggested))},
		{name: "session", view: inSession(kiosk.PromptSession, true, false, 0)},
		{name: "session-tap-to-sign-out", view: tapOut},
		{name: "session-program-exited-backup-missing", view: inSession(kiosk.PromptSession, false, true, 0)},
		{name: "idle-warning", view: inSession(kiosk.PromptIdleWarning, true, false, 45*time.Second)},
		{name: "out-of-service", view: oos},
		{name: "reauth-pin", view: reauth(kiosk.PromptPIN, nil)},
		{name: "reauth-pin-wrong", view: reauth(kiosk.PromptPIN, tries(kiosk.NoticeWrongPIN, 8))},
		{name: "reauth-touch-key", view: reauth(kiosk.PromptTouchKey, nil)},
		{name: "reauth-insert-key", view: reauth(kiosk.PromptInsertKey, nil)},
		{name: "session-backup-not-confirmed", view: notConfirmed(&kiosk.Notice{Code: kiosk.NoticeBackupNotConfirmed, Kind: kiosk.KindTimeout, Tries: -1})},
		{name: "session-backup-cancelled", view: notConfirmed(&kiosk.Notice{Code: kiosk.NoticeBackupNotConfirmed, Kind: kiosk.KindCancelled, Tries: -1})},
		{name: "session-backup-fleet", view: notConfirmed(&kiosk.Notice{Code: kiosk.NoticeBackupNotConfirmed, Kind: kiosk.KindNotAllowed, Tries: -1})},
		{name: "session-backup-not-confirmed-backoff", view: notConfirmed(&kiosk.Notice{Code: kiosk.NoticeBackupNotConfirmed, Kind: kiosk.KindPolicy, Tries: -1, Until: at(90 * time.Second)})},
		{name: "de-reauth-pin", lang: "de", view: reauth(kiosk.PromptPIN, nil)},
		{name: "de-lock", lang: "de", view: lockView(nil)},
		{name: "de-pin-wrong-2-left", lang: "de", view: verifying(kiosk.PromptPIN, tries(kiosk.NoticeWrongPIN, 2))},
		{name: "de-idle-warning", lang: "de", view: inSession(kiosk.PromptIdleWarning, true, false, 45*time.Second)},
	}
}
