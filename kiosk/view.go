package kiosk

import "time"

// View is everything a screen shows: a snapshot the engine publishes after
// every change. Screens are functions of it; they never reach into the
// engine.
type View struct {
	State    State
	Prompt   Prompt
	Terminal string // terminal name shown on the lock screen

	// Notice is the last thing to tell the person (a wrong PIN with tries
	// left, a key to re-plug, why a session ended), or nil.
	Notice *Notice

	// Lock screen.
	Tiles             []Tile // recent users; empty when policy hides them
	PlatformAvailable bool   // TPM passkeys can be used here
	PlatformReason    string // why not, when they cannot (shown small, and to admins)
	KeyPresent        bool   // a security key is plugged in

	// Identifying and verifying.
	Who      string    // display name of the person being signed in, when known
	Accounts []Account // for PromptChooseAccount
	// UnknownAccounts counts the accounts the key offered that are not
	// registered here (PromptChooseAccount), so the picker can say why
	// someone's account is missing from it.
	UnknownAccounts int
	// PINMinLength is the shortest PIN the PIN pad accepts (for PromptPIN
	// and PromptNewPIN).
	PINMinLength int
	// Reauth: the person in the session is proving it is still them
	// (their current PIN, or a touch of a security key registered to
	// them) before a new credential is registered for them; the PIN,
	// fingerprint, touch and insert-key prompts are for that proof.
	Reauth bool
	// Deadline is when the current bounded wait ends and the screen goes
	// back to the lock screen; zero when nothing is waited for.
	Deadline time.Time

	// Session is set in StateInSession and StateEnding.
	Session *SessionView

	// OutOfService is why the appliance is out of service.
	OutOfService string

	// OfflineSince is when this terminal last reached its fleet's
	// directory, while it cannot; zero when it can, or is in no fleet.
	// People still sign in from the terminal's copy; the lock screen
	// shows a small "offline since hh:mm".
	OfflineSince time.Time
}

// Tile is a person on the lock screen.
type Tile struct {
	User        UserID
	DisplayName string
}

// Account is one account offered in the picker when a key holds several.
type Account struct {
	Index       int
	DisplayName string
	Name        string
}

// SessionView is what the in-session screen shows.
type SessionView struct {
	User        UserID
	DisplayName string
	Started     time.Time
	EndsAt      time.Time // maximum duration
	// IdleEndsAt is when the session ends for inactivity, set while the
	// idle warning shows.
	IdleEndsAt     time.Time
	ProgramRunning bool // false when the session program exited: offer to start it again
	// BackupMissing: the person has fewer credentials than policy asks
	// for; suggest registering a backup.
	BackupMissing bool
	// TapToSignOut: the security key signed in with waits for a touch
	// that ends the session.
	TapToSignOut bool
	// TapUnavailable: tap to sign out was on for this session but has
	// stopped for good (the key failed, was pulled, or answered with
	// something that did not verify); the screen says to use Sign out.
	TapUnavailable bool
}

// Notice is a message for the person. The screens translate it from its
// code; Kind and Tries carry the facts.
type Notice struct {
	Code  NoticeCode
	Kind  Kind // the error kind behind it, or KindUnknown
	Tries int  // tries left when known, else -1
	// Until is when a wait ends (backoff, lockout recovery), zero if none.
	Until time.Time
	// Detail is a short fact to show with the message (a user name, a
	// count of files wiped); never a secret.
	Detail string
	// Cause is why a session ended (NoticeSessionEnded).
	Cause EndCause
	// OfferKey: the person may sign in with a security key instead
	// (NoticePlatformLocked, NoticePlatformSuspended); when false the
	// screen says to ask IT.
	OfferKey bool
}

// NoticeCode names a message the screens know how to say.
type NoticeCode uint8

const (
	NoticeNone               NoticeCode = iota
	NoticeWrongPIN                      // wrong PIN; Tries left
	NoticeReplugKey                     // too many wrong PINs in a row: unplug the key and plug it in again
	NoticeKeyBlocked                    // the key's PIN is blocked: the key must be reset; call IT
	NoticeFingerprintFailed             // fingerprint not recognised; Tries left
	NoticeFingerprintLocked             // fingerprint locked: use the PIN
	NoticePlatformLocked                // TPM lockout; Until when it lifts
	NoticeUnknownKey                    // this key is not registered here
	NoticeNotAllowed                    // policy refuses (group, hours, method, key model); Detail says which
	NoticeTooManyAttempts               // backoff after failures; Until when to try again
	NoticeTimedOut                      // nothing happened in time; back to the lock screen
	NoticeKeyRemoved                    // the key was pulled out
	NoticeKeyProblem                    // the key answered nonsense or failed; try again or another key
	NoticeVerificationFailed            // what the authenticator returned did not verify (possible clone included)
	NoticeBadEnrollmentCode             // the code is wrong, used or expired
	NoticePINMismatch                   // the two PINs typed differ
	NoticePINTooShort                   // shorter than PINMinLength
	NoticeSessionEnded                  // the session ended; Cause says why, Detail in words when it could not start
	NoticeEnrolled                      // registration done
	NoticeBackupSuggested               // you have one credential: register a backup
	NoticeTPMCleared                    // this terminal's TPM was reset: platform passkeys must be registered again
	NoticeKeyNeedsPIN                   // the security key has no PIN: set one first (with the key maker's tool), or ask IT
	NoticeAlreadyRegistered             // this key, or a passkey on this terminal, is already registered for you
	NoticeOutOfHours                    // not allowed at this hour; Detail may say when
	NoticePlatformSuspended             // too many wrong PINs in a row: this person's passkey on this terminal is suspended until IT lifts it or they sign in another way
	NoticeBackupNotConfirmed            // no backup was added: the person did not prove it is them (Kind says why: cancelled, timeout, wrong PIN, …; Until a backoff)
)

// Commands is what the screens can ask of the engine. Every method returns
// at once; the outcome arrives as a new View.
type Commands interface {
	// ChooseUser starts a platform (TPM) sign-in for a tile.
	ChooseUser(id UserID)
	// TypeUserName starts a platform sign-in for a typed name.
	TypeUserName(name string)
	// EnterPIN answers PromptPIN or PromptNewPIN. The engine owns the
	// slice from here and zeroes it when done.
	EnterPIN(pin []byte)
	// UseKey starts a sign-in with a security key already plugged in
	// (View.KeyPresent), such as one left in after the last session.
	UseKey()
	// ChooseAccount answers PromptChooseAccount.
	ChooseAccount(index int)
	// Cancel abandons what is under way and returns to the lock screen.
	Cancel()
	// StartEnrollment begins registration with a one-time code.
	StartEnrollment(code string)
	// ChooseAttachment answers PromptEnrollChoose.
	ChooseAttachment(a Attachment)
	// AddBackup starts registering another credential for the signed-in
	// person, once they have proved it is still them.
	AddBackup()
	// SignOut ends the session.
	SignOut()
	// StillHere answers the idle warning.
	StillHere()
	// RelaunchProgram starts the session program again after it exited.
	RelaunchProgram()
	// Activity reports input to the kiosk's own window (touches, keys).
	Activity()
}
