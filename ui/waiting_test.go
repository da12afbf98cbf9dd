package ui

import (
	"testing"

	"fyne.io/fyne/v2"

	"passkiosk/kiosk"
)

// When the daemon goes away mid-PIN-entry the window shows a plain
// waiting screen: the digits typed are wiped, nothing can be tapped, and
// the next View from the daemon (reconnected) replaces it with an empty
// pad.
func TestWaitingScreenWipesWhatWasTypedAndOffersNothing(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	h.tapPIN("4711")
	h.see("4 digits entered")

	h.ui.ShowWaiting(false)
	h.see("Waiting for the sign-in service.")
	h.notSee("Signing in as Alice Nguyen")
	h.padZeroed()
	walk(h.win.Canvas().Content(), func(o fyne.CanvasObject) {
		if _, ok := o.(fyne.Tappable); ok && o.Visible() {
			t.Errorf("the waiting screen offers %T to tap", o)
		}
	})
	h.expect() // nothing was sent

	h.ui.Show(verifying(kiosk.PromptPIN, nil))
	h.see("0 digits entered")

	h.ui.ShowWaiting(true)
	h.see("Starting. One moment, please.")
}
