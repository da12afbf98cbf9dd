package ui

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/test"
)

var update = flag.Bool("update", false, "rewrite the markup goldens in testdata/screens from what the screens render now")

// TestGoldenScreens renders every screen in every state of screens() and
// compares the markup with testdata/screens/<name>.xml. On a difference
// Fyne writes the new markup to testdata/failed/screens/<name>.xml; look at
// it (and at the PNGs from TestWritePictures), then promote with -update.
func TestGoldenScreens(t *testing.T) {
	for _, s := range screens() {
		t.Run(s.name, func(t *testing.T) {
			h := newHarness(t, Options{Language: s.lang, HelpContact: "ext. 4357", ProgramName: "Ward charts"})
			h.ui.Show(s.view)
			if s.setup != nil {
				s.setup(h)
			}
			name := filepath.Join("screens", s.name+".xml")
			if *update {
				path := filepath.Join("testdata", name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(h.markup()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			test.AssertRendersToMarkup(t, name, h.win.Canvas())
		})
	}
}
