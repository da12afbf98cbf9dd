// Package engine is the appliance's sign-in state machine: who is at the
// terminal, proving it is them, policy decisions, enrollment, and the
// session's life from start to wipe. Every decision is audited through the
// Store port.
//
// The engine talks to the world only through the ports in package kiosk
// (RoamingKeys, Platform, Store, Sessions, Clock) and to the screens only
// by publishing kiosk.View snapshots and receiving kiosk.Commands. It
// verifies every registration and assertion with package fido itself,
// whichever authenticator produced it.
//
// States (kiosk.State): out-of-service, locked, identifying, verifying,
// enrolling, in-session, ending. Where the engine is follows from its
// facts alone, in one function (stateLocked): out of service, a ceremony
// and the step it carries (ceremony.state, ceremony.step, moved on by
// stepLocked), a session starting, running, warned or ending, else the
// lock screen; enterLocked puts that in the View and publishes it. Nothing
// reads the View back to decide. Every wait outside a session is bounded by
// a deadline shown on screen; when it passes, the engine returns to the
// lock screen. Device calls run in their own goroutines under a context
// with a timeout; their results are applied only if the ceremony that
// started them is still the current one (the generation check), so a
// cancelled or timed-out ceremony can never sign anyone in.
//
// Adding a backup from a session (AddBackup) starts with a proof that the
// person is still the one at the terminal: the PIN of their platform
// passkey or a security key registered to them, verified and counted like
// a sign-in (reauth.go); only then does the enrollment begin.
//
// Methods whose names end in Locked need e.mu held. No I/O that can
// block happens under it: audit entries are queued and written just after
// it is released (unlock), and the session's last input is measured
// before it is taken.
//
// It must not import fyne, bbolt, go-tpm or go-libfido2.
package engine
