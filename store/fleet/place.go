package fleet

import (
	"log/slog"

	"passkiosk/store"
)

// placeOf files a change of a terminal's inventory record in a mirror
// batch, if the record is this terminal's: the terminal keeps its own
// place (for the policy's place rules) and ignores every other
// terminal's. A record that does not decode is left out and logged, as
// any other.
func placeOf(mb *store.MirrorBatch, k string, v []byte, terminal string, log *slog.Logger) {
	if terminal == "" || k != TerminalKey(terminal) {
		return
	}
	if v == nil {
		mb.Place, mb.PlaceRemoved = nil, true
		return
	}
	t, err := DecodeTerminal(v)
	if err != nil || t.Name != terminal {
		log.Error("fleet: this terminal's inventory record does not decode or names another; left out", "key", k, "err", err, "name", t.Name)
		return
	}
	mb.Place = &store.Place{Site: t.Site, Ward: t.Ward, Labels: t.Labels, Updated: t.Updated, UpdatedBy: t.UpdatedBy}
	mb.PlaceRemoved = false
}
