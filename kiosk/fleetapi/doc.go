// Package fleetapi is the wire between passkioskctl and the fleet
// service's admin API (passkiosk-fleetd, package store/fleet/fleetadmin):
// the HTTPS client, the commands the fleet adds to the appliance's
// (terminals, revocations, whoami), and the administrators' role records
// in the cluster, with their one codec.
//
// The fleet speaks the appliance's admin commands (kiosk/admin's command
// names, arguments and results) so that `passkioskctl --fleet URL users
// list` is the same command as on one terminal: a request is
//
//	POST <URL>/v1/admin/<command>   body: the command's arguments as JSON (strict: unknown fields refused)
//
// with the administrator's own client certificate, and the answer is
// admin.Response JSON lines: one, or for streaming commands several with
// More set and a last one without. A refused or failed command is one
// Response with its admin.Error (exit code, kind, message) and an HTTP
// status that says the same (403 refused, 404 not found, 409 conflict…).
//
// It imports only the standard library and kiosk/...: passkioskctl must
// not depend on the store (kiosk/imports_test.go).
package fleetapi
