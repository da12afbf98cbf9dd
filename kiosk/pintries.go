package kiosk

import "time"

// PINTries is what a Store that implements it keeps of each person's
// wrong platform (TPM) PINs in a row, across a restart. The TPM's own
// dictionary-attack counter is one for the whole chip: counted alone, one
// person's typos would lock everyone out. The engine counts per person,
// stricter than the chip, and only a real attack reaches the chip's limit.
//
// A successful sign-in with any of the person's credentials clears the
// count, and so does IT (passkioskctl users unsuspend).
type PINTries interface {
	// PlatformPINTries is the person's wrong PINs in a row and when the
	// last one was typed.
	PlatformPINTries(user UserID) (count int, last time.Time, err error)
	// AddPlatformPINFailure counts one more and returns the new count.
	AddPlatformPINFailure(user UserID, at time.Time) (count int, err error)
	// ClearPlatformPINTries forgets them; it reports whether there were any.
	ClearPlatformPINTries(user UserID) (had bool, err error)
}

// PlatformPause is a Platform that can tell whether the TPM has paused
// PIN sign-in for the whole terminal (a dictionary-attack lockout), so
// the screen says so before anyone types a PIN.
type PlatformPause interface {
	// Paused is how long until the TPM takes a PIN again; 0 when it
	// takes one now or cannot tell.
	Paused() time.Duration
}
