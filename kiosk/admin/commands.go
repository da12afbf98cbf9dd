package admin

import "time"

// Command names and their arguments and results. A command's arguments
// are decoded strictly: an unknown field is refused, so a client and an
// appliance of different versions fail loudly rather than half-work.
const (
	CmdStatus            = "status"
	CmdUsersList         = "users.list"
	CmdUsersShow         = "users.show"
	CmdUsersAdd          = "users.add"
	CmdUsersDisable      = "users.disable"
	CmdUsersEnable       = "users.enable"
	CmdUsersRemove       = "users.remove"
	CmdCredentialsList   = "credentials.list"
	CmdCredentialsRevoke = "credentials.revoke"
	CmdCodesIssue        = "codes.issue"
	CmdCodesList         = "codes.list"
	CmdCodesCancel       = "codes.cancel"
	CmdPolicyShow        = "policy.show"
	CmdPolicyApply       = "policy.apply"
	CmdSessionsList      = "sessions.list"
	CmdSessionsEnd       = "sessions.end"
	CmdAuditTail         = "audit.tail"
	CmdAuditFollow       = "audit.follow"
	CmdAuditExport       = "audit.export"
	CmdAuditVerify       = "audit.verify"
)

// UserRef names a user by sign-in name or ID.
type UserRef struct {
	User string `json:"user"`
}

// UserAddArgs creates a user.
type UserAddArgs struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	Groups      []string `json:"groups"`
	// Force accepts groups the policy in force does not name.
	Force bool `json:"force,omitempty"`
}

// UserDetail is users.show's result.
type UserDetail struct {
	User        User         `json:"user"`
	Credentials []Credential `json:"credentials"`
	Codes       []Code       `json:"codes"`
}

// CredentialsListArgs lists one user's credentials, or everyone's when
// User is empty.
type CredentialsListArgs struct {
	User string `json:"user,omitempty"`
}

// IDRef names a credential or code by its ID or a unique prefix of it.
type IDRef struct {
	ID string `json:"id"`
}

// CodeIssueArgs issues a one-time code.
type CodeIssueArgs struct {
	User    string        `json:"user,omitempty"`
	Purpose string        `json:"purpose"` // enroll, or recovery (once used, the person's other credentials are revoked)
	TTL     time.Duration `json:"ttl"`
}

// IssuedCode is codes.issue's result: the code, shown this once.
type IssuedCode struct {
	Code string `json:"code"`
	Info Code   `json:"info"`
}

// PolicyShown is policy.show's result.
type PolicyShown struct {
	Version   uint64    `json:"version"` // 0: the built-in default, never applied
	ChangedAt time.Time `json:"changed_at"`
	ChangedBy string    `json:"changed_by"`
	Text      string    `json:"text"` // canonical policy TOML
}

// PolicyApplyArgs applies a policy. Text is the file's contents with
// trust anchors inlined (passkioskctl reads anchor files on the
// administrator's side). Base, when not 0, is the version the
// administrator reviewed: a different current version is a conflict.
type PolicyApplyArgs struct {
	Name   string `json:"name"`
	Text   string `json:"text"`
	Base   uint64 `json:"base,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// PolicyApplied is policy.apply's result.
type PolicyApplied struct {
	Previous uint64 `json:"previous"`
	Version  uint64 `json:"version"` // the new version; equal to Previous when nothing changed or a dry run
	Diff     string `json:"diff"`
	Changed  bool   `json:"changed"`
}

// SessionsListArgs lists the session journal.
type SessionsListArgs struct {
	OpenOnly bool `json:"open_only,omitempty"`
}

// SessionsList is sessions.list's result.
type SessionsList struct {
	Current *CurrentSession `json:"current"`
	Journal []SessionRecord `json:"journal"`
}

// SessionsEndResult says whether a session was ended.
type SessionsEndResult struct {
	Ended bool `json:"ended"`
}

// AuditArgs selects audit entries: the last N for tail, those from seq
// From on for follow and export (0: the next new one for follow, the
// oldest kept for export).
type AuditArgs struct {
	N    int    `json:"n,omitempty"`
	From uint64 `json:"from,omitempty"`
}
