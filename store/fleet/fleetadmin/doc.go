// Package fleetadmin is the fleet service's admin API: passkioskctl
// --fleet talks to it over HTTPS with the administrator's own client
// certificate, and it reads and changes the directory (package fleet)
// with the service's write role, which administrators never hold
// themselves. Its wire is kiosk/fleetapi: the appliance's admin
// commands, arguments and results (kiosk/admin), so the same
// passkioskctl commands run against one terminal or the whole fleet.
//
// # Who may do what
//
// An administrator is the common name of a client certificate that
// verifies against the administrators' CA (Options.AdminCAs) and has a
// role record in the cluster under /passkiosk/v1/admins/<name>
// (fleetapi.Admin): "admin" reads and changes, "auditor" only reads. The
// record is read on every request, so removing it (`passkioskctl fleet
// admin remove NAME`) takes effect at the next command, without
// reissuing or revoking a certificate. A certificate without a record,
// or an auditor asking for a change, gets 403 and a message that says
// who may grant the role and how.
//
// Why roles in the cluster rather than "any certificate from the admin
// CA": a CA is slow to change (revocation means CRLs on every member and
// the service), it cannot say "may read but not change", and when the
// same CA also signs terminals (the simplest deployment) a stolen
// terminal certificate would be an administrator. Role records are
// written only with the cluster's root credentials (`fleet admin add`),
// as terminals are joined; the admin API has no command that writes
// them, so no administrator can raise their own role.
//
// # Every change says who made it
//
// The administrator's name goes into the record it changes: a person's
// "updated by" (key 8 of the user record), a revocation's "by", a
// policy version's "changed by", a code's "issued by", a terminal's
// "updated by". The service's log has a line for every change (who, the
// command, the record, the etcd revision) and for every refusal.
//
// # What the service's etcd user needs
//
// Besides the directory's write role (dir/, codes/) and the collector's
// (read term/, delete term/*/audit/), the admin API reads admins/ and
// term/ (heartbeats, published sessions, platform credentials) and
// writes term/<name>/end, the end requests (package fleet,
// sessions.go).
//
// It must not import fyne, go-tpm or go-libfido2; like package fleet it
// uses only the etcd client module.
package fleetadmin
