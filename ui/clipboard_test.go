package ui

import (
	"context"
	"testing"
	"time"

	"fyne.io/fyne/v2"
)

// What a session copied is gone from the clipboard after the wipe.
func TestClearClipboardEmptiesIt(t *testing.T) {
	h := newHarness(t, Options{})
	cb := fyne.CurrentApp().Clipboard()
	cb.SetContent("patient 4711: allergic to penicillin")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.ui.ClearClipboard(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cb.Content(); got != "" {
		t.Fatalf("clipboard still holds %q", got)
	}
}
