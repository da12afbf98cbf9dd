package store

import "passkiosk/kiosk/auditfile"

// Wire is the entry as the store keeps and hashes it, for code that
// carries entries elsewhere whole (the fleet's audit shipping): its CBOR
// (auditfile.Wire with Hash) is the stored value, and
// auditfile.Body(Wire) is what the chain hash covers after Prev.
func (e *AuditEvent) Wire() auditfile.Wire { return auditfile.Wire(e.wire()) }
