package fleetapi

import (
	"time"

	"passkiosk/kiosk/auditfile"
)

// PathPrefix is where the admin API's commands are: PathPrefix+command.
const PathPrefix = "/v1/admin/"

// The commands the fleet adds to kiosk/admin's.
const (
	CmdWhoAmI          = "whoami"
	CmdTerminalsList   = "terminals.list"
	CmdTerminalsSet    = "terminals.set"
	CmdRevocationsList = "revocations.list"
)

// WhoAmI is who the fleet service takes the caller for.
type WhoAmI struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// Terminal is one terminal as IT sees it: the inventory record (site,
// ward, labels, who set them) joined with what the terminal says about
// itself (its heartbeat: when, the directory revision its copy holds,
// offline since when).
type Terminal struct {
	Name      string            `json:"name"`
	Site      string            `json:"site,omitempty"`
	Ward      string            `json:"ward,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Updated   time.Time         `json:"updated,omitzero"`
	UpdatedBy string            `json:"updated_by,omitempty"`
	// Inventory says IT recorded the terminal (terminals.set); a
	// terminal that sends heartbeats without it is listed too.
	Inventory bool `json:"inventory"`
	// LastHeartbeat is zero when the terminal's heartbeat is gone: its
	// lease ran out (the terminal is off or cannot reach the cluster).
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	// Applied is the directory revision the terminal's copy holds.
	Applied int64 `json:"applied"`
	// OfflineSince is set while the terminal's own agent finds the
	// cluster unreachable (its last answer).
	OfflineSince time.Time `json:"offline_since,omitzero"`
	Version      string    `json:"version,omitempty"`
	// Health is ok, behind (its copy is older than the directory),
	// offline, or silent (no heartbeat).
	Health string `json:"health"`
}

// TerminalList is terminals.list's result. Revision is the directory's
// newest change, which a terminal that is current has applied.
type TerminalList struct {
	Revision  int64      `json:"revision"`
	Terminals []Terminal `json:"terminals"`
}

// TerminalSetArgs changes a terminal's inventory record, creating it if
// need be. Nil Site or Ward keeps the value; a label with an empty value
// is removed.
type TerminalSetArgs struct {
	Name   string            `json:"name"`
	Site   *string           `json:"site,omitempty"`
	Ward   *string           `json:"ward,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Revocation is a credential IT revoked, fleet-wide.
type Revocation struct {
	CredentialID string    `json:"credential_id"`
	UserID       string    `json:"user_id,omitempty"`
	UserName     string    `json:"user_name,omitempty"`
	At           time.Time `json:"at"`
	By           string    `json:"by,omitempty"`
	Reason       string    `json:"reason,omitempty"`
}

// RevokeArgs is credentials.revoke's arguments on the fleet: the
// credential (ID or its first 6+ hex digits) and why.
type RevokeArgs struct {
	ID     string `json:"id"`
	Reason string `json:"reason,omitempty"`
}

// AuditQuery selects entries of the fleet's audit archive (tail, export,
// follow); zero fields select everything.
type AuditQuery struct {
	// N is how many of the newest entries tail returns.
	N        int       `json:"n,omitempty"`
	Person   string    `json:"person,omitempty"`   // sign-in name or readable user ID
	Terminal string    `json:"terminal,omitempty"` // fleet name
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	Events   []string  `json:"events,omitempty"` // event names, as the audit log writes them
}

// AuditHit is one archived entry and the terminal (fleet name) whose
// chain holds it.
type AuditHit struct {
	FleetName string          `json:"fleet_name"`
	Entry     auditfile.Entry `json:"entry"`
}

// FollowPart is one part of audit.follow's stream: the first says the
// stream is open, later ones carry an entry or, with none, only keep the
// connection alive.
type FollowPart struct {
	Hit *AuditHit `json:"hit,omitempty"`
}

// ArchiveCheck is what checking one terminal's archive found.
type ArchiveCheck struct {
	Terminal string `json:"terminal"`
	Entries  int    `json:"entries"`
	First    uint64 `json:"first"`
	Last     uint64 `json:"last"`
	LastHash string `json:"last_hash"`
	// StartsChain: the archive begins at the chain's genesis, so nothing
	// is missing before it.
	StartsChain bool `json:"starts_chain"`
	// Problem is why the file does not verify; Stopped why the collector
	// stopped archiving this terminal ("" while it runs).
	Problem string `json:"problem,omitempty"`
	Stopped string `json:"stopped,omitempty"`
}

// AuditVerified is audit.verify's result on the fleet.
type AuditVerified struct {
	Terminals []ArchiveCheck `json:"terminals"`
	// Broken counts terminals with a Problem or Stopped.
	Broken int `json:"broken"`
}

// FleetSession is a session in progress at a terminal, as the terminal
// last published it. Silent: the terminal's heartbeat is gone, so the
// session may have ended meanwhile.
type FleetSession struct {
	Terminal    string    `json:"terminal"`
	UserID      string    `json:"user_id"`
	UserName    string    `json:"user_name,omitempty"`
	DisplayName string    `json:"display_name"`
	Started     time.Time `json:"started"`
	EndsAt      time.Time `json:"ends_at,omitzero"`
	Silent      bool      `json:"silent,omitempty"`
}

// SessionEndArgs ends the session at Terminal; User, when given, must be
// the person in it (so a session that changed meanwhile is not ended).
type SessionEndArgs struct {
	Terminal string `json:"terminal"`
	User     string `json:"user,omitempty"`
}

// SessionEnded is sessions.end's result on the fleet.
type SessionEnded struct {
	Terminal string `json:"terminal"`
	UserName string `json:"user_name,omitempty"`
	UserID   string `json:"user_id"`
}
