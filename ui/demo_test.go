package ui

import (
	"reflect"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// fakeKey is a DemoKeyControl that records what the panel asked for.
type fakeKey struct {
	plugged bool
	calls   []string
}

func (k *fakeKey) Plugged() bool { return k.plugged }
func (k *fakeKey) Plug()         { k.plugged = true; k.calls = append(k.calls, "Plug") }
func (k *fakeKey) Unplug()       { k.plugged = false; k.calls = append(k.calls, "Unplug") }
func (k *fakeKey) SetTouch(m TouchMode) {
	k.calls = append(k.calls, []string{"TouchAccept", "TouchRefuse", "TouchIgnore"}[m])
}
func (k *fakeKey) SetFingerprint(match bool) {
	if match {
		k.calls = append(k.calls, "FingerMatch")
	} else {
		k.calls = append(k.calls, "FingerNoMatch")
	}
}

func (k *fakeKey) take() []string { c := k.calls; k.calls = nil; return c }

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
	h.see("Plugged in")
	if !h.button("Plug in").Disabled() {
		t.Error("Plug in still enabled")
	}
	radio(h, "Refuse").SetSelected("Refuse")
	radio(h, "Doesn't match").SetSelected("Doesn't match")
	h.tap("Unplug")
	if got := key.take(); !reflect.DeepEqual(got, []string{"Plug", "TouchRefuse", "FingerNoMatch", "Unplug"}) {
		t.Errorf("calls %v", got)
	}
	// The panel stays beside every screen and survives re-renders.
	h.ui.Show(verifying(2, nil))
	h.see("Virtual security key")
	h.see("Not plugged in")
	test.AssertRendersToMarkup(t, "demo/pin-with-panel.xml", h.win.Canvas())
}
