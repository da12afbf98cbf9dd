package session

import (
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"passkiosk/kiosk"
)

// Wayland says whether sessions get the compositor's socket, and why not.
func (m *Manager) Wayland() (shared bool, why string) {
	m.waylandMu.Lock()
	defer m.waylandMu.Unlock()
	return m.shared != "", m.wayland
}

// waylandSocket is the compositor's socket as last granted, "" for none.
func (m *Manager) waylandSocket() string {
	m.waylandMu.Lock()
	defer m.waylandMu.Unlock()
	return m.shared
}

// shareWayland lets the session uid, and it alone, connect to the
// compositor's socket: connecting to a Unix socket needs write permission
// on it and search permission on the folders above it. A shared uid
// (nobody) is never granted it: every other program of that uid could
// then draw over the lock screen. On any failure Config.Wayland is
// sessions go without it and m.wayland says why. It runs at New and at
// every Start.
func (m *Manager) shareWayland() {
	why := "no compositor socket configured"
	if m.cfg.Wayland != "" {
		why = m.grantWayland()
	}
	m.waylandMu.Lock()
	defer m.waylandMu.Unlock()
	m.shared, m.wayland = "", why
	if why == "" {
		m.shared = m.cfg.Wayland
	}
}

func (m *Manager) grantWayland() string {
	sock := m.cfg.Wayland
	// Checked and granted through one descriptor, opened without
	// following a link: the folder belongs to the window's account, and
	// what is granted must be the socket that was checked, not whatever
	// that account put at the path meanwhile.
	fd, err := unix.Open(sock, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Sprintf("%s: %v", sock, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Sprintf("%s: %v", sock, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return sock + " is not a socket"
	}
	if !m.root {
		return "" // the session runs as the appliance's own user
	}
	if int(st.Uid) != m.cfg.WaylandOwner {
		return fmt.Sprintf("%s belongs to uid %d, not to the compositor's account (uid %d)", sock, st.Uid, m.cfg.WaylandOwner)
	}
	if !m.cfg.DedicatedUID || m.cfg.UID == nobodyUID {
		return "the session account is shared with other programs; it is not given the compositor's socket"
	}
	dir := filepath.Dir(sock)
	if err := grantACL(dir, m.cfg.UID, aclExecute); err != nil {
		return fmt.Sprintf("granting uid %d search on %s: %v", m.cfg.UID, dir, err)
	}
	if err := reachable(filepath.Dir(dir), m.cfg.UID, m.cfg.GID); err != nil {
		return err.Error()
	}
	if err := grantACL(fmt.Sprintf("/proc/self/fd/%d", fd), m.cfg.UID, aclRead|aclWrite); err != nil {
		return fmt.Sprintf("granting uid %d the socket %s: %v", m.cfg.UID, sock, err)
	}
	return ""
}

// X11 says whether each session's uid is admitted to the X display
// (Config.X11Display) for the length of the session, and why not.
func (m *Manager) X11() (admitted bool, why string) { return m.x11 != nil, m.x11Why }

// shareX11 decides whether sessions get a host access entry on the X
// display. The server is not asked here: under cage Xwayland may start
// only when a client first connects.
func (m *Manager) shareX11() error {
	d := m.cfg.X11Display
	switch {
	case d == "":
		m.x11Why = "no X display configured"
		return nil
	case !m.root:
		m.x11Why = "the session runs as the appliance's own user, which has the display already"
	case !m.cfg.DedicatedUID || m.cfg.UID == nobodyUID:
		m.x11Why = "the session account is shared with other programs; it is not admitted to the X display"
	}
	if _, _, err := displaySocket(d); err != nil {
		return kiosk.E(kiosk.KindMalformed, "session manager", err)
	}
	if m.x11Why != "" {
		return nil
	}
	if m.cfg.X11Timeout <= 0 {
		m.cfg.X11Timeout = 2 * time.Second
	}
	m.x11 = &x11Access{display: d, authFile: m.cfg.X11Authority, uid: m.cfg.UID, timeout: m.cfg.X11Timeout, admit: m.cfg.X11Admit}
	return nil
}
