// Package peercred says who is at the other end of a Unix socket, as the
// kernel reports it (SO_PEERCRED, socket(7)), not as the client claims.
// The admin socket (kiosk/admin) and the window's socket (kiosk/uilink)
// both decide on it before they read a byte from the peer.
//
// It uses the standard library only and touches nothing but the
// connection and /proc/<pid>/status.
package peercred

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Cred is the peer's identity at connect time.
type Cred struct {
	UID, GID, PID int
}

// Of reads the credentials of conn's peer.
func Of(conn *net.UnixConn) (Cred, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return Cred{}, err
	}
	var uc *syscall.Ucred
	var ucErr error
	if err := raw.Control(func(fd uintptr) {
		uc, ucErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return Cred{}, err
	}
	if ucErr != nil {
		return Cred{}, fmt.Errorf("SO_PEERCRED: %w", ucErr)
	}
	return Cred{UID: int(uc.Uid), GID: int(uc.Gid), PID: int(uc.Pid)}, nil
}

// Groups reads the supplementary groups of the process pid (the Groups:
// line of /proc/<pid>/status, proc(5)), after checking that it still runs
// with uid as its effective uid. SO_PEERCRED carries only the primary
// group; should the peer have exited and its pid been reused, the uid
// check limits the mix-up to another process of the same user.
func Groups(pid, uid int) ([]int, error) {
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
