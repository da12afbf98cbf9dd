package admin

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
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

// peerOf reads the credentials of conn's peer.
func peerOf(conn *net.UnixConn) (Peer, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, err
	}
	if credErr != nil {
		return Peer{}, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	p := Peer{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid)}
	if u, err := user.LookupId(strconv.Itoa(p.UID)); err == nil {
		p.Name = u.Username
	}
	// SO_PEERCRED carries only the primary group. The supplementary ones
	// are in the process's status file, read by the pid the kernel gave.
	// Should that process have exited and its pid been reused, the uid
	// check in procGroups limits the mix-up to another process of the
	// same user.
	p.Groups, err = procGroups(p.PID, p.UID)
	if err != nil {
		return p, err
	}
	return p, nil
}

// procGroups reads the Groups: line of /proc/<pid>/status (proc(5)),
// after checking that the process still has the peer's uid.
func procGroups(pid, uid int) ([]int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("read groups of pid %d: %w", pid, err)
	}
	defer f.Close()
	var groups []int
	uidOK := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(val)
		switch key {
		case "Uid":
			// Real, effective, saved, filesystem: the socket reported
			// the effective uid at connect time.
			uidOK = len(fields) >= 2 && fields[1] == strconv.Itoa(uid)
		case "Groups":
			for _, g := range fields {
				n, err := strconv.Atoi(g)
				if err != nil {
					return nil, fmt.Errorf("pid %d: bad group %q", pid, g)
				}
				groups = append(groups, n)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !uidOK {
		return nil, fmt.Errorf("pid %d no longer runs as uid %d", pid, uid)
	}
	return groups, nil
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
