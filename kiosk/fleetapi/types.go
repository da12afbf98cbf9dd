package fleetapi

import "time"

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
