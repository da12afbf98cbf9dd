// Package admin is the appliance's local admin API: a Unix socket that
// passkioskctl talks to, the peer check that lets only root and members of
// the configured admin group in, the wire protocol, and the handlers that
// turn administrators' commands into audited changes.
//
// # Access
//
// The socket (by default /run/passkiosk/admin.sock) is mode 0660, owned by
// root and the admin group, but file modes are only the first fence: every
// connection's peer is identified by the kernel (SO_PEERCRED, socket(7)),
// its supplementary groups read from /proc/<pid>/status (proc(5)), and it
// is served only if it is root or in the admin group. Everyone else gets a
// refusal that says who they are and what group they would need, at once,
// without the server reading what they send. The peer is checked before
// the connection takes one of the Options.MaxConns slots, and each uid
// other than root holds at most a quarter of them, leaving root a quarter
// (slots.go): a caller over its share is told the appliance is busy, so
// no one caller's idle connections lock the others out. Every
// change is audited by the store, in the same transaction as the change,
// with the administrator's user name, uid and pid. Ending a session is the
// engine's doing, and the engine audits the end: the admin API audits the
// request (who asked, for which session, and whether the engine took it).
//
// # Protocol
//
// One connection carries one request: a line of JSON (Request) of at most
// MaxMessage bytes, read within Options.IOTimeout. The answer is a line of
// JSON (Response), or for audit follow and audit export a stream of them
// with More set, ending with one without. Every read and write has a
// deadline; garbage, oversized lines, unknown commands and unknown fields
// get an Error with an exit code (ExitInvalid, ExitUsage) and the server
// carries on. A handler that panics is logged and answered with an
// internal error; the server keeps serving.
//
// # Records
//
// The handlers reach the database through the Store port, which the
// appliance satisfies with a thin adapter over *store.DB (kiosk/... may
// not import the store), and the engine through Appliance.
//
// It must not import fyne, bbolt, go-tpm, go-libfido2 or passkiosk/store.
package admin
