// Package appliance assembles everything of passkiosk but its window: the
// configuration's choices turned into the database, the TPM, the security
// keys (or the demo's virtual key), isolated sessions with crash recovery,
// the sign-in engine, the admin socket, audit forwarding to the journal
// and a syslog collector, and the daemon's side of the window's link
// (kiosk/uilink). cmd/passkioskd runs it as the root daemon; cmd/passkiosk
// --demo runs it in the window's process, joined to the window over the
// same link.
//
// It must not import Fyne, GL or the screens (package ui): the daemon
// that links it holds CAP_SYS_ADMIN and the TPM, and parses nothing the
// display server sends (kiosk/imports_test.go checks it).
//
// What session programs get of the display comes from the configuration
// ([display]), checked here (display.go), never from the window.
package appliance
