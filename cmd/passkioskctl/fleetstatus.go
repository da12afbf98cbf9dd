package main

import (
	"fmt"
	"io"

	"passkiosk/kiosk/admin"
)

// printFleet is the status's fleet line: online, or offline since when,
// and how current the terminal's copy of the directory is.
func printFleet(w io.Writer, f *admin.FleetStatus) {
	state := "online"
	if !f.Online {
		state = "offline since " + f.OfflineSince.Local().Format("15:04")
		if f.Stale {
			state += ", copy older than the offline limit"
			if f.Strict {
				state += " (security keys refused)"
			}
		}
	}
	fmt.Fprintf(w, "fleet:     %s as %s; copy at revision %d, current %s\n", state, f.Name, f.Revision, when(f.Current, "never"))
	audit := fmt.Sprintf("%d of %d entries shipped", f.AuditShipped, f.AuditLocal)
	if f.AuditStopped != "" {
		audit += "; shipping stopped: " + f.AuditStopped
	}
	fmt.Fprintf(w, "           audit: %s\n", audit)
}
