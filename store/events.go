package store

import (
	"fmt"
	"time"
)

// EventType names what an audit event records. Values are stored and
// exported: never renumber them; add new ones at the end.
type EventType uint16

const (
	EventUnknown             EventType = 0
	EventEnrolled            EventType = 1  // a credential was registered
	EventCredentialRemoved   EventType = 2  // a credential was deleted
	EventSignIn              EventType = 3  // a sign-in succeeded
	EventSignInFailed        EventType = 4  // a sign-in failed; Reason says why
	EventLockout             EventType = 5  // a user, credential or terminal was locked out
	EventFailureSpike        EventType = 6  // failures crossed the spike threshold
	EventSessionOpened       EventType = 7  // a session started
	EventSessionEnded        EventType = 8  // a session ended; Cause says why
	EventWipe                EventType = 9  // a workspace was wiped; Items say what went
	EventPolicyChanged       EventType = 10 // a new policy version was stored
	EventUserCreated         EventType = 11 // a user record was created
	EventUserChanged         EventType = 12 // a user record was changed
	EventEnrollCodeIssued    EventType = 13 // a one-time enrollment code was issued
	EventEnrollCodeRedeemed  EventType = 14 // a one-time enrollment code was used
	EventEnrollCodeRefused   EventType = 15 // a code was wrong, expired or used
	EventAuditPruned         EventType = 16 // old audit entries were removed
	EventStoreMigrated       EventType = 17 // the schema was upgraded
	EventServiceStateChanged EventType = 18 // the appliance went in or out of service
	EventPossibleClone       EventType = 19 // a signature counter went backwards (WebAuthn §6.1.1)
	EventAppliance           EventType = 20 // another event the engine reported; Detail["event"] names it
	EventUserRemoved         EventType = 21 // a user and their credentials and codes were deleted
	EventEnrollCodeCancelled EventType = 22 // an unused code was withdrawn by an administrator
	EventEnrollFailed        EventType = 23 // registering a credential failed; Reason says why
	EventSessionEndRequested EventType = 24 // an administrator asked to end the session; Detail["accepted"] says whether the engine took it
)

var eventNames = map[EventType]string{
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
}

func (t EventType) String() string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	return fmt.Sprintf("event(%d)", uint16(t))
}

func (t EventType) known() bool {
	_, ok := eventNames[t]
	return ok && t != EventUnknown
}

// EndCause says why a session ended. Values are stored: never renumber.
type EndCause uint8

const (
	EndUnknown    EndCause = 0
	EndLogout     EndCause = 1 // the person signed out
	EndIdle       EndCause = 2 // idle timeout
	EndKeyRemoved EndCause = 3 // the security key was pulled
	EndTimeLimit  EndCause = 4 // the session's time ran out
	EndAdmin      EndCause = 5 // ended by an administrator
	EndShutdown   EndCause = 6 // the appliance stopped
	EndRecovered  EndCause = 7 // found open after a crash and cleaned up at start
	EndFailed     EndCause = 8 // the session program could not start or died
	EndKeyTapped  EndCause = 9 // the person touched the key they signed in with again
)

var causeNames = map[EndCause]string{
	EndUnknown: "unknown", EndLogout: "logout", EndIdle: "idle",
	EndKeyRemoved: "key-removed", EndTimeLimit: "time-limit", EndAdmin: "admin",
	EndShutdown: "shutdown", EndRecovered: "recovered", EndFailed: "failed",
	EndKeyTapped: "key-tapped",
}

func (c EndCause) String() string {
	if s, ok := causeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("cause(%d)", uint8(c))
}

// Change says who made a change, where and when; mutating methods turn it
// into the audit event they append. A zero At means the store's clock.
type Change struct {
	At       time.Time
	Actor    string // administrator or "self" or "system"
	Terminal string
	Detail   map[string]string
}

func (c Change) event(typ EventType, at time.Time) AuditEvent {
	return AuditEvent{Time: at, Type: typ, Actor: c.Actor, Terminal: c.Terminal, Detail: c.Detail}
}

// mergeDetail returns a new map holding a then b's non-empty values; the
// caller's map is never written to.
func mergeDetail(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v != "" {
			out[k] = v
		}
	}
	return out
}
