package admin

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"

	"passkiosk/kiosk/peercred"
)

// Peer is the process at the other end of the socket, as the kernel
// reports it (SO_PEERCRED, socket(7)): not what the client claims.
type Peer struct {
	UID    int
	GID    int
	PID    int
	Name   string // from the password database, "" when the uid has no entry
	Groups []int  // supplementary groups, from /proc/<pid>/status
}

// String names the peer for the audit log: "alice (uid 1000, pid 4242)".
func (p Peer) String() string {
	name := p.Name
	if name == "" {
		name = "uid-" + strconv.Itoa(p.UID)
	}
	return fmt.Sprintf("%s (uid %d, pid %d)", name, p.UID, p.PID)
}

// change is what the peer's changes are audited as.
func (p Peer) change(extra map[string]string) Change {
	d := map[string]string{"admin-uid": strconv.Itoa(p.UID), "admin-pid": strconv.Itoa(p.PID)}
	if p.Name != "" {
		d["admin-user"] = p.Name
	}
	for k, v := range extra {
		d[k] = v
	}
	return Change{Actor: p.String(), Detail: d}
}

// peerOf reads the credentials of conn's peer, its name and its
// supplementary groups.
func peerOf(conn *net.UnixConn) (Peer, error) {
	c, err := peercred.Of(conn)
	if err != nil {
		return Peer{}, err
	}
	p := Peer{UID: c.UID, GID: c.GID, PID: c.PID}
	if u, err := user.LookupId(strconv.Itoa(p.UID)); err == nil {
		p.Name = u.Username
	}
	p.Groups, err = peercred.Groups(p.PID, p.UID)
	if err != nil {
		return p, err
	}
	return p, nil
}

// access decides who may use the socket: root, the appliance's own user
// (who owns its records anyway; the demo runs as the person trying it),
// and members of the admin group (primary or supplementary). gid < 0
// means the group does not exist on this machine: root and the
// appliance's user only.
func access(p Peer, gid int) bool {
	if p.UID == 0 || p.UID == os.Geteuid() {
		return true
	}
	return gid >= 0 && (p.GID == gid || slices.Contains(p.Groups, gid))
}
