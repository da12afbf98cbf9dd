package ui

import (
	"testing"

	"fyne.io/fyne/v2"
)

// movedKey is a fakeKey that something else can pull out, as the demo
// fleet's other terminal does when the key is plugged in there.
type movedKey struct {
	fakeKey
	changed func()
}

func (k *movedKey) OnChange(f func()) { k.changed = f }

// A key taken to another terminal shows as pulled out on this panel,
// which offers to plug it in again.
func TestDemoPanelFollowsAKeyPluggedInElsewhere(t *testing.T) {
	defer func(s func(func())) { spawn = s }(spawn)
	spawn = func(f func()) { f() }
	key := &movedKey{}
	h := newHarness(t, Options{Demo: key})
	h.win.Resize(fyne.NewSize(1600, 900))
	h.ui.Show(lockView(nil))
	if key.changed == nil {
		t.Fatal("the panel did not ask to hear of changes")
	}
	h.tap("Plug in")
	waitFor(t, "the key to be plugged in", func() bool { return !h.button("Unplug").Disabled() })
	key.setPlugged(false, "plugged in at the other terminal")
	key.changed()
	waitFor(t, "the panel to show the key gone", func() bool { return !h.button("Plug in").Disabled() })
	h.see("Not plugged in")
	if !h.button("Unplug").Disabled() {
		t.Error("Unplug enabled for a key that is at the other terminal")
	}
}
