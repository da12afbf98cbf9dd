package ui

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"passkiosk/kiosk"
	"passkiosk/kiosk/engine"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/policy"
)

// engineRig runs the screens on the real engine (over its fakes): taps and
// typing reach the engine, and its Views come back to the screens. Views
// go through a channel and are shown on the test's goroutine, as fyne.Do
// puts them on Fyne's in the appliance.
type engineRig struct {
	*harness
	e        *engine.Engine
	clock    *kiosktest.Clock
	store    *kiosktest.Store
	platform *kiosktest.Platform
	sessions *kiosktest.Sessions
	views    chan kiosk.View
	view     kiosk.View
}

func newEngineRig(t *testing.T) *engineRig {
	t.Helper()
	r := &engineRig{clock: kiosktest.NewClock(t0), store: kiosktest.NewStore(), platform: kiosktest.NewPlatform(),
		sessions: &kiosktest.Sessions{}, views: make(chan kiosk.View, 256)}
	r.store.AddUser(kiosk.User{ID: "u-alice", Name: "anguyen", DisplayName: "Alice Nguyen", Groups: []string{"nurses"}})
	r.store.IssueCode("K7-4821", "u-alice", t0.Add(time.Hour))
	pol := policy.Default()
	pol.Default.Program = []string{"/bin/true"}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	r.e = engine.New(engine.Config{
		Terminal: terminal, Policy: pol, Store: r.store, Keys: kiosktest.NewKeys(), Platform: r.platform,
		Sessions: r.sessions, Clock: r.clock, Publish: func(v kiosk.View) { r.views <- v },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go r.e.Run(ctx)

	test.NewTempApp(t)
	fyne.CurrentApp().Settings().SetTheme(Theme())
	h := &harness{t: t, clock: &clock{t0}}
	h.win = test.NewTempWindow(t, nil)
	h.win.SetPadded(false)
	h.win.Resize(screenSize)
	u, err := New(h.win, r.e, Options{Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.ui = u
	r.harness = h
	r.show(func(v kiosk.View) bool { return v.State == kiosk.StateLocked })
	return r
}

// show puts the engine's Views on screen until one satisfies ok.
func (r *engineRig) show(ok func(kiosk.View) bool) {
	r.t.Helper()
	guard := time.After(10 * time.Second) // a hung test's guard, not a measurement
	for !ok(r.view) {
		select {
		case v := <-r.views:
			r.view = v
			r.ui.Show(v)
		case <-guard:
			r.t.Fatalf("the engine never got there; last view: %v %v %+v", r.view.State, r.view.Prompt, r.view.Notice)
		}
	}
}

func (r *engineRig) showPrompt(p kiosk.Prompt) {
	r.t.Helper()
	r.show(func(v kiosk.View) bool { return v.Prompt == p })
}

// enroll registers a TPM passkey for Alice with her code, through the
// wizard's screens, and waits for her tile on the lock screen.
func (r *engineRig) enroll(pin string) {
	r.t.Helper()
	r.tap("I have an enrollment code")
	r.typeKeys("K7-4821")
	r.key(fyne.KeyReturn)
	r.showPrompt(kiosk.PromptEnrollChoose)
	r.see("Where should your new passkey be kept?")
	r.tap("This terminal")
	r.showPrompt(kiosk.PromptNewPIN)
	r.see("Choose a PIN for this terminal")
	r.see("At least 6 digits") // the policy's minimum, from the engine
	r.tapPIN(pin)
	r.tap("OK")
	r.see("Type the same PIN again")
	r.tapPIN(pin)
	r.tap("OK")
	r.showPrompt(kiosk.PromptEnrollDone)
	r.see("All set")
	r.tap("Done")
	r.show(func(v kiosk.View) bool { return v.State == kiosk.StateLocked && len(v.Tiles) == 1 })
}

// A nurse's first night: enrollment with the code from IT, a wrong PIN
// with the TPM's own count of tries, sign-in, the idle warning cancelled by
// a tap, and sign-out back to the lock screen saying why — every step
// through the screens a person sees, on the real engine.
func TestFlowOnTheEngine(t *testing.T) {
	r := newEngineRig(t)
	r.see("Touch your security key or choose your name")

	r.enroll("135790")

	r.tap("Alice Nguyen")
	r.showPrompt(kiosk.PromptPIN)
	r.see("Signing in as Alice Nguyen")
	r.tapPIN("000000")
	r.tap("OK")
	r.show(func(v kiosk.View) bool { return v.Notice != nil && v.Notice.Code == kiosk.NoticeWrongPIN })
	r.see("Wrong PIN. 9 tries left.") // the person's own: 10 before suspension (the fake TPM allows 5 for everyone)
	r.padZeroed()
	r.tapPIN("135790")
	r.tap("OK")
	r.show(func(v kiosk.View) bool { return v.State == kiosk.StateInSession })
	r.see("Signed in as Alice Nguyen")

	// Five idle minutes: the warning a minute before, then a tap.
	r.clock.Advance(4*time.Minute + time.Second)
	r.showPrompt(kiosk.PromptIdleWarning)
	r.see("Are you still there?")
	test.TapCanvas(r.win.Canvas(), fyne.NewPos(640, 400))
	r.showPrompt(kiosk.PromptSession)
	r.notSee("Are you still there?")

	r.tap("Sign out")
	r.show(func(v kiosk.View) bool { return v.State == kiosk.StateLocked })
	r.see("Your session has ended: you signed out.")
	// Ended by the person: information, not a warning.
	if m := r.markup(); !strings.Contains(m, `rsc="infoIcon"`) || strings.Contains(m, `rsc="warningIcon"`) {
		t.Fatalf("sign-out notice not shown as information:\n%s", m)
	}
	if s := r.sessions.Last(); s == nil || s.Ended() != kiosk.EndLogout {
		t.Fatalf("session %+v", s)
	}
}

// Wrong PINs until the TPM locks out: the screens say so and offer the
// way back, and the lock screen takes input again.
func TestFlowOnTheEngineTPMLockout(t *testing.T) {
	r := newEngineRig(t)
	r.platform.MaxTries = 2
	r.enroll("135790")

	r.tap("Alice Nguyen")
	r.showPrompt(kiosk.PromptPIN)
	r.tapPIN("000000")
	r.tap("OK")
	r.show(func(v kiosk.View) bool { return v.Notice != nil && v.Notice.Code == kiosk.NoticeWrongPIN })
	// The person's own tries (10 before suspension), not the TPM's.
	r.see("Wrong PIN. 9 tries left.")
	r.tapPIN("000000")
	r.tap("OK")
	r.show(func(v kiosk.View) bool { return v.State == kiosk.StateLocked && v.Notice != nil })
	if r.view.Notice.Code != kiosk.NoticePlatformLocked {
		t.Fatalf("notice %+v, want the TPM lockout", r.view.Notice)
	}
	r.see("PIN sign-in on this terminal is paused for 10 minutes after too many wrong PINs")
	r.see("Touch your security key or choose your name")
}
