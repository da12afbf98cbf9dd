package admin

import (
	"io"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
)

// Records as the admin API shows them. IDs are lower-case hex.

// User is a person on the appliance.
type User struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Groups      []string  `json:"groups"`
	State       string    `json:"state"` // active, disabled, locked
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// Credential is a registered passkey.
type Credential struct {
	ID       string `json:"id"`
	UserID   string `json:"user_id"`
	UserName string `json:"user_name,omitempty"`
	Kind     string `json:"kind"` // platform, roaming
	AAGUID   string `json:"aaguid"`
	Label    string `json:"label"`
	// Name is the short, stable name the audit log uses for it: the
	// person's label, the key model from its AAGUID or "TPM", and the
	// first six hex digits of its ID.
	Name     string    `json:"name,omitempty"`
	Model    string    `json:"model,omitempty"` // from the AAGUID, when known
	Format   string    `json:"format"`
	Counter  uint32    `json:"counter"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"` // zero: never
}

// Code is a one-time enrollment code (never the code itself, which only
// its issue shows).
type Code struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id,omitempty"`
	UserName  string    `json:"user_name,omitempty"`
	Purpose   string    `json:"purpose"` // enroll, recovery (bootstrap: an old code, no longer issued)
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	IssuedBy  string    `json:"issued_by"`
	UsedAt    time.Time `json:"used_at"`
}

// SessionRecord is an entry of the session journal.
type SessionRecord struct {
	ID       uint64    `json:"id"`
	UserID   string    `json:"user_id"`
	UserName string    `json:"user_name,omitempty"`
	Terminal string    `json:"terminal"`
	OpenedAt time.Time `json:"opened_at"`
	EndedAt  time.Time `json:"ended_at"`
	Cause    string    `json:"cause,omitempty"`
	Wiped    bool      `json:"wiped"`
}

// StoredPolicy is one version of the policy as the store keeps it.
type StoredPolicy struct {
	Version   uint64
	Schema    uint32
	Data      []byte
	ChangedAt time.Time
	ChangedBy string
}

// AuditEntry is one entry of the audit log, read as the export file has
// it (auditfile.Entry): the person by sign-in name and readable ID, the
// credential by its label and hex ID, the time in RFC 3339 with its zone,
// and the hashed body, so an entry read here can be checked against the
// chain like an exported one.
type AuditEntry = auditfile.Entry

// Chain is a verified audit chain.
type Chain struct {
	Anchor  uint64 `json:"anchor"`
	Head    uint64 `json:"head"`
	Entries int    `json:"entries"`
	Hash    string `json:"hash"`
}

// ChainHead is the audit log's newest entry.
type ChainHead struct {
	Seq  uint64 `json:"seq"`  // 0: nothing logged yet
	Hash string `json:"hash"` // hex
}

// Change says who made a change; the store turns it into the change's
// audit entry.
type Change struct {
	Actor  string
	Detail map[string]string
}

// Store is what the admin API needs from the appliance's records. The
// appliance satisfies it with a thin adapter over *store.DB (kiosk/...
// may not import the store). Errors carry kiosk kinds: KindNotFound for
// a missing record, KindConflict for a lost race or a name already taken.
// A user ID here is the lower-case hex of the engine's kiosk.UserID for
// the same person (see userIDOf).
type Store interface {
	Users() ([]User, error)
	// PutUser creates or replaces a user by ID (hex), audited. Names are
	// unique: the store refuses, with KindConflict, a new or renamed user
	// whose name another has, in the transaction that would store it.
	PutUser(u User, ch Change) error
	// RemoveUser deletes a user with their credentials and unused codes,
	// audited.
	RemoveUser(id string, ch Change) error
	Credentials(userID string) ([]Credential, error)
	RemoveCredential(id string, ch Change) error
	// IssueCode returns the code itself, once.
	IssueCode(userID string, purpose string, ttl time.Duration, ch Change) (string, Code, error)
	// Codes lists codes not yet pruned, used ones included.
	Codes() ([]Code, error)
	CancelCode(id string, ch Change) error
	// Policy returns the newest version, KindNotFound when none was
	// stored.
	Policy() (StoredPolicy, error)
	// PutPolicy stores a new version made against base and returns its
	// number; KindConflict when base is not current.
	PutPolicy(schema uint32, data []byte, base uint64, ch Change) (uint64, error)
	Sessions(openOnly bool) ([]SessionRecord, error)
	// AuditHead is the newest entry, read without walking the log (status,
	// tail and follow ask for it); VerifyAudit is what checks the chain.
	AuditHead() (ChainHead, error)
	Events(from uint64, limit int) ([]AuditEntry, error)
	// ExportAudit writes entries from seq from on as JSON lines.
	ExportAudit(w io.Writer, from uint64) (int, error)
	VerifyAudit() (Chain, error)
	// EndRequested audits an administrator's request to end the session
	// of userID in progress, and whether the engine accepted it. It is
	// not the end: the engine audits the end and the wipe itself.
	EndRequested(userID string, accepted bool, ch Change) error
}

// WriteSignal is a Store that says when it was written to, so audit
// follow wakes for a new entry instead of polling for it.
type WriteSignal interface {
	// Written returns a channel closed by the next committed write.
	Written() <-chan struct{}
}

// Appliance is the running engine, as the admin API sees it.
type Appliance interface {
	View() kiosk.View
	// EndSession ends the session in progress; false when there is none.
	EndSession(cause kiosk.EndCause) bool
}

// Status is the appliance's health.
type Status struct {
	Version       string          `json:"version"`
	Terminal      string          `json:"terminal"`
	Health        string          `json:"health"` // ok, out-of-service
	State         string          `json:"state"`
	OutOfService  string          `json:"out_of_service,omitempty"`
	TPM           TPMStatus       `json:"tpm"`
	Keys          []KeyStatus     `json:"keys"`
	Session       *CurrentSession `json:"session,omitempty"`
	PolicyVersion uint64          `json:"policy_version"`
	AuditHead     uint64          `json:"audit_head"`
	AuditHash     string          `json:"audit_hash,omitempty"` // the newest entry's hash, hex
	Users         int             `json:"users"`
	Isolation     *Isolation      `json:"isolation,omitempty"`
	// Degraded says why Health is "degraded", one reason a line.
	Degraded []string `json:"degraded,omitempty"`
	// Fleet is set on a terminal that belongs to a fleet (fleet.go).
	Fleet *FleetStatus `json:"fleet,omitempty"`
}

// Isolation says how sessions are kept apart and watched here: the
// sandbox in use and why it was chosen, and where idle time comes from.
type Isolation struct {
	Sandbox string `json:"sandbox"`
	Reason  string `json:"reason,omitempty"`
	// Idle names the sources of input time whose last query answered
	// ("input devices", "X server"); empty: only input to the
	// appliance's own window counts.
	Idle []string `json:"idle"`
	// NoWayland says why Wayland session programs cannot show windows;
	// empty when they can.
	NoWayland string `json:"no_wayland,omitempty"`
	// Fallback says why sessions are confined less than the
	// configuration asked (auto found no bubblewrap, or bubblewrap
	// cannot disable user namespaces); the health is then degraded.
	Fallback string `json:"fallback,omitempty"`
}

// TPMStatus says whether passkeys in this machine's TPM can be used.
type TPMStatus struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
	// Lockout is the TPM's dictionary-attack state and parameters.
	Lockout *TPMLockout `json:"lockout,omitempty"`
	// SigningKey is the fingerprint (SHA-256 of the public key's DER) of
	// the TPM key that signs audit exports, for an auditor to hold an
	// export's signature against.
	SigningKey string `json:"signing_key,omitempty"`
}

// KeyStatus is a plugged-in security key.
type KeyStatus struct {
	ID          string `json:"id"`
	Product     string `json:"product"`
	AAGUID      string `json:"aaguid"`
	PIN         bool   `json:"pin"`
	Fingerprint bool   `json:"fingerprint"`
}

// CurrentSession is the session in progress at the terminal.
type CurrentSession struct {
	User        string    `json:"user_id"`
	DisplayName string    `json:"display_name"`
	Started     time.Time `json:"started"`
	EndsAt      time.Time `json:"ends_at"`
}
