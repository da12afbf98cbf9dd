package kiosk

import "fmt"

// Event names what an audit entry records. The numbers are stored in the
// audit log, hashed into its chain and exported: never renumber them; add
// new ones at the end. 1–24 are the store's own from its first schema;
// the engine's events that used to be stored as "appliance" entries with
// their name in the detail got numbers of their own from 25 on.
type Event uint16

const (
	EventUnknown             Event = 0
	EventEnrolled            Event = 1  // a credential was registered
	EventCredentialRemoved   Event = 2  // a credential was deleted
	EventSignIn              Event = 3  // a sign-in succeeded
	EventSignInFailed        Event = 4  // a sign-in failed; Reason says why
	EventLockout             Event = 5  // a person, credential or terminal was locked out
	EventFailureSpike        Event = 6  // failures crossed the spike threshold
	EventSessionOpened       Event = 7  // a session started
	EventSessionEnded        Event = 8  // a session ended; Cause says why
	EventWipe                Event = 9  // a workspace was wiped, or a wipe failed
	EventPolicyChanged       Event = 10 // a new policy version was stored
	EventUserCreated         Event = 11 // a user record was created
	EventUserChanged         Event = 12 // a user record was changed
	EventEnrollCodeIssued    Event = 13 // a one-time enrollment code was issued
	EventEnrollCodeRedeemed  Event = 14 // a one-time enrollment code was used
	EventEnrollCodeRefused   Event = 15 // a code was wrong, expired or used
	EventAuditPruned         Event = 16 // old audit entries were removed
	EventStoreMigrated       Event = 17 // the schema was upgraded
	EventServiceStateChanged Event = 18 // the appliance went in or out of service
	EventPossibleClone       Event = 19 // a signature counter went backwards (WebAuthn §6.1.1)
	EventAppliance           Event = 20 // before schema 6: another engine event, named in Detail["event"]
	EventUserRemoved         Event = 21 // a user and their credentials and codes were deleted
	EventEnrollCodeCancelled Event = 22 // an unused code was withdrawn by an administrator
	EventEnrollFailed        Event = 23 // registering a credential failed; Reason says why
	EventSessionEndRequested Event = 24 // an administrator asked to end the session
	EventRefused             Event = 25 // a sign-in was refused before it began (backoff)
	EventCancelled           Event = 26 // the person cancelled a ceremony
	EventTimedOut            Event = 27 // a ceremony waited too long
	EventKeyRemoved          Event = 28 // a security key was pulled during a ceremony
	EventKeyWithoutPIN       Event = 29 // a key that has no PIN set was refused
	EventFingerprintLocked   Event = 30 // a key's fingerprint sensor is blocked
	EventSessionStartFailed  Event = 31 // the session could not start
	EventProgramExited       Event = 32 // the session program exited by itself
	EventIdleWarning         Event = 33 // the person was warned of the idle timeout
	EventRelaunchFailed      Event = 34 // the session program could not be started again
	EventKeyTapped           Event = 35 // a touch of the signed-in key ended the session
	EventKeyTapFailed        Event = 36 // a touch of the signed-in key could not be verified
	EventPolicyApplied       Event = 37 // the engine took a new policy into use
	EventSandboxFallback     Event = 38 // sessions run in a weaker sandbox than configured (auto fell back)
	EventPlatformUnsuspended Event = 39 // a person's suspended platform passkey was allowed again
	EventTPMLockoutAuthSet   Event = 40 // the appliance set the TPM's lockout authorization and sealed it
	EventTPMLockoutReset     Event = 41 // an administrator reset the TPM's dictionary-attack lockout
	EventReauth              Event = 42 // the person in a session proved it is still them, to add a credential
	EventReauthFailed        Event = 43 // that proof failed; Reason says why
	EventFleetSynced         Event = 44 // the fleet directory's changes reached this terminal's mirror (counts in Detail)
	EventFleetReloaded       Event = 45 // the mirror was loaded in full from the fleet directory
	EventFleetRevoked        Event = 46 // the directory revoked a credential or disabled or removed a person
	EventFleetOffline        Event = 47 // the terminal lost the fleet directory; it signs people in from its mirror
	EventFleetOnline         Event = 48 // the terminal reached the fleet directory again
	EventAuditFork           Event = 49 // this terminal's audit chain and the one it shipped to the fleet differ (a store restored from a backup); shipping stopped
	EventAuditChainBroken    Event = 50 // the fleet's collector refused a terminal's shipped entry (a gap, a bad hash, a fork) and stopped its archive there
)

var eventNames = [...]string{
	EventUnknown:             "unknown",
	EventEnrolled:            "enrolled",
	EventCredentialRemoved:   "credential-removed",
	EventSignIn:              "sign-in",
	EventSignInFailed:        "sign-in-failed",
	EventLockout:             "lockout",
	EventFailureSpike:        "failure-spike",
	EventSessionOpened:       "session-opened",
	EventSessionEnded:        "session-ended",
	EventWipe:                "wipe",
	EventPolicyChanged:       "policy-changed",
	EventUserCreated:         "user-created",
	EventUserChanged:         "user-changed",
	EventEnrollCodeIssued:    "enroll-code-issued",
	EventEnrollCodeRedeemed:  "enroll-code-redeemed",
	EventEnrollCodeRefused:   "enroll-code-refused",
	EventAuditPruned:         "audit-pruned",
	EventStoreMigrated:       "store-migrated",
	EventServiceStateChanged: "service-state-changed",
	EventPossibleClone:       "possible-clone",
	EventAppliance:           "appliance",
	EventUserRemoved:         "user-removed",
	EventEnrollCodeCancelled: "enroll-code-cancelled",
	EventEnrollFailed:        "enroll-failed",
	EventSessionEndRequested: "session-end-requested",
	EventRefused:             "refused",
	EventCancelled:           "cancelled",
	EventTimedOut:            "timeout",
	EventKeyRemoved:          "key-removed",
	EventKeyWithoutPIN:       "key-without-pin",
	EventFingerprintLocked:   "fingerprint-locked",
	EventSessionStartFailed:  "session-start-failed",
	EventProgramExited:       "program-exited",
	EventIdleWarning:         "idle-warning",
	EventRelaunchFailed:      "program-relaunch-failed",
	EventKeyTapped:           "key-tapped",
	EventKeyTapFailed:        "key-tap-failed",
	EventPolicyApplied:       "policy-applied",
	EventSandboxFallback:     "sandbox-fallback",
	EventPlatformUnsuspended: "platform-unsuspended",
	EventTPMLockoutAuthSet:   "tpm-lockout-auth-set",
	EventTPMLockoutReset:     "tpm-lockout-reset",
	EventReauth:              "reauth",
	EventReauthFailed:        "reauth-failed",
	EventFleetSynced:         "fleet-synced",
	EventFleetReloaded:       "fleet-reloaded",
	EventFleetRevoked:        "fleet-revoked",
	EventFleetOffline:        "fleet-offline",
	EventFleetOnline:         "fleet-online",
	EventAuditFork:           "audit-fork",
	EventAuditChainBroken:    "audit-chain-broken",
}

func (t Event) String() string {
	if int(t) < len(eventNames) {
		return eventNames[t]
	}
	return fmt.Sprintf("event(%d)", uint16(t))
}

// Known reports whether t is one of the events above (not EventUnknown).
func (t Event) Known() bool { return t != EventUnknown && int(t) < len(eventNames) }

// Failed reports whether the event is a failure the engine counts
// against a subject (Detail["subject"]).
func (t Event) Failed() bool {
	return t == EventSignInFailed || t == EventEnrollFailed || t == EventKeyTapFailed || t == EventReauthFailed
}

// LegacyEvent reads an entry written before the engine's events had
// numbers: the store kept them as EventAppliance with the event's name in
// the detail, and named session starts and ends by the engine's words.
// Such entries stay as they were written, since the audit chain hashes
// them; readers call this to see them as their events.
func LegacyEvent(name string) Event {
	switch name {
	case "session-start":
		return EventSessionOpened
	case "session-end":
		return EventSessionEnded
	case "spike":
		return EventFailureSpike
	}
	for t, n := range eventNames {
		if n == name && Event(t) != EventAppliance {
			return Event(t)
		}
	}
	return EventUnknown
}

// EndCause says why a session ended. The numbers are stored in the
// session journal and the audit log: never renumber them; add new ones at
// the end.
type EndCause uint8

const (
	EndUnknown    EndCause = 0
	EndLogout     EndCause = 1  // the person signed out
	EndIdle       EndCause = 2  // no input for the idle timeout
	EndKeyRemoved EndCause = 3  // the security key was pulled
	EndTimeLimit  EndCause = 4  // the session's time ran out
	EndAdmin      EndCause = 5  // ended by an administrator
	EndShutdown   EndCause = 6  // the appliance stopped
	EndRecovered  EndCause = 7  // found open after a crash and wiped at start
	EndFailed     EndCause = 8  // the session program could not start
	EndKeyTapped  EndCause = 9  // the person touched the key they signed in with
	EndSuperseded EndCause = 10 // started while the engine had moved on; ended at once
	EndRevoked    EndCause = 11 // the fleet directory revoked the credential or disabled the person
)

var causeNames = [...]string{
	EndUnknown: "unknown", EndLogout: "logout", EndIdle: "idle",
	EndKeyRemoved: "key-removed", EndTimeLimit: "time-limit", EndAdmin: "admin",
	EndShutdown: "shutdown", EndRecovered: "recovered", EndFailed: "failed",
	EndKeyTapped: "key-tapped", EndSuperseded: "superseded", EndRevoked: "revoked",
}

func (c EndCause) String() string {
	if int(c) < len(causeNames) {
		return causeNames[c]
	}
	return fmt.Sprintf("cause(%d)", uint8(c))
}

// Known reports whether c is one of the causes above (not EndUnknown).
func (c EndCause) Known() bool { return c != EndUnknown && int(c) < len(causeNames) }

// ByPerson reports whether the person ended the session themselves, so
// the lock screen says so as information rather than as a warning.
func (c EndCause) ByPerson() bool { return c == EndLogout || c == EndKeyTapped }
