package ui

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"passkiosk/kiosk"
	"passkiosk/ui/i18n"
)

// UI renders kiosk.Views into one window and turns taps and keys into
// kiosk.Commands.
//
// All fields are touched only on Fyne's main goroutine: Show and Run hop
// onto it with fyne.Do.
type UI struct {
	win  fyne.Window
	cmds kiosk.Commands
	opts Options
	tr   *i18n.Catalog

	view   kiosk.View
	screen screenID

	// What is being typed survives a re-render of the same screen (a key
	// plugged in while a name is typed) and is reset when the screen
	// changes.
	pad       *pinPad
	nameEntry *kioskEntry
	codeEntry *kioskEntry

	// enrollCode is the code entry opened from the lock screen; the engine
	// has no state for it because no code has been sent yet.
	enrollCode      bool
	enrollCodeUntil time.Time

	// newPIN holds the first copy of a new PIN until the second matches.
	newPIN []byte
	// localNotice is a message this package decided on (PINs differ, PIN
	// too short); it shows instead of View.Notice until the next View.
	localNotice *kiosk.Notice
	// personalUntil is when a notice about the last person on the lock
	// screen (their session ended, add a backup) goes; zero when none
	// shows.
	personalUntil time.Time

	live  []liveText
	focus fyne.Focusable
	keys  func(*fyne.KeyEvent) // the current screen's key handler, or nil
	runes func(rune)

	demo fyne.CanvasObject
}

// screenID says which screen is up; inputs reset when it changes.
type screenID struct {
	state  kiosk.State
	prompt kiosk.Prompt
	local  bool // the enrollment code entry opened from the lock screen
	// waiting: the window has no appliance to talk to (ShowWaiting).
	waiting bool
}

// liveText is a text that depends on the clock (a countdown, the time of
// day); Tick refreshes it.
type liveText struct {
	set func(string)
	get func(now time.Time) string
	cur string
}

// New makes the UI for win. It does not show anything until Show is called;
// call Run to keep clocks and countdowns ticking.
func New(win fyne.Window, cmds kiosk.Commands, opts Options) (*UI, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	u := &UI{win: win, cmds: cmds, opts: opts, tr: i18n.MustLoad(opts.Language)}
	u.pad = newPINPad(u.tr, u.padSubmit, u.cmds.Activity)
	u.nameEntry = newKioskEntry(u.tr.T("lock.type_name"), u.submitName, u.cmds.Activity)
	u.codeEntry = newKioskEntry(u.tr.T("enroll.code.placeholder"), u.submitCode, u.enrollActivity)
	u.pad.otherKey = u.screenKey
	u.nameEntry.otherKey = u.screenKey
	u.codeEntry.otherKey = u.screenKey
	if opts.Demo != nil {
		u.demo = demoPanel(opts.Demo, u.tr)
	}
	c := win.Canvas()
	c.SetOnTypedKey(u.typedKey)
	c.SetOnTypedRune(u.typedRune)
	return u, nil
}

// Show renders v. It is safe to call from any goroutine.
func (u *UI) Show(v kiosk.View) {
	fyne.Do(func() { u.render(v) })
}

// ShowWaiting replaces whatever shows with a plain screen saying the
// window waits for the appliance (starting: it has not heard from it
// yet). Nothing on it can be tapped, and what was being typed, a PIN
// included, is wiped: the screen before it may be stale. The next View
// replaces it. It is safe to call from any goroutine.
func (u *UI) ShowWaiting(starting bool) {
	fyne.Do(func() { u.renderWaiting(starting) })
}

func (u *UI) renderWaiting(starting bool) {
	u.enrollCode = false
	u.localNotice = nil
	u.personalUntil = time.Time{}
	u.resetInputs()
	u.codeEntry.SetText("")
	u.screen = screenID{waiting: true}
	u.live = u.live[:0]
	u.focus, u.keys, u.runes = nil, nil, nil
	key := "waiting.appliance"
	if starting {
		key = "waiting.starting"
	}
	content := u.waitingScreen(key)
	if u.demo != nil {
		content = container.NewBorder(nil, nil, nil, u.demo, content)
	}
	u.win.SetContent(content)
}

// SetProgramName changes the session program's name on "Start … again"
// (Options.ProgramName), for a window that learns it from the daemon.
// It is safe to call from any goroutine.
func (u *UI) SetProgramName(name string) {
	fyne.Do(func() { u.opts.ProgramName = name })
}

// Run refreshes the clock and countdowns every second until ctx ends.
func (u *UI) Run(ctx context.Context) {
	kiosk.Every(ctx, time.Second, func() { fyne.Do(u.Tick) })
}

// Tick refreshes everything that depends on the clock and closes the local
// enrollment code screen when it has waited too long. Run calls it every
// second; tests call it after moving their clock.
func (u *UI) Tick() {
	now := u.opts.Now()
	if u.enrollCode && now.After(u.enrollCodeUntil) {
		u.closeEnrollCode()
		return
	}
	if !u.personalUntil.IsZero() && !now.Before(u.personalUntil) {
		u.personalUntil = time.Time{}
		u.view.Notice = nil
		u.redraw()
		return
	}
	for i := range u.live {
		l := &u.live[i]
		if s := l.get(now); s != l.cur {
			l.cur = s
			l.set(s)
		}
	}
}

// personalNoticeFor is how long the lock screen says something about the
// person who was just here (their session ended, how). The lock screen is
// shared: the next person, or anyone passing, should not read it.
const personalNoticeFor = 8 * time.Second

func (u *UI) render(v kiosk.View) {
	u.view = v
	u.localNotice = nil
	u.personalUntil = time.Time{}
	if v.State == kiosk.StateLocked && personal(v.Notice) {
		u.personalUntil = u.opts.Now().Add(personalNoticeFor)
	}
	if v.State != kiosk.StateLocked {
		u.enrollCode = false
	}
	u.redraw()
}

// redraw builds the screen for u.view and the local state.
func (u *UI) redraw() {
	id := screenID{state: u.view.State, prompt: u.view.Prompt, local: u.enrollCode}
	if id != u.screen {
		u.resetInputs()
		u.screen = id
	}
	u.live = u.live[:0]
	u.focus, u.keys, u.runes = nil, nil, nil
	content := u.build(u.view)
	if u.demo != nil {
		content = container.NewBorder(nil, nil, nil, u.demo, content)
	}
	u.win.SetContent(content)
	if u.focus != nil {
		u.win.Canvas().Focus(u.focus)
	}
}

func (u *UI) resetInputs() {
	u.pad.Clear()
	zero(u.newPIN)
	u.newPIN = nil
	u.nameEntry.SetText("")
	if !u.enrollCode {
		u.codeEntry.SetText("")
	}
}

// build picks the screen. State decides first (out of service and the
// session screens do not depend on a prompt), then the prompt.
func (u *UI) build(v kiosk.View) fyne.CanvasObject {
	switch v.State {
	case kiosk.StateOutOfService:
		return u.outOfServiceScreen(v)
	case kiosk.StateInSession:
		if v.Prompt == kiosk.PromptIdleWarning {
			return u.idleScreen(v)
		}
		return u.sessionScreen(v)
	case kiosk.StateEnding:
		return u.endingScreen(v)
	case kiosk.StateLocked:
		if u.enrollCode {
			return u.enrollCodeScreen(v)
		}
	}
	switch v.Prompt {
	case kiosk.PromptChooseAccount:
		return u.accountsScreen(v)
	case kiosk.PromptPIN:
		return u.pinScreen(v)
	case kiosk.PromptFingerprint:
		return u.fingerprintScreen(v)
	case kiosk.PromptTouchKey:
		return u.touchScreen(v)
	case kiosk.PromptWorking:
		return u.workingScreen(v)
	case kiosk.PromptEnrollCode:
		return u.enrollCodeScreen(v)
	case kiosk.PromptEnrollChoose:
		return u.enrollChooseScreen(v)
	case kiosk.PromptNewPIN:
		return u.newPINScreen(v)
	case kiosk.PromptInsertKey:
		return u.insertKeyScreen(v)
	case kiosk.PromptEnrollDone:
		return u.enrollDoneScreen(v)
	case kiosk.PromptIdleWarning:
		return u.idleScreen(v)
	case kiosk.PromptSession:
		return u.sessionScreen(v)
	}
	if v.State == kiosk.StateLocked {
		return u.lockScreen(v)
	}
	// A state and prompt this package does not know: say we are busy and
	// offer the way back, rather than a blank window.
	return u.workingScreen(v)
}

// personal says whether a notice is about the last person rather than
// the one at the screen now.
func personal(n *kiosk.Notice) bool {
	if n == nil {
		return false
	}
	switch n.Code {
	case kiosk.NoticeSessionEnded, kiosk.NoticeBackupSuggested, kiosk.NoticeEnrolled:
		return true
	}
	return false
}

// addLive registers a clock-dependent text and returns its first value.
func (u *UI) addLive(set func(string), get func(time.Time) string) string {
	s := get(u.opts.Now())
	u.live = append(u.live, liveText{set: set, get: get, cur: s})
	return s
}

func (u *UI) typedKey(ev *fyne.KeyEvent) {
	u.cmds.Activity()
	u.screenKey(ev)
}

// screenKey passes a key to the current screen's handler (Escape to go
// back, any key to answer the idle warning).
func (u *UI) screenKey(ev *fyne.KeyEvent) {
	if u.keys != nil {
		u.keys(ev)
	}
}

func (u *UI) typedRune(r rune) {
	u.cmds.Activity()
	if u.runes != nil {
		u.runes(r)
	}
}

// act wraps a button's action: every tap is activity for the engine's idle
// timer, then the action.
func (u *UI) act(f func()) func() {
	return func() {
		u.cmds.Activity()
		f()
	}
}

func zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// ClearClipboard empties the display's clipboard when a session ends: the
// appliance's window takes the clipboard with nothing in it, so nothing
// the last person copied can be pasted by the next. (Under X11 and
// Wayland a selection lives in the client that owns it, so the session's
// programs being gone already drops theirs; this also covers text copied
// in the appliance's own window and any clipboard keeper.) It runs on
// Fyne's goroutine; ctx bounds the wait.
func (u *UI) ClearClipboard(ctx context.Context) error {
	done := make(chan struct{})
	fyne.Do(func() {
		fyne.CurrentApp().Clipboard().SetContent("")
		close(done)
	})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
