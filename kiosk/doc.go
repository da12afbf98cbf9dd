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
// Names is the table that gives a fixed-number type its words (and reads
// them back, where configuration names a value): one table per type, and
// a number no table holds prints as type(n), never as nothing.
//
// It imports nothing outside the standard library, so every other package
// may import it.
package kiosk
