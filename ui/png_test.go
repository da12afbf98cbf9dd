package ui

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
)

// TestWritePictures renders every screen to a PNG in $PASSKIOSK_UI_PNG, to
// look at them. It does nothing without that variable.
func TestWritePictures(t *testing.T) {
	dir := os.Getenv("PASSKIOSK_UI_PNG")
	if dir == "" {
		t.Skip("set PASSKIOSK_UI_PNG=dir to write pictures of the screens")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(h *harness, name string) {
		f, err := os.Create(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, h.win.Canvas().Capture()); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range screens() {
		h := newHarness(t, Options{Language: s.lang, HelpContact: "ext. 4357", ProgramName: "Ward charts"})
		h.ui.Show(s.view)
		if s.setup != nil {
			s.setup(h)
		}
		write(h, s.name)
	}
	h := newHarness(t, Options{Demo: &fakeKey{}})
	h.win.Resize(fyne.NewSize(1600, 900))
	h.ui.Show(lockView(nil))
	write(h, "demo-lock")
}
