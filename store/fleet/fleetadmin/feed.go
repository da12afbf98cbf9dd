package fleetadmin

import (
	"strconv"
	"sync"

	"passkiosk/kiosk/auditfile"
	"passkiosk/kiosk/fleetapi"
)

// Feed passes the collector's newly archived entries to the audit
// follows in progress. Its Publish is collect.Options.Archived.
type Feed struct {
	mu   sync.Mutex
	subs map[chan fleetapi.AuditHit]struct{}
}

// feedBuffer is how many entries a follow may be behind before it is
// ended: a slow reader must not hold the collector up.
const feedBuffer = 4096

// NewFeed is a feed with no follows.
func NewFeed() *Feed { return &Feed{subs: map[chan fleetapi.AuditHit]struct{}{}} }

// Publish hands terminal's archived entries to every follow; a follow
// whose buffer is full is closed (it says it fell behind).
func (f *Feed) Publish(terminal string, entries []auditfile.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		for _, e := range entries {
			select {
			case ch <- fleetapi.AuditHit{FleetName: terminal, Entry: e}:
				continue
			default:
				close(ch)
				delete(f.subs, ch)
			}
			break
		}
	}
}

func (f *Feed) subscribe() (<-chan fleetapi.AuditHit, func()) {
	ch := make(chan fleetapi.AuditHit, feedBuffer)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.subs[ch]; ok {
			delete(f.subs, ch)
			close(ch)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
