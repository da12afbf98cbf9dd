package ui

import (
	"testing"
	"time"
)

// A fleet terminal that cannot reach its directory says so, small, on the
// lock screen, and still offers every way to sign in.
func TestLockScreenShowsOfflineSince(t *testing.T) {
	h := newHarness(t, Options{})
	v := lockView(nil)
	h.ui.Show(v)
	h.notSee("Offline since")
	v.OfflineSince = time.Date(2026, 12, 6, 14, 2, 0, 0, time.Local)
	h.ui.Show(v)
	h.see("Offline since 14:02")
	h.see("I have an enrollment code")
	h.see("Alice Nguyen")
}
