package session

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"passkiosk/kiosk"
)

// Sandbox names how the session program is confined. Values are fixed
// numbers: they are stored in the journal and the audit log.
type Sandbox uint8

const (
	// SandboxAuto picks the strongest sandbox that works on this machine
	// when the Manager is created: bubblewrap, then a systemd transient
	// scope, then a plain process group.
	SandboxAuto Sandbox = 0
	// SandboxBubblewrap runs the program under bwrap in its own PID and
	// mount namespaces; the whole namespace dies with its init.
	SandboxBubblewrap Sandbox = 1
	// SandboxSystemdRun runs the program in a transient systemd scope.
	SandboxSystemdRun Sandbox = 2
	// SandboxNone runs the program in its own process group only.
	SandboxNone Sandbox = 3
	// SandboxRequired is bubblewrap with user namespaces disabled inside,
	// or no sessions at all: New fails instead of falling back, and the
	// appliance stays out of service until the sandbox works.
	SandboxRequired Sandbox = 4
)

var sandboxNames = kiosk.Names[Sandbox]{
	SandboxAuto:       "auto",
	SandboxBubblewrap: "bubblewrap",
	SandboxSystemdRun: "systemd-run",
	SandboxNone:       "none",
	SandboxRequired:   "required",
}

func (s Sandbox) String() string { return sandboxNames.Name("sandbox", s) }

// ParseSandbox maps a configuration word ("auto", "bubblewrap",
// "systemd-run", "none", "required") to a Sandbox.
func ParseSandbox(word string) (Sandbox, error) {
	if s, ok := sandboxNames.Value(word); ok {
		return s, nil
	}
	return 0, kiosk.Errorf(kiosk.KindMalformed, "parse sandbox", "unknown sandbox %q (want auto, bubblewrap, systemd-run, none or required)", word)
}

// Bind exposes a host path inside a bubblewrap sandbox. Other sandboxes
// see the host file system as it is, so Binds mean nothing to them.
//
// The display needs one: inside the sandbox /tmp is the workspace's tmp
// folder. An X11 client still reaches the server through its abstract
// socket (the network namespace is shared), or bind /tmp/.X11-unix and
// the Xauthority file; a Wayland client needs its compositor's socket,
// which Config.Wayland provides.
type Bind struct {
	Source, Target string
	Writable       bool
}

// Config configures a Manager. Zero values get the documented defaults.
type Config struct {
	// StateRoot holds the workspaces (StateRoot/sessions/<id>). It must be
	// on a local file system owned by root in production; the sessions
	// folder is created with mode 0711 so that the session user can reach
	// its own workspace by its unguessable name but cannot list others.
	StateRoot string
	// Sandbox is the requested sandbox; SandboxAuto detects one.
	Sandbox Sandbox
	// UID and GID run the session program. They are used only when the
	// appliance runs as root; otherwise the program runs as the
	// appliance's own user and the workspace is a plain directory.
	UID, GID uint32
	// DedicatedUID promises that no other process on the machine runs as
	// UID, so that ending a session may kill every process of that uid.
	// This is the strongest process check without a PID namespace: a
	// process cannot give up its uid. Leave it false for shared uids such
	// as nobody.
	DedicatedUID bool
	// Journal records open sessions so that Recover can wipe them after a
	// crash. Required.
	Journal Journal
	// Clock stamps sessions. Defaults to the system clock.
	Clock kiosk.Clock
	// TmpfsSize limits a tmpfs workspace, in bytes. Default 512 MiB.
	TmpfsSize int64
	// NoTmpfs forces an on-disk workspace even when tmpfs would work.
	NoTmpfs bool
	// Grace is how long processes get between SIGTERM and SIGKILL.
	// Default 2 s.
	Grace time.Duration
	// KillTimeout bounds the wait for killed processes to disappear.
	// Default 5 s.
	KillTimeout time.Duration
	// PassEnv names variables copied from the appliance's environment into
	// the session (display and locale). Default: DISPLAY, WAYLAND_DISPLAY,
	// XAUTHORITY, LANG, LC_ALL, TZ. Nothing else is inherited.
	PassEnv []string
	// SharedDirs are the world-writable folders searched for files of a
	// dedicated session uid at the end. Default: /tmp, /var/tmp,
	// /dev/shm, /run/lock, /dev/mqueue.
	SharedDirs []string
	// Binds are extra host paths for the bubblewrap sandbox.
	Binds []Bind
	// Wayland is the compositor's socket (under cage:
	// $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY), for session programs that speak
	// Wayland. When UID is dedicated, New grants that uid alone, by POSIX
	// ACL entries, search on the socket's folder and read-write on the
	// socket (nothing changes for anyone else); sessions then get
	// WAYLAND_DISPLAY naming it, bound at SandboxWayland under bubblewrap.
	// Granted at New and again at every Start: the compositor runs in
	// its own unit and makes a new socket, without the grant, each time
	// it restarts. When it cannot be granted, sessions go without it
	// (Manager.Wayland says why), never out of service. Empty: none. (X11 programs reach the display
	// through DISPLAY, and Xwayland under cage.)
	Wayland string
	// WaylandOwner is the uid the compositor's socket must belong to (the
	// window's account under cage; 0 when the compositor runs as root).
	WaylandOwner int
	// X11Display is the X display that X11 session programs use (":0";
	// under cage, Xwayland's), and X11Authority the cookie file the
	// appliance connects to it with ("" is $HOME/.Xauthority; none means
	// no cookie). Sessions get DISPLAY naming it. When the session uid is
	// dedicated, each session's uid is admitted to the display by a
	// si:localuser entry in the server's host access list, added at
	// Start and removed, and checked removed, by End (x11access.go); a
	// shared uid (nobody) is never admitted (Manager.X11 says why).
	// Empty: sessions are not given an X display of their own (DISPLAY
	// may still pass through PassEnv, as before).
	X11Display, X11Authority string
	// X11Admit, when set, is called when the display refuses the
	// appliance (a session's grant, its wipe, recovery), and the
	// connection is tried once more: under cage the display admits only
	// its owner, who must let the appliance in again each time the
	// display restarts (AdmitRootAs).
	X11Admit func() error
	// X11Timeout bounds each conversation with the X server. Default 2 s.
	X11Timeout time.Duration
	// ClearClipboard is called during End, after the processes are gone.
	// The UI owns the clipboard, so it provides this hook.
	ClearClipboard func(ctx context.Context) error
}

var defaultPassEnv = []string{"DISPLAY", "XAUTHORITY", "LANG", "LC_ALL", "TZ"}

// SandboxWayland is where a bubblewrap session finds the compositor's
// socket (Config.Wayland).
const SandboxWayland = "/run/wayland-0"

// Manager starts, ends and recovers sessions. It is safe for concurrent
// use.
type Manager struct {
	cfg Config
	// waylandMu guards shared and wayland: the compositor's socket as
	// granted to the session uid at the last check ("" when not), and
	// why not. The check runs again at every Start, since a compositor
	// that restarts makes a new socket without the grant.
	waylandMu sync.Mutex
	shared    string
	wayland   string
	// x11 admits the session uid to the X display, nil when sessions are
	// not admitted; x11Why says why not.
	x11     *x11Access
	x11Why  string
	sandbox Sandbox
	reason  string
	// fallback says why sessions are confined less than asked ("" when
	// they are not): auto fell back from bubblewrap, or bubblewrap
	// cannot keep user namespaces from the program.
	fallback string
	bwrap    string // path of bwrap when sandbox is bubblewrap
	// noUserns: bwrap runs with --unshare-user --disable-userns.
	noUserns bool
	sdrun    string // path of systemd-run when sandbox is systemd-run
	root     bool   // running as root: drop to UID/GID, may mount tmpfs
	sessions string // StateRoot/sessions

	mu   sync.Mutex
	live map[string]*Session
}

// New checks the configuration, detects the sandbox and prepares the
// state root. Detection runs a real probe (bwrap starting a trivial
// program), so a sandbox reported as usable has been seen to work.
func New(cfg Config) (*Manager, error) {
	const op = "session manager"
	if cfg.StateRoot == "" || !filepath.IsAbs(cfg.StateRoot) {
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "state root %q must be an absolute path", cfg.StateRoot)
	}
	if cfg.Journal == nil {
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "no journal: sessions could not be recovered after a crash")
	}
	if _, ok := sandboxNames[cfg.Sandbox]; !ok {
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "unknown sandbox %d", cfg.Sandbox)
	}
	cfg.fill()
	m := &Manager{
		cfg:      cfg,
		root:     os.Geteuid() == 0,
		sessions: filepath.Join(cfg.StateRoot, "sessions"),
		live:     make(map[string]*Session),
	}
	if !m.root {
		m.cfg.UID, m.cfg.GID = uint32(os.Getuid()), uint32(os.Getgid())
	}
	if err := os.MkdirAll(m.sessions, 0o711); err != nil {
		return nil, kiosk.E(kiosk.KindUnknown, op, err)
	}
	// MkdirAll keeps the mode of an existing folder; insist on 0711 so
	// workspaces stay unlistable.
	if err := os.Chmod(m.sessions, 0o711); err != nil {
		return nil, kiosk.E(kiosk.KindUnknown, op, err)
	}
	if m.root && (m.cfg.UID == 0 || m.cfg.GID == 0) {
		return nil, kiosk.Errorf(kiosk.KindPolicy, op, "sessions must not run as uid or gid 0 (got %d:%d)", m.cfg.UID, m.cfg.GID)
	}
	if m.root {
		if err := reachable(m.sessions, m.cfg.UID, m.cfg.GID); err != nil {
			return nil, kiosk.E(kiosk.KindPolicy, op, err)
		}
	}
	if err := m.detect(); err != nil {
		return nil, err
	}
	m.shareWayland()
	if err := m.shareX11(); err != nil {
		return nil, err
	}
	return m, nil
}

// fill gives the settings left unset their defaults.
func (cfg *Config) fill() {
	if cfg.Clock == nil {
		cfg.Clock = kiosk.SystemClock{}
	}
	if cfg.TmpfsSize <= 0 {
		cfg.TmpfsSize = 512 << 20
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Second
	}
	if cfg.KillTimeout <= 0 {
		cfg.KillTimeout = 5 * time.Second
	}
	if cfg.PassEnv == nil {
		cfg.PassEnv = defaultPassEnv
	}
	if cfg.SharedDirs == nil {
		cfg.SharedDirs = defaultSharedDirs
	}
}

// reachable checks that uid:gid may search every folder from / down to
// dir: otherwise the session program could not reach its own workspace
// and would fail with a bare "permission denied" at every start.
func reachable(dir string, uid, gid uint32) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		ok := mode&0o001 != 0 ||
			(st != nil && st.Uid == uid && mode&0o100 != 0) ||
			(st != nil && st.Gid == gid && mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("session uid %d cannot reach %s: %s has mode %v (every folder above the workspaces needs o+x)", uid, dir, d, mode)
		}
		if d == "/" {
			return nil
		}
	}
}

// Sandbox reports the sandbox in use and why it was chosen, for the
// status screen and the audit log.
func (m *Manager) Sandbox() (Sandbox, string) { return m.sandbox, m.reason }

// Fallback says why sessions are confined less than the configuration
// asked, or "": auto ended on a systemd scope or a plain process group
// because bubblewrap does not work here, or bubblewrap cannot disable user
// namespaces inside the sandbox. The appliance audits it at start and
// reports its health as degraded.
func (m *Manager) Fallback() string { return m.fallback }

// detect settles m.sandbox, m.reason and m.fallback.
func (m *Manager) detect() error {
	const op = "detect sandbox"
	want := m.cfg.Sandbox
	var whyNot []string
	if want == SandboxAuto || want == SandboxBubblewrap || want == SandboxRequired {
		path, usernsWhy, err := m.probeBubblewrap()
		if err == nil && usernsWhy != "" && want == SandboxRequired {
			err = fmt.Errorf("%s", usernsWhy)
		}
		if err == nil {
			m.sandbox, m.bwrap, m.noUserns = SandboxBubblewrap, path, usernsWhy == ""
			m.reason = "bubblewrap " + path + " starts a PID namespace here"
			if m.noUserns {
				m.reason += ", with user namespaces disabled inside"
			} else {
				m.reason += "; user namespaces stay available inside: " + usernsWhy
				m.fallback = "the program may create user namespaces inside bubblewrap: " + usernsWhy
			}
			return nil
		}
		if want == SandboxRequired {
			return kiosk.Errorf(kiosk.KindPolicy, op, "session.sandbox = required, but bubblewrap with user namespaces disabled does not work here: %v", err)
		}
		if want == SandboxBubblewrap {
			return kiosk.Errorf(kiosk.KindPolicy, op, "bubblewrap requested but unusable: %v", err)
		}
		whyNot = append(whyNot, "bubblewrap: "+err.Error())
	}
	if want == SandboxAuto || want == SandboxSystemdRun {
		path, err := probeSystemdRun()
		if err == nil {
			m.sandbox, m.sdrun = SandboxSystemdRun, path
			m.reason = "systemd is the service manager and " + path + " exists"
			if want == SandboxAuto {
				m.reason += "; bubblewrap does not work here (" + strings.Join(whyNot, "; ") + ")"
				m.fallback = "sessions run in a systemd scope, not under bubblewrap: " + strings.Join(whyNot, "; ")
			}
			return nil
		}
		if want == SandboxSystemdRun {
			return kiosk.Errorf(kiosk.KindPolicy, op, "systemd-run requested but unusable: %v", err)
		}
		whyNot = append(whyNot, "systemd-run: "+err.Error())
	}
	m.sandbox = SandboxNone
	if want == SandboxNone {
		m.reason = "plain process group, as configured"
	} else {
		m.reason = fmt.Sprintf("plain process group; no sandbox works here (%v)", whyNot)
		m.fallback = "sessions run without a sandbox: " + strings.Join(whyNot, "; ")
	}
	return nil
}

// probeBubblewrap runs bwrap the way sessions will run it, as the session
// user, with a trivial program, bounded by a timeout. It first tries with
// user namespaces disabled inside (bwrap 0.8.0 and later, the version in
// Debian 12, offer --disable-userns; it needs --unshare-user); usernsWhy
// says why that could not be had, "" when it works.
func (m *Manager) probeBubblewrap() (path, usernsWhy string, err error) {
	path, err = exec.LookPath("bwrap")
	if err != nil {
		return "", "", err
	}
	probe := func(extra ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		args := append(extra, "--unshare-pid", "--die-with-parent",
			"--new-session", "--ro-bind", "/", "/", "--", "/bin/true")
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Env = []string{"PATH=" + sessionPath}
		cmd.Dir = "/"
		cmd.SysProcAttr = m.procAttr()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("probe failed: %v: %q", err, out)
		}
		return nil
	}
	if !bwrapOffers(path, "--disable-userns") {
		usernsWhy = "this bubblewrap has no --disable-userns (it needs 0.8.0 or later)"
	} else if err := probe("--unshare-user", "--disable-userns"); err != nil {
		usernsWhy = "--disable-userns does not work here: " + err.Error()
	} else {
		return path, "", nil
	}
	if err := probe(); err != nil {
		return "", "", err
	}
	return path, usernsWhy, nil
}

// bwrapOffers reports whether bwrap's --help lists option.
func bwrapOffers(path, option string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, "--help").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == option {
			return true
		}
	}
	return false
}

// probeSystemdRun follows sd_booted(3): systemd is the service manager
// when /run/systemd/system exists.
func probeSystemdRun() (string, error) {
	path, err := exec.LookPath("systemd-run")
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat("/run/systemd/system"); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("systemd is not the service manager (no /run/systemd/system)")
	}
	return path, nil
}

// StateRoot returns the configured state root.
func (m *Manager) StateRoot() string { return m.cfg.StateRoot }

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
