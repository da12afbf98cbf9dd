package store

import "sync"

// forwarder hands every audit entry committed after OnAudit to fn, in
// order, each once.
type forwarder struct {
	mu   sync.Mutex
	fn   func(AuditEvent)
	last uint64 // the newest entry handed over
}

// OnAudit calls fn with every audit entry committed from now on, in
// sequence order and each once, right after the transaction that wrote
// it commits (SIEM forwarding: journald). fn runs on the writer's
// goroutine, after the write has returned its lock: it must be quick and
// must not write to the store. Entries written before the call are not
// replayed. A second call replaces fn.
func (db *DB) OnAudit(fn func(AuditEvent)) error {
	head, _, err := db.AuditHead()
	if err != nil {
		return err
	}
	db.fwd.Store(&forwarder{fn: fn, last: head})
	return nil
}

// forward hands over the entries committed since the last call.
func (db *DB) forward() {
	f := db.fwd.Load()
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		evs, err := db.Events(f.last+1, 256)
		if err != nil || len(evs) == 0 {
			return
		}
		for _, e := range evs {
			f.fn(e)
			f.last = e.Seq
		}
	}
}
