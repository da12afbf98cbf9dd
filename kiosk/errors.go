package kiosk

import (
	"errors"
	"fmt"
)

// Kind is a stable classification of a failure. The engine and the UI branch
// on kinds, never on error strings. Values are fixed numbers: they are stored
// in the audit log, so never renumber them; add new kinds at the end.
type Kind uint16

const (
	KindUnknown Kind = 0

	// Verification of what an authenticator returned (WebAuthn §7.1, §7.2).
	KindMalformed            Kind = 1  // bytes that do not parse
	KindBadSignature         Kind = 2  // signature does not verify
	KindWrongRP              Kind = 3  // RP ID hash is not ours
	KindNoUserPresence       Kind = 4  // UP flag clear
	KindUVMissing            Kind = 5  // UV required but flag clear
	KindChallenge            Kind = 6  // unknown, expired or replayed challenge
	KindCounterRegression    Kind = 7  // signature counter did not increase: possible clone
	KindUntrustedAttestation Kind = 8  // attestation does not chain to a trust anchor
	KindAlgorithm            Kind = 9  // COSE algorithm not allowed or not supported
	KindClientData           Kind = 10 // client data type, origin or framing wrong
	KindPolicy               Kind = 11 // refused by policy (AAGUID blocked, method off, …)
	KindBadAttestation       Kind = 12 // attestation statement invalid

	// Talking to an authenticator.
	KindPINInvalid     Kind = 20 // wrong PIN; Tries says how many are left
	KindPINAuthBlocked Kind = 21 // 3 wrong in a row: re-plug the key
	KindPINBlocked     Kind = 22 // PIN retries exhausted: key must be reset
	KindPINNotSet      Kind = 23 // the key has no PIN yet
	KindPINPolicy      Kind = 24 // PIN too short, too long or otherwise refused
	KindUVInvalid      Kind = 25 // fingerprint not recognised; Tries says how many are left
	KindUVBlocked      Kind = 26 // built-in UV locked: fall back to PIN
	KindNoCredentials  Kind = 27 // the key holds no credential for us
	KindDeviceGone     Kind = 28 // the key was pulled
	KindTimeout        Kind = 29 // a bounded wait ran out
	KindCancelled      Kind = 30 // cancelled by the caller
	KindDeviceBusy     Kind = 31 // the key is busy with another client
	KindDevice         Kind = 32 // the key misbehaved or reported an error
	KindExcluded       Kind = 33 // the key already holds a credential we excluded
	KindNotAllowed     Kind = 34 // the person refused (no touch) or the operation is not allowed

	// The platform authenticator.
	KindNoTPM      Kind = 40 // no usable TPM 2.0
	KindTPMLockout Kind = 41 // TPM dictionary-attack lockout
	KindTPMCleared Kind = 42 // the TPM was cleared: its keys are gone

	// Records.
	KindStoreCorrupt Kind = 50 // the database does not open or does not verify
	KindStoreLocked  Kind = 51 // another process holds the database
	KindNotFound     Kind = 52 // no such record
	KindConflict     Kind = 53 // record exists or changed underneath

	// The fleet.
	KindOffline Kind = 60 // the fleet directory cannot be reached, and this needs it
)

var kindNames = Names[Kind]{
	KindUnknown:              "unknown",
	KindMalformed:            "malformed",
	KindBadSignature:         "bad-signature",
	KindWrongRP:              "wrong-rp",
	KindNoUserPresence:       "no-user-presence",
	KindUVMissing:            "uv-missing",
	KindChallenge:            "challenge",
	KindCounterRegression:    "counter-regression",
	KindUntrustedAttestation: "untrusted-attestation",
	KindAlgorithm:            "algorithm",
	KindClientData:           "client-data",
	KindPolicy:               "policy",
	KindBadAttestation:       "bad-attestation",
	KindPINInvalid:           "pin-invalid",
	KindPINAuthBlocked:       "pin-auth-blocked",
	KindPINBlocked:           "pin-blocked",
	KindPINNotSet:            "pin-not-set",
	KindPINPolicy:            "pin-policy",
	KindUVInvalid:            "uv-invalid",
	KindUVBlocked:            "uv-blocked",
	KindNoCredentials:        "no-credentials",
	KindDeviceGone:           "device-gone",
	KindTimeout:              "timeout",
	KindCancelled:            "cancelled",
	KindDeviceBusy:           "device-busy",
	KindDevice:               "device",
	KindExcluded:             "excluded",
	KindNotAllowed:           "not-allowed",
	KindNoTPM:                "no-tpm",
	KindTPMLockout:           "tpm-lockout",
	KindTPMCleared:           "tpm-cleared",
	KindStoreCorrupt:         "store-corrupt",
	KindStoreLocked:          "store-locked",
	KindNotFound:             "not-found",
	KindConflict:             "conflict",
	KindOffline:              "offline",
}

func (k Kind) String() string { return kindNames.Name("kind", k) }

// Error is a failure with a stable kind. Op names what was being done
// ("verify assertion", "tpm sign"); Err carries the detail.
type Error struct {
	Kind Kind
	Op   string
	Err  error
	// Tries is the number of attempts left (PIN, fingerprint, TPM lockout)
	// when the kind has such a count and it is known, and -1 otherwise.
	Tries int
}

// E returns an error of the given kind. Tries is -1 (unknown).
func E(kind Kind, op string, err error) *Error {
	return &Error{Kind: kind, Op: op, Err: err, Tries: -1}
}

// Errorf returns an error of the given kind with a formatted detail.
func Errorf(kind Kind, op, format string, args ...any) *Error {
	return E(kind, op, fmt.Errorf(format, args...))
}

// WithTries returns an error of the given kind that knows how many tries
// are left.
func WithTries(kind Kind, op string, tries int, err error) *Error {
	return &Error{Kind: kind, Op: op, Err: err, Tries: tries}
}

func (e *Error) Error() string {
	s := e.Kind.String()
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Tries >= 0 {
		s += fmt.Sprintf(" (%d tries left)", e.Tries)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same kind, so that
// errors.Is(err, kiosk.ErrBadSignature) works however err was wrapped.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind
}

// Sentinels to compare against with errors.Is.
var (
	ErrMalformed            = &Error{Kind: KindMalformed, Tries: -1}
	ErrBadSignature         = &Error{Kind: KindBadSignature, Tries: -1}
	ErrWrongRP              = &Error{Kind: KindWrongRP, Tries: -1}
	ErrNoUserPresence       = &Error{Kind: KindNoUserPresence, Tries: -1}
	ErrUVMissing            = &Error{Kind: KindUVMissing, Tries: -1}
	ErrChallenge            = &Error{Kind: KindChallenge, Tries: -1}
	ErrCounterRegression    = &Error{Kind: KindCounterRegression, Tries: -1}
	ErrUntrustedAttestation = &Error{Kind: KindUntrustedAttestation, Tries: -1}
	ErrAlgorithm            = &Error{Kind: KindAlgorithm, Tries: -1}
	ErrClientData           = &Error{Kind: KindClientData, Tries: -1}
	ErrPolicy               = &Error{Kind: KindPolicy, Tries: -1}
	ErrBadAttestation       = &Error{Kind: KindBadAttestation, Tries: -1}
	ErrPINInvalid           = &Error{Kind: KindPINInvalid, Tries: -1}
	ErrPINAuthBlocked       = &Error{Kind: KindPINAuthBlocked, Tries: -1}
	ErrPINBlocked           = &Error{Kind: KindPINBlocked, Tries: -1}
	ErrPINNotSet            = &Error{Kind: KindPINNotSet, Tries: -1}
	ErrPINPolicy            = &Error{Kind: KindPINPolicy, Tries: -1}
	ErrUVInvalid            = &Error{Kind: KindUVInvalid, Tries: -1}
	ErrUVBlocked            = &Error{Kind: KindUVBlocked, Tries: -1}
	ErrNoCredentials        = &Error{Kind: KindNoCredentials, Tries: -1}
	ErrDeviceGone           = &Error{Kind: KindDeviceGone, Tries: -1}
	ErrTimeout              = &Error{Kind: KindTimeout, Tries: -1}
	ErrCancelled            = &Error{Kind: KindCancelled, Tries: -1}
	ErrDeviceBusy           = &Error{Kind: KindDeviceBusy, Tries: -1}
	ErrDevice               = &Error{Kind: KindDevice, Tries: -1}
	ErrExcluded             = &Error{Kind: KindExcluded, Tries: -1}
	ErrNotAllowed           = &Error{Kind: KindNotAllowed, Tries: -1}
	ErrNoTPM                = &Error{Kind: KindNoTPM, Tries: -1}
	ErrTPMLockout           = &Error{Kind: KindTPMLockout, Tries: -1}
	ErrTPMCleared           = &Error{Kind: KindTPMCleared, Tries: -1}
	ErrStoreCorrupt         = &Error{Kind: KindStoreCorrupt, Tries: -1}
	ErrStoreLocked          = &Error{Kind: KindStoreLocked, Tries: -1}
	ErrNotFound             = &Error{Kind: KindNotFound, Tries: -1}
	ErrConflict             = &Error{Kind: KindConflict, Tries: -1}
)

// KindOf returns the kind of the first *Error in err's chain, or KindUnknown.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// TriesLeft returns the tries count of the first *Error in err's chain, or
// -1 when none is known.
func TriesLeft(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Tries
	}
	return -1
}
