// Package journald forwards audit entries to the systemd journal with
// structured fields (PASSKIOSK_EVENT=, PASSKIOSK_USER=, …), so a SIEM that
// reads the journal sees every entry as it is written. It speaks the
// journal's native protocol on its datagram socket
// (/run/systemd/journal/socket) in pure Go: no cgo, no libsystemd.
//
// It imports store for the entry type and nothing of the appliance; the
// appliance wires it with store.DB.OnAudit.
package journald
