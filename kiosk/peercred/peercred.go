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
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// ErrInUse says that something still answers on a socket's path.
var ErrInUse = errors.New("another program is answering on it")

// Listen makes a Unix socket at path, with its folder, for the peers
// Of then checks: a socket file left by a previous run is replaced, one
// that something still answers on is ErrInUse, and a path that is not a
// socket is left alone and refused. The socket gets mode, and group gid
// when gid ≥ 0 (its owner stays the caller).
func Listen(path string, mode os.FileMode, gid int) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", path, ErrInUse)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("socket group: %w", err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("socket mode: %w", err)
	}
	return ln, nil
}
