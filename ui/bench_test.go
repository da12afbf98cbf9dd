package ui

import (
	"testing"
	"time"

	"passkiosk/kiosk"
)

// BenchmarkRender measures showing each screen from a View with the test
// driver: building the widgets, laying them out and setting the window's
// content, which every View from the engine costs (Show rebuilds the
// screen each time). BenchmarkRenderCapture adds painting the lock screen
// to pixels with the software painter.
func BenchmarkRender(b *testing.B) {
	for _, s := range screens() {
		if s.setup != nil || s.lang != "" {
			continue
		}
		b.Run(s.name, func(b *testing.B) {
			h := newHarness(b, Options{HelpContact: "ext. 4357", ProgramName: "Ward charts"})
			b.ReportAllocs()
			for b.Loop() {
				h.ui.Show(s.view)
			}
		})
	}
}

func BenchmarkRenderCapture(b *testing.B) {
	h := newHarness(b, Options{})
	b.ReportAllocs()
	for b.Loop() {
		h.ui.Show(lockView(nil))
		_ = h.win.Canvas().Capture()
	}
}

// BenchmarkTick is the once-a-second refresh of the clock and countdowns.
func BenchmarkTick(b *testing.B) {
	h := newHarness(b, Options{})
	h.ui.Show(verifying(kiosk.PromptPIN, until(kiosk.NoticeTooManyAttempts, 30*time.Second)))
	b.ReportAllocs()
	for b.Loop() {
		h.clock.t = h.clock.t.Add(time.Second)
		h.ui.Tick()
	}
}
