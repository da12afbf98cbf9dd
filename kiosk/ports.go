package kiosk

import (
	"context"
	"time"
)

// Clock is the engine's only source of time, so idle timeouts, lockouts
// and session limits are tested with a fake clock.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not happened; it reports whether
	// it did so.
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

// KeyInfo describes a plugged-in security key.
type KeyInfo struct {
	// ID names this plug-in of this key; a re-plugged key gets a new ID.
	ID             string
	AAGUID         [16]byte
	Product        string
	HasPIN         bool // a PIN is set (clientPin option true)
	HasFingerprint bool // built-in UV is configured (uv option true)
}

// KeyEventType is what happened to a key.
type KeyEventType uint8

const (
	KeyPlugged KeyEventType = 1
	KeyRemoved KeyEventType = 2
)

// KeyEvent is a key plugged in or removed.
type KeyEvent struct {
	Type KeyEventType
	Key  KeyInfo
}

// UV is how the person proves it is them to the authenticator: a PIN, or
// the key's fingerprint sensor. Neither asks for a touch only, which
// proves possession of the key but not who holds it: the engine uses it
// for "tap your key to sign out", never to sign anyone in.
type UV struct {
	PIN         []byte
	Fingerprint bool
}

// PresenceOnly reports a request for a touch only.
func (uv UV) PresenceOnly() bool { return len(uv.PIN) == 0 && !uv.Fingerprint }

// AssertRequest asks a security key for assertions.
type AssertRequest struct {
	RPID string
	// ClientDataHash is the hash of the engine's client data: the key
	// signs over it, and the engine, which issued its challenge, verifies
	// what comes back.
	ClientDataHash [32]byte
	// AllowList empty asks for discoverable credentials: every account the
	// key holds for RPID.
	AllowList [][]byte
	UV        UV
}

// KeyAssertion is one assertion from a key, not yet verified.
type KeyAssertion struct {
	CredentialID []byte
	AuthData     []byte
	Signature    []byte
	UserHandle   []byte
	UserName     string
	DisplayName  string
}

// MakeCredentialRequest asks a security key for a new discoverable
// credential.
type MakeCredentialRequest struct {
	RPID           string
	RPName         string
	ClientDataHash [32]byte
	UserID         []byte
	UserName       string
	DisplayName    string
	Exclude        [][]byte
	UV             UV
}

// KeyAttestation is a new credential's attestation object, not yet
// verified.
type KeyAttestation struct {
	AttestationObject []byte
}

// RoamingKeys is the port to USB security keys (fido/usbkey in
// production). Every call is bounded by ctx; errors carry kiosk kinds
// (KindPINInvalid with Tries, KindPINAuthBlocked, KindUVBlocked,
// KindDeviceGone, …).
type RoamingKeys interface {
	Events() <-chan KeyEvent
	Present() []KeyInfo
	Assert(ctx context.Context, key string, req AssertRequest) ([]KeyAssertion, error)
	MakeCredential(ctx context.Context, key string, req MakeCredentialRequest) (KeyAttestation, error)
}

// PlatformEnrollment is a new platform credential: its attestation object
// (verified like any other) and the TPM key blobs to keep.
type PlatformEnrollment struct {
	AttestationObject []byte
	TPMPublic         []byte
	TPMPrivate        []byte
}

// Platform is the port to this machine's TPM passkeys (tpm in
// production). The PIN is checked by the TPM.
type Platform interface {
	// Status says whether platform passkeys can be used here, and why not.
	Status() (ok bool, reason string)
	Enroll(ctx context.Context, rpID string, userHandle []byte, clientDataHash [32]byte, pin []byte) (PlatformEnrollment, error)
	Assert(ctx context.Context, cred Credential, rpID string, clientDataHash [32]byte, pin []byte) (authData, sig []byte, err error)
}

// InputIdle reports the last input to the session itself (its own
// windows), not only to the kiosk's window; the engine takes whichever is
// later. Under X11 that is the XScreenSaver idle time, under a Wayland
// compositor its idle notification.
type InputIdle interface {
	LastInput() time.Time
}

// SessionSpec is what a session runs.
type SessionSpec struct {
	User        User
	Program     []string
	MaxDuration time.Duration
}

// WipeReport is the audited result of ending a session (kiosk/session
// writes it; the engine audits it). Every count comes
// from a check that ran, not from what was expected.
type WipeReport struct {
	ID      string   `cbor:"1,keyasint" json:"id"`
	User    UserID   `cbor:"2,keyasint" json:"user"`
	Cause   EndCause `cbor:"3,keyasint" json:"cause"`
	Sandbox string   `cbor:"4,keyasint" json:"sandbox"` // how the program was confined (kiosk/session's Sandbox names)
	// Started and Ended come from the Clock.
	Started time.Time `cbor:"5,keyasint" json:"started"`
	Ended   time.Time `cbor:"6,keyasint" json:"ended"`
	// Terminated counts processes sent SIGTERM; Killed those that were
	// still there for SIGKILL; Remaining those found by the final check
	// (must be 0, else End returns an error).
	Terminated int `cbor:"7,keyasint" json:"terminated"`
	Killed     int `cbor:"8,keyasint" json:"killed"`
	Remaining  int `cbor:"9,keyasint" json:"remaining"`
	// Files, Dirs and Bytes count what the workspace held when it was
	// removed.
	Files int   `cbor:"10,keyasint" json:"files"`
	Dirs  int   `cbor:"11,keyasint" json:"dirs"`
	Bytes int64 `cbor:"12,keyasint" json:"bytes"`
	// Tmpfs says the workspace was a tmpfs mount (unmounted, not
	// unlinked file by file). Lazy says the unmount had to be detached.
	Tmpfs bool `cbor:"13,keyasint" json:"tmpfs"`
	Lazy  bool `cbor:"14,keyasint" json:"lazy"`
	// WorkspaceGone is true when a final lstat found no workspace.
	WorkspaceGone    bool `cbor:"15,keyasint" json:"workspace_gone"`
	ClipboardCleared bool `cbor:"16,keyasint" json:"clipboard_cleared"`
	// KillTime, WipeTime and Total are measured with the real monotonic
	// clock: they are performance figures, not policy.
	KillTime time.Duration `cbor:"17,keyasint" json:"kill_ns"`
	WipeTime time.Duration `cbor:"18,keyasint" json:"wipe_ns"`
	Total    time.Duration `cbor:"19,keyasint" json:"total_ns"`
	// ExitCode is the program's exit status, -1 when it was killed by a
	// signal or had not exited by itself.
	ExitCode int `cbor:"20,keyasint" json:"exit_code"`
	// Reason is the engine's own words for the end, when it gave some
	// ("time is up"); Cause is their classification.
	Reason string `cbor:"21,keyasint,omitempty" json:"reason,omitempty"`
	// Processes counts the distinct processes stopped, by SIGTERM or
	// SIGKILL.
	Processes int `cbor:"22,keyasint" json:"processes"`
	// RemainingFiles counts what a failed wipe left in the workspace.
	RemainingFiles int `cbor:"23,keyasint" json:"remaining_files"`
	// OutsideFiles and OutsideBytes count what a dedicated session uid
	// left in shared folders (/tmp, /var/tmp, /dev/shm, …), removed too.
	OutsideFiles int   `cbor:"24,keyasint" json:"outside_files"`
	OutsideBytes int64 `cbor:"25,keyasint" json:"outside_bytes"`
	// X11Removed counts the X host access entries the wipe removed (the
	// session uid's, and any added during the session); X11Left what a
	// final ListHosts still showed of them (must be 0; -1 when the list
	// could not be read).
	X11Removed int `cbor:"26,keyasint,omitempty" json:"x11_removed,omitempty"`
	X11Left    int `cbor:"27,keyasint,omitempty" json:"x11_left,omitempty"`
}

// Clean reports whether the wipe was complete: no process left, the
// workspace gone, and the session uid no longer admitted to the X
// display.
func (r WipeReport) Clean() bool {
	return r.Remaining == 0 && r.RemainingFiles == 0 && r.WorkspaceGone && r.X11Left == 0
}

// Session is a running isolated session.
type Session interface {
	ID() string
	// Exited is closed when the session program exits.
	Exited() <-chan struct{}
	// Relaunch starts the session program again in the same workspace.
	Relaunch() error
	// End stops every process of the session and wipes its workspace;
	// reason is the cause in words for people, kept with the report.
	End(cause EndCause, reason string) (WipeReport, error)
}

// Sessions starts isolated sessions (kiosk/session in production).
type Sessions interface {
	Start(ctx context.Context, spec SessionSpec) (Session, error)
}

// AuditEvent is one entry for the tamper-evident audit log.
type AuditEvent struct {
	Time       time.Time
	Type       Event
	User       UserID
	Credential []byte
	Outcome    string // "ok" or the failure kind
	Kind       Kind
	Detail     map[string]string
}

// Store is the port to the appliance's records (store in production).
type Store interface {
	Users() ([]User, error)
	User(id UserID) (User, error)
	UserByName(name string) (User, error)
	Credential(id []byte) (Credential, error)
	Credentials(user UserID) ([]Credential, error)
	AddCredential(c Credential) error
	// RecordSignIn stores the new counter and last-used time; a counter
	// below the stored one is refused with KindCounterRegression.
	RecordSignIn(credID []byte, counter uint32, at time.Time) error
	// CheckEnrollmentCode says whose code it is without using it up;
	// RedeemEnrollmentCode uses it up. Both fail with KindNotFound for a
	// wrong, used or expired code.
	CheckEnrollmentCode(code string, now time.Time) (UserID, error)
	RedeemEnrollmentCode(code string, now time.Time) (UserID, error)
	Audit(e AuditEvent) error
}

// BackupsElsewhere is a Store whose people's credentials are written
// somewhere a session cannot add to: a fleet terminal's copy of the
// fleet's directory, which only the fleet service writes. NoBackupHere
// says why a backup cannot be added from a session here, and the engine
// says so before asking for any proof.
type BackupsElsewhere interface {
	NoBackupHere() error
}

// FailureHistory is what a Store that implements it remembers of failed
// attempts across a restart, so that switching the terminal off and on
// does not lift a backoff. The engine marks each failure it counts with
// the subject it counts against (Detail["subject"] of the audit events
// whose type is Failed); RecentFailures returns those stamped at or after since, by
// subject, oldest first, leaving out a person's failures that came before
// their last successful sign-in (or proof, EventReauth).
type FailureHistory interface {
	RecentFailures(since time.Time) (map[string][]time.Time, error)
}

// FailuresIn picks FailureHistory's answer out of audit events, oldest
// first: every failure event that names a subject, less the failures of
// a person that a later successful sign-in of theirs cleared.
func FailuresIn(events []AuditEvent) map[string][]time.Time {
	out := map[string][]time.Time{}
	owner := map[string]UserID{}
	for _, e := range events {
		subject := e.Detail["subject"]
		switch {
		case (e.Type == EventSignIn || e.Type == EventReauth) && e.User != "":
			for s, u := range owner {
				if u == e.User {
					delete(out, s)
					delete(owner, s)
				}
			}
		case e.Type.Failed() && subject != "":
			out[subject] = append(out[subject], e.Time)
			if e.User != "" {
				owner[subject] = e.User
			}
		}
	}
	return out
}
