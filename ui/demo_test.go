package ui

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// fakeKey is a DemoKeyControl that records what the panel asked for.
type fakeKey struct {
	mu      sync.Mutex
	plugged bool
	calls   []string
}

func (k *fakeKey) record(c string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, c)
}

func (k *fakeKey) Plugged() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.plugged
}

func (k *fakeKey) setPlugged(p bool, c string) {
	k.mu.Lock()
	k.plugged = p
	k.mu.Unlock()
	k.record(c)
}

func (k *fakeKey) Plug()   { k.setPlugged(true, "Plug") }
func (k *fakeKey) Unplug() { k.setPlugged(false, "Unplug") }
func (k *fakeKey) Touch()  { k.record("Touch") }
func (k *fakeKey) SetTouch(m TouchMode) {
	k.record([]string{"TouchAccept", "TouchRefuse", "TouchIgnore"}[m])
}
func (k *fakeKey) SetFingerprint(match bool) {
	if match {
		k.record("FingerMatch")
	} else {
		k.record("FingerNoMatch")
	}
}

func (k *fakeKey) take() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.calls
	k.calls = nil
	return c
}

// waitFor polls until cond holds: Plug and Unplug run on their own
// goroutine. The wait is bounded.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func radio(h *harness, option string) *widget.RadioGroup {
	var found *widget.RadioGroup
	walk(h.win.Canvas().Content(), func(o fyne.CanvasObject) {
		if r, ok := o.(*widget.RadioGroup); ok {
			for _, opt := range r.Options {
				if opt == option {
					found = r
				}
			}
		}
	})
	if found == nil {
		h.t.Fatalf("no radio group with %q", option)
	}
	return found
}

func TestDemoPanelDrivesTheVirtualKey(t *testing.T) {
	// Plug and Unplug run through spawn; here they run at once, on the
	// test's goroutine, and the test still waits for them as the panel
	// would.
	defer func(s func(func())) { spawn = s }(spawn)
	spawn = func(f func()) { f() }
	key := &fakeKey{}
	h := newHarness(t, Options{Demo: key})
	h.win.Resize(fyne.NewSize(1600, 900))
	h.ui.Show(lockView(nil))
	if got := key.take(); !reflect.DeepEqual(got, []string{"TouchAccept", "FingerMatch"}) {
		t.Errorf("defaults set: %v", got)
	}
	h.see("Not plugged in")
	if !h.button("Unplug").Disabled() {
		t.Error("Unplug enabled with no key plugged in")
	}
	h.tap("Plug in")
	waitFor(t, "the key to be plugged in", func() bool { return !h.button("Unplug").Disabled() })
	h.see("Plugged in")
	if !h.button("Plug in").Disabled() {
		t.Error("Plug in still enabled")
	}
	radio(h, "Refuse").SetSelected("Refuse")
	radio(h, "Doesn't match").SetSelected("Doesn't match")
	h.tap("Touch the key now")
	h.tap("Unplug")
	waitFor(t, "the key to be pulled out", func() bool { return !h.button("Plug in").Disabled() })
	if got := key.take(); !reflect.DeepEqual(got, []string{"Plug", "TouchRefuse", "FingerNoMatch", "Touch", "Unplug"}) {
		t.Errorf("calls %v", got)
	}
	// The panel stays beside every screen and survives re-renders.
	h.ui.Show(verifying(2, nil))
	h.see("Virtual security key")
	h.see("Not plugged in")
	test.AssertRendersToMarkup(t, "demo/pin-with-panel.xml", h.win.Canvas())
}
