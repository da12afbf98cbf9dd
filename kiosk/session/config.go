package session

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"passkiosk/kiosk"
)

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

// StateRoot returns the configured state root.
func (m *Manager) StateRoot() string { return m.cfg.StateRoot }
