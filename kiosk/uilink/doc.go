// Package uilink joins the appliance's two halves: the root daemon
// (cmd/passkioskd), which owns the engine, the TPM, the keys, the records
// and the sessions, and the unprivileged full-screen window
// (cmd/passkiosk), which draws kiosk.Views and turns taps into
// kiosk.Commands. It owns the wire between them and nothing else: it
// neither draws nor decides, and it imports only the standard library and
// the vocabulary in package kiosk.
//
// # Who may connect
//
// The daemon listens on a Unix socket (by default /run/passkiosk/ui.sock,
// mode 0660, group of the window's account). Before it reads a byte it asks
// the kernel who connected (SO_PEERCRED, through kiosk/peercred) and hangs
// up, unread, on anyone but the window's account and root. There is one
// window at a time: a connection that passed the check replaces the one
// before it, which is closed.
//
// # Frames
//
// Every message is a frame: a 4-byte big-endian length n, then n bytes,
// the first of which is the message type. n is at least 1 and at most the
// reader's limit (MaxCommandFrame on the daemon's side, MaxViewFrame on
// the window's). A frame over the limit, of an unknown type, or whose body
// does not decode ends that connection, with one log line saying why, and
// nothing else: the daemon keeps serving, and a window dials again.
//
// Both sides begin with a hello (the magic "passkiosk-ui" and the protocol
// version); a different version is refused. Then:
//
//	daemon → window   view       the current kiosk.View, as JSON: at once,
//	                             then after every change. A slow window is
//	                             sent only the newest View it has not seen;
//	                             the engine never waits for it.
//	window → daemon   command    one kiosk.Commands call (op byte, argument)
//	daemon → window   clipboard  "empty the clipboard" (request number)
//	window → daemon   cleared    its answer (number, ok, why not)
//	either way        ping       sent when nothing else was for Keepalive
//
// Every read and write has a deadline: a write within IOTimeout, a read
// within three Keepalive periods (the other side pings), the hello within
// IOTimeout. A window that stops reading is hung up on; the engine goes on.
//
// # The PIN
//
// EnterPIN's PIN crosses as bytes inside a command frame. The window's
// side zeroes the caller's slice and the frame it built as soon as the
// frame is written; the daemon's side reads each frame into a buffer of
// its own (no bufio), copies the PIN into a fresh slice that the engine
// owns and zeroes (kiosk.Commands.EnterPIN), and zeroes the frame buffer
// before it reads the next. No string of it is made on either side. What
// the kernel's socket buffers held is out of the program's reach.
package uilink
