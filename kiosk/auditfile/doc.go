// Package auditfile is the audit log as it leaves the terminal: the CBOR
// layout of one entry (Wire, which the store writes and hashes), the
// export's JSON lines (Header, Entry) and the check of an exported file
// (Verify). It is pure Go without the database, so passkioskctl can check
// an export anywhere, and the store and the checker share one layout
// instead of two that could drift apart.
package auditfile
