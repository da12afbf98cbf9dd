// Package kiosk is the appliance's vocabulary: the error kinds every layer
// reports in, and (as the engine grows) the states, users, credentials and
// the ports (Authenticator, Store, Clock) that the engine is written against.
//
// It imports nothing outside the standard library, so every other package
// may import it.
package kiosk
