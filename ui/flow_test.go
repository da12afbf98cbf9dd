package ui

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"passkiosk/kiosk"
	"passkiosk/ui/i18n"
)

func (h *harness) expect(want ...call) {
	h.t.Helper()
	got := h.cmds.commands()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		h.t.Fatalf("commands %v, want %v", got, want)
	}
}

func (h *harness) see(s string) {
	h.t.Helper()
	if !h.hasText(s) {
		h.t.Fatalf("%q not on screen:\n%s", s, h.markup())
	}
}

func (h *harness) notSee(s string) {
	h.t.Helper()
	if h.hasText(s) {
		h.t.Fatalf("%q on screen", s)
	}
}

// tapPIN taps the PIN pad's keys one by one, as a finger would.
func (h *harness) tapPIN(digits string) {
	h.t.Helper()
	for _, d := range digits {
		b := h.ui.pad.digits[d]
		if b == nil || !b.Visible() {
			h.t.Fatalf("no PIN pad key %q on screen", d)
		}
		test.Tap(b)
	}
}

// key sends a key to whatever has the keyboard focus, or to the window
// when nothing has, as the desktop driver does.
func (h *harness) key(name fyne.KeyName) {
	c := h.win.Canvas()
	if f := c.Focused(); f != nil {
		f.TypedKey(&fyne.KeyEvent{Name: name})
		return
	}
	c.OnTypedKey()(&fyne.KeyEvent{Name: name})
}

func (h *harness) typeKeys(s string) {
	c := h.win.Canvas()
	if f := c.Focused(); f != nil {
		test.Type(f, s)
		return
	}
	test.TypeOnCanvas(c, s)
}

func (h *harness) padZeroed() {
	h.t.Helper()
	for _, b := range h.ui.pad.buf[:cap(h.ui.pad.buf)] {
		if b != 0 {
			h.t.Fatal("the PIN pad's buffer was not zeroed")
		}
	}
}

func TestFlowSignInWithPINOnThePad(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(lockView(nil))
	h.tap("Alice Nguyen")
	h.expect(call{"ChooseUser", "u-alice"})

	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	h.see("Signing in as Alice Nguyen")
	h.tapPIN("4711")
	h.see("4 digits entered")
	h.see("●●●●")
	h.notSee("4711")
	h.expect() // nothing is sent before OK
	h.tap("OK")
	h.expect(call{"EnterPIN", "4711"})
	h.padZeroed()
	h.see("0 digits entered")

	h.ui.Show(verifying(kiosk.PromptWorking, nil))
	h.see("Checking. One moment, please.")
	h.ui.Show(inSession(kiosk.PromptSession, true, false, 0))
	h.see("Signed in as Alice Nguyen")
	h.see("Time left: 7:30:00")
	if h.cmds.activities() == 0 {
		t.Error("taps were not reported as activity")
	}
}

// OK on the PIN pad is enabled only once the PIN is as long as policy
// asks, and the pad says how long that is.
func TestFlowPINPadOKWaitsForTheMinimum(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	ok := h.button("OK")
	h.see("At least 4 digits")
	if !ok.Disabled() {
		t.Fatal("OK is enabled on an empty pad")
	}
	h.tapPIN("471")
	if !ok.Disabled() {
		t.Fatal("OK is enabled with 3 digits of at least 4")
	}
	h.tapPIN("1")
	if ok.Disabled() {
		t.Fatal("OK is disabled with 4 digits of at least 4")
	}
	h.tap("Delete")
	if !ok.Disabled() {
		t.Fatal("OK stays enabled after Delete took the PIN below the minimum")
	}
}

// A notice on the PIN pad screen, short or long, in any language, leaves
// the keys where they were.
func TestPINPadKeysStayPut(t *testing.T) {
	for _, lang := range i18n.Languages() {
		h := newHarness(t, Options{Language: lang, HelpContact: "ext. 4357"})
		h.ui.Show(verifying(kiosk.PromptPIN, nil))
		where := func() fyne.Position {
			return fyne.CurrentApp().Driver().AbsolutePositionForObject(h.ui.pad.digits['5'])
		}
		want := where()
		for _, n := range []*kiosk.Notice{tries(kiosk.NoticeWrongPIN, 2), notice(kiosk.NoticeKeyBlocked),
			until(kiosk.NoticePlatformLocked, 5*time.Minute), notice(kiosk.NoticeVerificationFailed), notice(kiosk.NoticeFingerprintLocked)} {
			h.ui.Show(verifying(kiosk.PromptPIN, n))
			if got := where(); got != want {
				t.Errorf("%s, notice %v: the 5 key moved from %v to %v", lang, n.Code, want, got)
			}
		}
	}
}

// The lock screen's tiles stay where they are when a notice of up to two
// lines comes or goes.
func TestLockScreenTilesStayPut(t *testing.T) {
	for _, lang := range i18n.Languages() {
		h := newHarness(t, Options{Language: lang, HelpContact: "ext. 4357"})
		h.ui.Show(lockView(nil))
		where := func() fyne.Position {
			return fyne.CurrentApp().Driver().AbsolutePositionForObject(h.button("Alice Nguyen"))
		}
		want := where()
		for _, n := range []*kiosk.Notice{
			{Code: kiosk.NoticeSessionEnded, Tries: -1, Detail: "signed out"},
			{Code: kiosk.NoticeSessionEnded, Tries: -1, Detail: "idle"},
			notice(kiosk.NoticeTimedOut), notice(kiosk.NoticeReplugKey), notice(kiosk.NoticeKeyRemoved),
			until(kiosk.NoticeTooManyAttempts, 30*time.Second),
			{Code: kiosk.NoticeNotAllowed, Kind: kiosk.KindNotFound, Tries: -1},
		} {
			h.ui.Show(lockView(n))
			if got := where(); got != want {
				t.Errorf("%s, notice %v: Alice's tile moved from %v to %v", lang, n.Code, want, got)
			}
		}
	}
}

func TestFlowSignInWithPINFromTheKeyboard(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(lockView(nil))
	// The name entry has the focus on the lock screen.
	h.typeKeys("anguyen")
	h.key(fyne.KeyReturn)
	h.expect(call{"TypeUserName", "anguyen"})

	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	if h.win.Canvas().Focused() != h.ui.pad {
		t.Fatalf("focus on %T, want the PIN pad", h.win.Canvas().Focused())
	}
	h.typeKeys("47119")
	h.key(fyne.KeyBackspace)
	h.see("4 digits entered")
	h.notSee("4711")
	h.key(fyne.KeyReturn)
	h.expect(call{"EnterPIN", "4711"})
	h.padZeroed()
	if h.cmds.activities() == 0 {
		t.Error("typing was not reported as activity")
	}
}

func TestFlowWrongPINThenLockout(t *testing.T) {
	h := newHarness(t, Options{HelpContact: "ext. 4357"})
	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	h.tapPIN("1111")
	h.tap("OK")
	h.expect(call{"EnterPIN", "1111"})

	h.ui.Show(verifying(kiosk.PromptPIN, tries(kiosk.NoticeWrongPIN, 2)))
	h.see("Wrong PIN. 2 tries left.")
	h.see("0 digits entered")
	h.tapPIN("2222")
	h.tap("OK")
	h.expect(call{"EnterPIN", "2222"})

	h.ui.Show(verifying(kiosk.PromptPIN, tries(kiosk.NoticeWrongPIN, 1)))
	h.see("Wrong PIN. 1 try left.")
	h.tapPIN("3333")
	h.tap("OK")
	h.expect(call{"EnterPIN", "3333"})

	// The key refuses more PINs until it is plugged in again (CTAP 2.1
	// §6.5.5.5: three wrong in a row block PIN auth until power cycle).
	h.ui.Show(lockView(notice(kiosk.NoticeReplugKey)))
	h.see("Too many wrong PINs in a row. Unplug your security key and plug it in again.")
	h.ui.Show(lockView(notice(kiosk.NoticeKeyBlocked)))
	h.see("Your security key's PIN is blocked. Call IT on ext. 4357.")
	for _, p := range []string{"1111", "2222", "3333"} {
		h.notSee(p)
	}
	h.padZeroed()
}

func TestFlowTooShortPINIsNotSent(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	h.tapPIN("12")
	if !h.button("OK").Disabled() {
		t.Fatal("OK is enabled with 2 digits of at least 4")
	}
	h.see("2 digits entered")
	// Enter on a keyboard says why nothing was sent.
	h.key(fyne.KeyReturn)
	h.expect()
	h.see("That PIN is too short. Use at least 4 digits.")
	h.padZeroed()
	// The next View from the engine replaces the local message.
	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	h.notSee("too short")
}

func TestFlowEnroll(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(lockView(nil))
	h.tap("I have an enrollment code")
	h.see("Type the enrollment code IT gave you")
	if h.win.Canvas().Focused() != h.ui.codeEntry {
		t.Fatalf("focus on %T, want the code entry", h.win.Canvas().Focused())
	}
	h.typeKeys("K7Q2-9XPL")
	h.key(fyne.KeyReturn)
	h.expect(call{"StartEnrollment", "K7Q2-9XPL"})

	// A wrong code: the engine stays locked and says so; the code screen
	// stays up with the message.
	h.ui.Show(lockView(notice(kiosk.NoticeBadEnrollmentCode)))
	h.see("That enrollment code is wrong, already used or expired.")
	h.see("Type the enrollment code IT gave you")
	h.typeKeys("K7Q2-9XPM")
	h.tap("Continue")
	h.expect(call{"StartEnrollment", "K7Q2-9XPM"})

	h.ui.Show(enrolling(kiosk.PromptEnrollChoose, nil))
	h.tap("This terminal")
	h.expect(call{"ChooseAttachment", "platform"})

	h.ui.Show(enrolling(kiosk.PromptNewPIN, nil))
	h.see("Choose a PIN for this terminal")
	h.see("At least 6 digits")
	h.tapPIN("246810")
	h.tap("OK")
	h.see("Type the same PIN again")
	h.tapPIN("246811")
	h.tap("OK")
	h.expect() // different PINs never reach the engine
	h.see("The two PINs are different. Please choose your PIN again.")
	h.see("Choose a PIN for this terminal")
	h.tapPIN("246810")
	h.tap("OK")
	h.tapPIN("246810")
	h.tap("OK")
	h.expect(call{"EnterPIN", "246810"})
	h.notSee("246810")
	h.padZeroed()
	if h.ui.newPIN != nil {
		t.Error("the first copy of the new PIN is still held")
	}

	h.ui.Show(enrolling(kiosk.PromptWorking, nil))
	h.ui.Show(enrolling(kiosk.PromptEnrollDone, notice(kiosk.NoticeBackupSuggested)))
	h.see("All set")
	h.see("You have only one way to sign in.")
	h.tap("Done")
	h.expect(call{"Cancel", ""})

	// Signed in, the session screen offers the backup.
	h.ui.Show(inSession(kiosk.PromptSession, true, true, 0))
	h.tap("Add a backup")
	h.expect(call{"AddBackup", ""})
	h.ui.Show(enrolling(kiosk.PromptEnrollChoose, nil))
	h.tap("Security key")
	h.expect(call{"ChooseAttachment", "roaming"})
	h.ui.Show(enrolling(kiosk.PromptInsertKey, nil))
	h.see("Plug in your security key")
	in := enrolling(kiosk.PromptInsertKey, nil)
	in.KeyPresent = true
	h.ui.Show(in)
	h.see("Touch your security key to register it")
	h.ui.Show(enrolling(kiosk.PromptTouchKey, nil))
	h.see("Setting up sign-in for Dana Okafor")
	h.notSee("Signing in as")
	h.ui.Show(enrolling(kiosk.PromptEnrollDone, notice(kiosk.NoticeEnrolled)))
	h.see("Done. You can sign in with it now.")
	h.tap("Done")
	h.expect(call{"Cancel", ""})
}

func TestEnrollCodeScreenGoesBackWhenLeftAlone(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(lockView(nil))
	h.tap("I have an enrollment code")
	h.see("Back to the start in 2:00")
	h.clock.t = t0.Add(90 * time.Second)
	h.ui.Tick()
	h.see("Back to the start in 0:30")
	h.typeKeys("K7") // typing gives it its time again
	h.ui.Tick()
	h.see("Back to the start in 2:00")
	h.clock.t = h.clock.t.Add(2*time.Minute + time.Second)
	h.ui.Tick()
	h.see("Touch your security key or choose your name")
	h.notSee("K7")
	h.expect()
}

func TestEscapeCancels(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	h.tapPIN("12")
	h.key(fyne.KeyEscape)
	h.expect(call{"Cancel", ""})
	h.ui.Show(verifying(kiosk.PromptFingerprint, nil))
	h.key(fyne.KeyEscape)
	h.expect(call{"Cancel", ""})
}

func TestFlowIdleWarningDismissedByATap(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(inSession(kiosk.PromptIdleWarning, true, false, 45*time.Second))
	h.see("Are you still there?")
	h.see("0:45")
	h.clock.t = t0.Add(10 * time.Second)
	h.ui.Tick()
	h.see("0:35")
	// A tap anywhere, not on any button.
	for _, pos := range []fyne.Position{{X: 40, Y: 700}, {X: 640, Y: 400}, {X: 1200, Y: 100}} {
		test.TapCanvas(h.win.Canvas(), pos)
		h.expect(call{"StillHere", ""})
	}
	h.key(fyne.KeySpace)
	h.expect(call{"StillHere", ""})
	h.ui.Show(inSession(kiosk.PromptSession, true, false, 0))
	h.notSee("Are you still there?")
	h.see("Sign out")
}

func TestFlowSignOut(t *testing.T) {
	h := newHarness(t, Options{ProgramName: "Ward charts"})
	h.ui.Show(inSession(kiosk.PromptSession, false, true, 0))
	h.tap("Start Ward charts again")
	h.expect(call{"RelaunchProgram", ""})
	h.tap("Add a backup")
	h.expect(call{"AddBackup", ""})
	h.tap("Sign out")
	h.expect(call{"SignOut", ""})

	ending := inSession(kiosk.PromptWorking, true, false, 0)
	ending.State = kiosk.StateEnding
	h.ui.Show(ending)
	h.see("Signing out, wiping this session.")
	if b := h.findButton("Cancel"); b != nil {
		t.Error("the wipe offers Cancel")
	}
	// What the engine sends once the wipe is done: the lock screen,
	// saying why the session ended.
	h.ui.Show(lockView(&kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Cause: kiosk.EndLogout}))
	h.see("Your session has ended: you signed out.")
	h.see("Touch your security key or choose your name")

	// The key is still in: one press signs in with it again.
	k := lockView(nil)
	k.KeyPresent = true
	h.ui.Show(k)
	h.tap("Sign in with the security key that is plugged in")
	h.expect(call{"UseKey", ""})
}

// The lock screen is shared: why the last person's session ended shows
// for a few seconds only, while a notice for whoever is at the screen
// stays.
func TestFlowLastPersonsNoticeLeavesTheLockScreen(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(lockView(&kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Detail: "idle"}))
	h.see("Your session has ended")
	h.clock.t = t0.Add(personalNoticeFor - time.Second)
	h.ui.Tick()
	h.see("Your session has ended")
	h.clock.t = t0.Add(personalNoticeFor)
	h.ui.Tick()
	h.notSee("Your session has ended")
	h.see("Touch your security key or choose your name")

	h.ui.Show(lockView(notice(kiosk.NoticeReplugKey)))
	h.clock.t = t0.Add(time.Hour)
	h.ui.Tick()
	h.see("Unplug your security key and plug it in again")
}

// Adding a backup during a session says where the countdown leads: back
// to the session, not to the start.
func TestFlowAddBackupCountdownLeadsBackToTheSession(t *testing.T) {
	h := newHarness(t, Options{})
	v := enrolling(kiosk.PromptEnrollChoose, nil)
	h.ui.Show(v)
	h.see("Back to the start in 2:00")
	v.Session = inSession(kiosk.PromptSession, true, true, 0).Session
	h.ui.Show(v)
	h.see("Back to your session in 2:00")
}

func TestFlowTapToSignOutIsSaid(t *testing.T) {
	h := newHarness(t, Options{})
	v := inSession(kiosk.PromptSession, true, false, 0)
	h.ui.Show(v)
	h.notSee("Or touch your security key to sign out.")
	v.Session.TapToSignOut = true
	h.ui.Show(v)
	h.see("Or touch your security key to sign out.")
	h.ui.Show(lockView(&kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Cause: kiosk.EndKeyTapped}))
	h.see("Your session has ended: you touched your security key.")
}

// A session the fleet's directory ended (a revoked passkey, a disabled
// account) says so, not only that it ended.
func TestFlowARevokedSessionSaysWhy(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(lockView(&kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Cause: kiosk.EndRevoked}))
	h.see("Your session has ended: IT withdrew your passkey or your account.")
}

func TestTypingSurvivesANewViewOfTheSameScreen(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	h.tapPIN("47")
	v := verifying(kiosk.PromptPIN, nil)
	v.KeyPresent = true
	h.ui.Show(v)
	h.see("2 digits entered")
	// A different screen forgets it.
	h.ui.Show(verifying(kiosk.PromptTouchKey, nil))
	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	h.see("0 digits entered")
	h.padZeroed()

	h.ui.Show(lockView(nil))
	h.typeKeys("anguy")
	k := lockView(nil)
	k.KeyPresent = true
	h.ui.Show(k)
	if h.ui.nameEntry.Text != "anguy" {
		t.Errorf("name entry %q after a new View", h.ui.nameEntry.Text)
	}
}

func TestCountdownsTick(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(verifying(kiosk.PromptPIN, until(kiosk.NoticeTooManyAttempts, 30*time.Second)))
	h.see("Back to the start in 0:45")
	h.see("Try again in 0:30.")
	h.clock.t = t0.Add(20 * time.Second)
	h.ui.Tick()
	h.see("Back to the start in 0:25")
	h.see("Try again in 0:10.")
	h.clock.t = t0.Add(31 * time.Second)
	h.ui.Tick()
	h.see("Too many failed attempts. Please wait a moment.")

	h.ui.Show(lockView(nil))
	h.see(">03:12<")
	h.clock.t = time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	h.ui.Tick()
	h.see(">04:00<")
}

func TestPlatformUnavailableHidesNameSignIn(t *testing.T) {
	h := newHarness(t, Options{})
	v := lockView(nil)
	v.PlatformAvailable, v.PlatformReason = false, "no TPM 2.0 found"
	h.ui.Show(v)
	h.see("Plug in your security key and touch it")
	h.see("not available: no TPM 2.0 found")
	h.notSee("Alice Nguyen")
	h.notSee("Type your name")
	h.see("I have an enrollment code")
}

func TestAccountPicker(t *testing.T) {
	h := newHarness(t, Options{})
	for _, s := range screens() {
		if s.name == "accounts" {
			h.ui.Show(s.view)
		}
	}
	h.tap("Night pharmacy  (pharm-night)")
	h.expect(call{"ChooseAccount", "2"})
}

func TestOutOfServiceOffersNothingToPress(t *testing.T) {
	h := newHarness(t, Options{HelpContact: "ext. 4357"})
	h.ui.Show(kiosk.View{State: kiosk.StateOutOfService, Terminal: terminal, OutOfService: "database unreadable"})
	h.see("This terminal is out of service. Call IT.")
	h.see("Reason: database unreadable")
	h.see("IT: ext. 4357")
	n := 0
	walk(h.win.Canvas().Content(), func(o fyne.CanvasObject) {
		if _, ok := o.(fyne.Tappable); ok {
			n++
		}
	})
	if n != 0 {
		t.Errorf("%d tappable objects on the out-of-service screen", n)
	}
}

func TestGermanScreens(t *testing.T) {
	h := newHarness(t, Options{Language: "de_DE.UTF-8"})
	h.ui.Show(verifying(kiosk.PromptPIN, tries(kiosk.NoticeWrongPIN, 2)))
	h.see("Falsche PIN. Noch 2 Versuche.")
	h.ui.Show(lockView(nil))
	h.see("Mittwoch, 25. November")
	if _, err := New(h.win, h.cmds, Options{Language: "xx"}); err == nil || !strings.Contains(err.Error(), "no translation") {
		t.Errorf("New with an unknown language: %v", err)
	}
}

func TestFlowTapUnavailableIsSaid(t *testing.T) {
	h := newHarness(t, Options{})
	v := inSession(kiosk.PromptSession, true, false, 0)
	v.Session.TapUnavailable = true
	h.ui.Show(v)
	h.see("Touch-to-sign-out is unavailable; use Sign out.")
	h.notSee("Or touch your security key to sign out.")
}
