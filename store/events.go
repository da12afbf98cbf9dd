package store

import (
	"time"

	"passkiosk/kiosk"
)

// Change says who made a change, where and when; mutating methods turn it
// into the audit event they append. A zero At means the store's clock.
type Change struct {
	At       time.Time
	Actor    string // administrator or "self" or "system"
	Terminal string
	Detail   map[string]string
}

func (c Change) event(typ kiosk.Event, at time.Time) AuditEvent {
	return AuditEvent{Time: at, Type: typ, Actor: c.Actor, Terminal: c.Terminal, Detail: c.Detail}
}

// mergeDetail returns a new map holding a then b's non-empty values; the
// caller's map is never written to.
func mergeDetail(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v != "" {
			out[k] = v
		}
	}
	return out
}
