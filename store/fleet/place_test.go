package fleet

import (
	"io"
	"log/slog"
	"testing"
)

// A batch carries this terminal's own inventory record as its place and
// ignores every other terminal's; a deletion of its own is a removal.
func TestBatchCarriesOnlyTheTerminalsOwnPlace(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	enc := func(tm Terminal) []byte {
		b, err := EncodeTerminal(tm)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := newBatch()
	b.put(TerminalKey("icu-2"), enc(Terminal{Name: "icu-2", Site: "north", Ward: "icu", Labels: map[string]string{"floor": "3"}}))
	b.put(TerminalKey("ward7-1"), enc(Terminal{Name: "ward7-1", Ward: "ward7"}))
	mb := b.mirrorBatch(9, false, "icu-2", log)
	if mb.Place == nil || mb.Place.Ward != "icu" || mb.Place.Labels["floor"] != "3" || mb.PlaceRemoved {
		t.Fatalf("own place %+v removed %v", mb.Place, mb.PlaceRemoved)
	}
	if mb = b.mirrorBatch(9, false, "ward7-1", log); mb.Place == nil || mb.Place.Ward != "ward7" {
		t.Fatalf("ward7-1 got %+v", mb.Place)
	}
	if mb = b.mirrorBatch(9, true, "other", log); mb.Place != nil || mb.PlaceRemoved {
		t.Fatalf("a terminal without a record got %+v", mb.Place)
	}
	b.del(TerminalKey("icu-2"))
	if mb = b.mirrorBatch(10, false, "icu-2", log); mb.Place != nil || !mb.PlaceRemoved {
		t.Fatalf("deleted record: %+v removed %v", mb.Place, mb.PlaceRemoved)
	}
	b = newBatch()
	b.put(TerminalKey("icu-2"), []byte{0xff})
	if mb = b.mirrorBatch(11, false, "icu-2", log); mb.Place != nil || mb.PlaceRemoved {
		t.Fatalf("a record that does not decode was taken: %+v", mb.Place)
	}
}
