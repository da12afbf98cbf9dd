package kiosk

import "fmt"

// State is where the sign-in engine is. Values are fixed numbers: they
// appear in the audit log and in status output.
type State uint8

const (
	// StateOutOfService: the appliance cannot sign anyone in (database
	// unreadable, configuration invalid). The screen says to call IT.
	StateOutOfService State = 0
	// StateLocked: waiting for someone: a key to be touched or a name
	// chosen.
	StateLocked State = 1
	// StateIdentifying: finding out who this is (which account on a key,
	// which person typed their name).
	StateIdentifying State = 2
	// StateVerifying: proving it is them (PIN, fingerprint, touch) and
	// checking what the authenticator returned.
	StateVerifying State = 3
	// StateEnrolling: registering a new credential with an enrollment code
	// or as a backup.
	StateEnrolling State = 4
	// StateInSession: someone is signed in and their session runs.
	StateInSession State = 5
	// StateEnding: the session is ending and its traces are being wiped.
	StateEnding State = 6
)

var stateNames = Names[State]{
	StateOutOfService: "out-of-service",
	StateLocked:       "locked",
	StateIdentifying:  "identifying",
	StateVerifying:    "verifying",
	StateEnrolling:    "enrolling",
	StateInSession:    "in-session",
	StateEnding:       "ending",
}

func (s State) String() string { return stateNames.Name("state", s) }

// Prompt is what the person is being asked to do right now.
type Prompt uint8

const (
	PromptNone          Prompt = iota
	PromptTouchOrChoose        // lock screen: touch your key or choose your name
	PromptChooseAccount        // one key holds several accounts: pick one
	PromptPIN                  // enter the PIN (of the key, or of the platform passkey)
	PromptFingerprint          // put your finger on the key's sensor
	PromptTouchKey             // touch the key to confirm presence
	PromptWorking              // checking; nothing to do but wait (bounded)
	PromptEnrollCode           // type the enrollment code IT gave you
	PromptEnrollChoose         // choose: this terminal (platform) or a security key
	PromptNewPIN               // choose a PIN for the new platform passkey (twice)
	PromptInsertKey            // plug in the security key to register
	PromptEnrollDone           // registered; suggest a backup when there is only one
	PromptIdleWarning          // still there? the session ends at View.Session.IdleEndsAt
	PromptSession              // in session, nothing asked
)

var promptNames = [...]string{
	"none", "touch-or-choose", "choose-account", "pin", "fingerprint", "touch-key",
	"working", "enroll-code", "enroll-choose", "new-pin", "insert-key", "enroll-done",
	"idle-warning", "session",
}

func (p Prompt) String() string {
	if int(p) < len(promptNames) {
		return promptNames[p]
	}
	return fmt.Sprintf("prompt(%d)", uint8(p))
}
