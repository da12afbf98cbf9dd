// Package kiosk is the appliance's vocabulary, shared by every layer: the
// error kinds (Kind) every layer reports in; the engine's states and
// prompts (State, Prompt) and the View the screens draw; people and
// credentials (User, UserID, Credential); the fixed-number types for what
// crosses layers and is stored — why a session ended (EndCause) and what
// an audit entry records (Event); and the ports the engine is written
// against (RoamingKeys, Platform, Store, Sessions, Clock).
//
// A cause or an event is one number from the engine to the session
// journal and the audit log, with one String each; the numbers are stored,
// so they never change and new ones are added at the end.
//
// Names is the word table of a fixed-number type (State, Kind,
// session.Sandbox, the store's record states): String reads it, a parser
// reads it backwards, and a number it does not hold prints as type(n),
// never as nothing. Prompt, Event and EndCause, numbered densely from 0
// with their own Known checks, index an array instead.
//
// Every is the loop of every periodic chore (the lock screen's clock, the
// fleet's offline check, the window's fit to its output) and OrDefault how
// options take their defaults (a value that is not positive means the
// default; LogOr, a logger that is not set).
//
// It imports nothing outside the standard library, so every other package
// may import it.
package kiosk
