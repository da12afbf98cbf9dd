package admin

import (
	"strconv"
	"time"
)

// FleetStatus is where a fleet terminal stands with the fleet's
// directory: online or since when not, which revision its copy holds and
// when that copy last matched the directory.
type FleetStatus struct {
	Name   string `json:"name"`
	Online bool   `json:"online"`
	// OfflineSince is the last answer from the cluster while offline.
	OfflineSince time.Time `json:"offline_since,omitzero"`
	Revision     int64     `json:"revision"`
	// Current is when the copy last matched the directory.
	Current time.Time `json:"current,omitzero"`
	// Stale: offline longer than offline_max_age; with offline_strict
	// security keys are refused.
	Stale   bool `json:"stale,omitempty"`
	Strict  bool `json:"strict,omitempty"`
	Reloads int  `json:"reloads"`
	// AuditShipped and AuditLocal are the newest audit entry the cluster
	// holds of this terminal's and the newest one here; AuditStopped
	// says why shipping stopped (a fork: a store restored from a backup,
	// or entries pruned before they were shipped), "" while it runs.
	AuditShipped uint64 `json:"audit_shipped"`
	AuditLocal   uint64 `json:"audit_local"`
	AuditStopped string `json:"audit_stopped,omitempty"`
}

// fleetHealth adds the fleet's state to the status: offline is a reason
// for "degraded" (people still sign in from the terminal's copy).
func (c *call) fleetHealth(st *Status) {
	if c.s.opts.Fleet == nil {
		return
	}
	f := c.s.opts.Fleet()
	st.Fleet = &f
	if f.AuditStopped != "" {
		st.Degraded = append(st.Degraded, "fleet: audit shipping stopped at entry "+strconv.FormatUint(f.AuditShipped, 10)+": "+f.AuditStopped)
		if st.Health == "ok" {
			st.Health = "degraded"
		}
	}
	if f.Online {
		return
	}
	why := "fleet: offline since " + f.OfflineSince.Local().Format("15:04") + "; signing people in from this terminal's copy"
	if f.Stale {
		why += ", which is older than the offline limit"
		if f.Strict {
			why += ": security keys are refused"
		}
	}
	st.Degraded = append(st.Degraded, why)
	if st.Health == "ok" {
		st.Health = "degraded"
	}
}
