package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"passkiosk/ui/i18n"
)

// TouchMode is how the virtual security key answers a request for a touch.
type TouchMode uint8

const (
	TouchAccept TouchMode = iota // touch when asked
	TouchRefuse                  // refuse (the person declines)
	TouchIgnore                  // never answer, so the wait runs out
)

// DemoKeyControl drives the demo's virtual security key. Plug and Unplug
// are called on a goroutine of their own (plugging in talks to the key and
// may take a moment); the others on the UI goroutine, and must return
// promptly.
type DemoKeyControl interface {
	Plugged() bool
	Plug()
	Unplug()
	SetTouch(TouchMode)
	SetFingerprint(match bool)
	// Touch touches the key once, now: it answers a request that waits
	// for a touch whatever the mode, such as "tap your key to sign out".
	Touch()
}

// DemoKeyChanges is a DemoKeyControl whose key can be plugged in or out
// by something other than its panel: the demo fleet's terminals share
// one key, and plugging it in at one pulls it out of the others. The
// panel calls OnChange once with a function to call (on any goroutine)
// after such a change.
type DemoKeyChanges interface {
	OnChange(func())
}

// spawn runs the demo key's slow calls off the UI goroutine. Tests replace
// it: Fyne's test driver runs fyne.Do on the calling goroutine, so the
// refresh would otherwise race the test reading the widgets.
var spawn = func(f func()) { go f() }

// DemoPanel is the on-screen panel for the virtual security key, in English.
// New adds it beside the screens when Options.Demo is set, in the UI's
// language.
func DemoPanel(ctrl DemoKeyControl) fyne.CanvasObject {
	return demoPanel(ctrl, i18n.MustLoad(i18n.Default))
}

func demoPanel(ctrl DemoKeyControl, tr *i18n.Catalog) fyne.CanvasObject {
	status := widget.NewLabel("")
	status.TextStyle.Bold = true
	var plug, unplug *widget.Button
	refresh := func() {
		if ctrl.Plugged() {
			status.SetText(tr.T("demo.plugged"))
			plug.Disable()
			unplug.Enable()
		} else {
			status.SetText(tr.T("demo.unplugged"))
			plug.Enable()
			unplug.Disable()
		}
	}
	// Both buttons are disabled until the key has answered, so a second
	// tap cannot race the first.
	async := func(f func()) func() {
		return func() {
			plug.Disable()
			unplug.Disable()
			spawn(func() {
				f()
				fyne.Do(refresh)
			})
		}
	}
	plug = button(tr.T("demo.plug"), securityKeyIcon, widget.HighImportance, async(ctrl.Plug))
	unplug = button(tr.T("demo.unplug"), theme.LogoutIcon(), widget.MediumImportance, async(ctrl.Unplug))
	if c, ok := ctrl.(DemoKeyChanges); ok {
		c.OnChange(func() { fyne.Do(refresh) })
	}
	tap := button(tr.T("demo.tap"), theme.RadioButtonCheckedIcon(), widget.MediumImportance, ctrl.Touch)
	refresh()

	touchNames := []string{tr.T("demo.touch.accept"), tr.T("demo.touch.refuse"), tr.T("demo.touch.ignore")}
	touch := widget.NewRadioGroup(touchNames, func(s string) {
		for i, n := range touchNames {
			if n == s {
				ctrl.SetTouch(TouchMode(i))
			}
		}
	})
	touch.Required = true
	touch.SetSelected(touchNames[0])

	fingerNames := []string{tr.T("demo.finger.match"), tr.T("demo.finger.nomatch")}
	finger := widget.NewRadioGroup(fingerNames, func(s string) { ctrl.SetFingerprint(s == fingerNames[0]) })
	finger.Required = true
	finger.SetSelected(fingerNames[0])

	head := widget.NewLabel(tr.T("demo.title"))
	head.TextStyle.Bold = true
	head.SizeName = theme.SizeNameSubHeadingText
	box := container.NewVBox(head, status,
		sized(260, minTouch, plug), sized(260, minTouch, unplug), sized(260, minTouch, tap),
		widget.NewSeparator(), widget.NewLabel(tr.T("demo.touch")), touch,
		widget.NewSeparator(), widget.NewLabel(tr.T("demo.finger")), finger)
	// A different background sets the panel apart from the kiosk's own
	// screens: it is a stand-in for a hand holding a key, not part of them.
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameHeaderBackground))
	return container.NewStack(bg, container.NewPadded(box))
}
