package ui

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"passkiosk/kiosk"
)

// t0 is the fixed time every screen test sees: 03:12 on a night shift.
var t0 = time.Date(2026, 11, 25, 3, 12, 0, 0, time.UTC)

// screenSize is a common touch panel (1280×800) at scale 1.
var screenSize = fyne.NewSize(1280, 800)

// call is one command the screens sent.
type call struct {
	name string
	arg  string
}

// recorder is a kiosk.Commands that records what it receives. EnterPIN
// keeps a copy of the PIN and zeroes the original, as the engine does.
type recorder struct {
	mu       sync.Mutex
	calls    []call
	activity int
}

func (r *recorder) add(name, arg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call{name, arg})
}

func (r *recorder) ChooseUser(id kiosk.UserID)          { r.add("ChooseUser", string(id)) }
func (r *recorder) TypeUserName(name string)            { r.add("TypeUserName", name) }
func (r *recorder) ChooseAccount(i int)                 { r.add("ChooseAccount", fmt.Sprint(i)) }
func (r *recorder) Cancel()                             { r.add("Cancel", "") }
func (r *recorder) UseKey()                             { r.add("UseKey", "") }
func (r *recorder) StartEnrollment(code string)         { r.add("StartEnrollment", code) }
func (r *recorder) ChooseAttachment(a kiosk.Attachment) { r.add("ChooseAttachment", a.String()) }
func (r *recorder) AddBackup()                          { r.add("AddBackup", "") }
func (r *recorder) SignOut()                            { r.add("SignOut", "") }
func (r *recorder) StillHere()                          { r.add("StillHere", "") }
func (r *recorder) RelaunchProgram()                    { r.add("RelaunchProgram", "") }
func (r *recorder) Activity() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.activity++
}
func (r *recorder) EnterPIN(pin []byte) {
	r.add("EnterPIN", string(pin))
	zero(pin)
}

// commands returns the recorded calls (Activity is only counted) and
// forgets them.
func (r *recorder) commands() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func (r *recorder) activities() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.activity
}

// clock is a settable time for Options.Now.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

type harness struct {
	t     testing.TB
	ui    *UI
	win   fyne.Window
	cmds  *recorder
	clock *clock
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	test.NewTempApp(t)
	fyne.CurrentApp().Settings().SetTheme(Theme())
	h := &harness{t: t, cmds: &recorder{}, clock: &clock{t0}}
	h.win = test.NewTempWindow(t, nil)
	h.win.SetPadded(false)
	h.win.Resize(screenSize)
	opts.Now = h.clock.Now
	u, err := New(h.win, h.cmds, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.ui = u
	return h
}

func (h *harness) markup() string { return test.RenderToMarkup(h.win.Canvas()) }

// button finds the button whose text is label on the current screen.
func (h *harness) button(label string) *widget.Button {
	h.t.Helper()
	found := h.findButton(label)
	if found == nil {
		h.t.Fatalf("no button %q on screen:\n%s", label, h.markup())
	}
	return found
}

// findButton is the button whose text is label on the current screen, or
// nil.
func (h *harness) findButton(label string) *widget.Button {
	var found *widget.Button
	walk(h.win.Canvas().Content(), func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == label && b.Visible() {
			found = b
		}
	})
	return found
}

// screenText is every text drawn on screen, joined by spaces, so a
// sentence that was wrapped over several lines is found whole.
func (h *harness) screenText() string {
	var parts []string
	walk(h.win.Canvas().Content(), func(o fyne.CanvasObject) {
		if t, ok := o.(*canvas.Text); ok && t.Visible() && t.Text != "" {
			parts = append(parts, t.Text)
		}
	})
	return strings.Join(parts, " ")
}

func (h *harness) hasText(s string) bool {
	return strings.Contains(h.screenText(), s) || strings.Contains(h.markup(), s)
}

// tap taps a button by its label.
func (h *harness) tap(label string) { h.t.Helper(); test.Tap(h.button(label)) }

// walk visits every object under o, through containers and widget
// renderers.
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil {
		return
	}
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, f)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walk(c, f)
		}
	}
}
