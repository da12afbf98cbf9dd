// Command passkioskctl administers a running passkiosk appliance through
// its local admin socket: people, their passkeys, enrollment codes, the
// policy, sessions, the audit log and the appliance's health.
//
// Run "passkioskctl help" for the commands. Output is a table for people
// by default and JSON with --json. Exit codes:
//
//	0  done
//	1  the appliance tried and failed (the message says why), or the command was interrupted
//	2  wrong command line
//	3  refused: you are not root or in the admin group, or the appliance refused
//	4  not found: no such user, credential, code or session
//	5  the appliance cannot be reached (not running, wrong --socket)
//	6  conflict: the record exists or changed since you looked
//	7  invalid input: a policy file or value with errors (each is listed with its line)
//
// It owns the command line and the output formats only: every command goes
// through the appliance's admin socket (package kiosk/admin), or with
// --fleet through the fleet service's admin API over HTTPS with the
// administrator's own client certificate (package kiosk/fleetapi; the
// same commands, plus terminals, revocations and whoami), and the
// command never opens the database itself, so it must not import
// passkiosk/store, bbolt or fyne. "policy validate" is the one command that
// runs without the appliance. "fleet join", "fleet leave" and "fleet
// admin" talk to the etcd cluster itself with its root credentials.
package main
