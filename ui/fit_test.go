package ui

import (
	"testing"

	"fyne.io/fyne/v2"

	"passkiosk/ui/i18n"
)

// smallest is the smallest display the screens are made for: a 1366×768
// laptop panel or a 1280×800 touch panel, at scale 1.
var smallest = fyne.NewSize(1280, 768)

// TestEveryScreenFitsTheSmallestDisplay: nothing may be pushed off screen
// (Fyne would grow the window past a full-screen display, and the bottom,
// where Cancel and Sign out live, would be cut off).
// Every screen is tried in every language: German runs about a third
// longer than English.
func TestEveryScreenFitsTheSmallestDisplay(t *testing.T) {
	for _, s := range screens() {
		for _, lang := range i18n.Languages() {
			if s.lang != "" && s.lang != lang {
				continue
			}
			if s.setup != nil && s.lang == "" && lang != i18n.Default {
				continue // the setup taps English labels
			}
			t.Run(lang+"/"+s.name, func(t *testing.T) {
				h := newHarness(t, Options{Language: lang, HelpContact: "ext. 4357", ProgramName: "Ward charts"})
				h.ui.Show(s.view)
				if s.setup != nil {
					s.setup(h)
				}
				min := h.win.Content().MinSize()
				if min.Width > smallest.Width || min.Height > smallest.Height {
					t.Errorf("needs %v, more than %v", min, smallest)
				}
			})
		}
	}
}

// TestTouchTargets: every button is at least minTouch high and wide, and
// the PIN pad's keys are at least pinKey.
func TestTouchTargets(t *testing.T) {
	for _, s := range screens() {
		t.Run(s.name, func(t *testing.T) {
			h := newHarness(t, Options{Language: s.lang, ProgramName: "Ward charts"})
			h.ui.Show(s.view)
			walk(h.win.Canvas().Content(), func(o fyne.CanvasObject) {
				b, ok := o.(interface {
					fyne.Tappable
					fyne.CanvasObject
				})
				if !ok || !o.Visible() {
					return
				}
				if _, ok := o.(*tapCatcher); ok {
					return
				}
				sz := b.Size()
				if sz.Height < minTouch || sz.Width < minTouch {
					t.Errorf("%T %v is smaller than %d px", o, sz, minTouch)
				}
			})
		})
	}
}
