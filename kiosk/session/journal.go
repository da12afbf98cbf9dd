package session

import (
	"time"

	"passkiosk/kiosk"
)

// Journal is the port through which sessions survive a crash of the
// appliance. Open is called before anything of the session exists on the
// machine, Close after the wipe was verified; a record that is still open
// at the next start names what Recover must remove. The store implements
// it; sessiontest has an in-memory and a file implementation.
type Journal interface {
	Open(rec Record) error
	Close(id string, report WipeReport) error
	Pending() ([]Record, error)
}

// Record is what the journal keeps about an open session: enough to find
// its processes and its workspace again without any other state.
type Record struct {
	ID        string       `cbor:"1,keyasint" json:"id"`
	User      kiosk.UserID `cbor:"2,keyasint" json:"user"`
	Workspace string       `cbor:"3,keyasint" json:"workspace"`
	Sandbox   Sandbox      `cbor:"4,keyasint" json:"sandbox"`
	UID       uint32       `cbor:"5,keyasint" json:"uid"`
	GID       uint32       `cbor:"6,keyasint" json:"gid"`
	Dedicated bool         `cbor:"7,keyasint" json:"dedicated_uid"`
	Started   time.Time    `cbor:"8,keyasint" json:"started"`
}

// Marker is the environment entry that tags every process of the session.
// Processes inherit it through fork and exec, including those that call
// setsid to leave the process group.
func (r Record) Marker() string { return markerVar + "=" + r.ID }

const markerVar = "PASSKIOSK_SESSION"

// WipeReport is the audited result of ending a session. Every count comes
// from a check that ran, not from what was expected.
type WipeReport struct {
	ID      string         `cbor:"1,keyasint" json:"id"`
	User    kiosk.UserID   `cbor:"2,keyasint" json:"user"`
	Cause   kiosk.EndCause `cbor:"3,keyasint" json:"cause"`
	Sandbox Sandbox        `cbor:"4,keyasint" json:"sandbox"`
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
