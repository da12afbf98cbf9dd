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
	Close(id string, report kiosk.WipeReport) error
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
