package config

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// DefaultPath is where the appliance reads its configuration.
const DefaultPath = "/etc/passkiosk/passkiosk.toml"

// Config is the appliance's configuration file (REFERENCE.md).
type Config struct {
	// Terminal names this machine in the audit log and on the lock
	// screen ("Ward 7 — bay 2").
	Terminal string `toml:"terminal"`
	// StateDir holds the database (passkiosk.db) and, for the simulator,
	// the TPM state.
	StateDir string `toml:"state_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// PolicyFile is the policy the appliance starts with while its
	// database holds none; afterwards `passkioskctl policy apply` changes
	// it. Empty: the built-in default policy.
	PolicyFile string `toml:"policy_file"`

	TPM          TPM          `toml:"tpm"`
	SecurityKeys SecurityKeys `toml:"security_keys"`
	Session      Session      `toml:"session"`
	Admin        Admin        `toml:"admin"`
	UI           UI           `toml:"ui"`
	Display      Display      `toml:"display"`
	Retention    Retention    `toml:"retention"`
	SIEM         SIEM         `toml:"siem"`
	Fleet        Fleet        `toml:"fleet"`
	Place        Place        `toml:"place"`
}

// SIEM is where the audit log is forwarded besides the local journal.
type SIEM struct {
	// Syslog is a collector's host:port for RFC 5424 over TCP (RFC 6587
	// octet counting), or over TLS when SyslogTLS; empty: off.
	Syslog    string `toml:"syslog"`
	SyslogTLS bool   `toml:"syslog_tls"`
	// SyslogCA is a PEM file of the certificates that may sign the
	// collector's (TLS only); empty: the system's.
	SyslogCA string `toml:"syslog_ca"`
}

// validate checks the collector's address.
func (s SIEM) validate(c *collector) {
	if s.Syslog != "" {
		if _, port, err := net.SplitHostPort(s.Syslog); err != nil || port == "" {
			c.add("siem.syslog", "siem.syslog = %q: must be host:port, like siem.example:6514", s.Syslog)
		}
	}
	if s.SyslogCA != "" {
		c.absolute("siem.syslog_ca", s.SyslogCA)
		if !s.SyslogTLS {
			c.add("siem.syslog_ca", "siem.syslog_ca is set but siem.syslog_tls is false")
		}
	}
}

// Retention says how long records that only history needs are kept, in
// days; 0 keeps them for ever.
type Retention struct {
	// AuditDays and AuditEntries bound the audit log by age and count.
	AuditDays    int `toml:"audit_days"`
	AuditEntries int `toml:"audit_entries"`
	// SessionDays keeps the journal of sessions that ended and were wiped.
	SessionDays int `toml:"session_days"`
	// CodeDays keeps used and expired enrollment codes listed.
	CodeDays int `toml:"code_days"`
}

// TPM says how to reach the TPM.
type TPM struct {
	// Transport is "device" (the kernel resource manager), "swtpm" (a
	// swtpm process's data socket) or "simulator" (in-process, for demos).
	Transport string `toml:"transport"`
	// Device is the TPM device for "device".
	Device string `toml:"device"`
	// Socket is swtpm's data socket for "swtpm".
	Socket string `toml:"socket"`
	// ManageDA: the appliance sets the TPM's dictionary-attack
	// parameters below when it provisions the TPM (default true).
	ManageDA bool `toml:"manage_lockout"`
	// MaxAuthFail, LockoutInterval and LockoutRecovery are the
	// dictionary-attack parameters (TPM2_DictionaryAttackParameters): the
	// TPM pauses every PIN sign-in after MaxAuthFail wrong PINs of anyone,
	// forgets one every LockoutInterval seconds, and blocks its lockout
	// authorization for LockoutRecovery seconds after a wrong one.
	MaxAuthFail     int `toml:"max_auth_fail"`
	LockoutInterval int `toml:"lockout_interval"`
	LockoutRecovery int `toml:"lockout_recovery"`
	// LockoutAuthFile names a root-only file holding the lockout
	// authorization IT set on this TPM, if any.
	LockoutAuthFile string `toml:"lockout_auth_file"`
}

// SecurityKeys switches USB FIDO2 security keys on or off.
type SecurityKeys struct {
	Enabled bool `toml:"enabled"`
}

// Session says how sessions run.
type Session struct {
	// Sandbox is "auto", "bubblewrap", "systemd-run", "none" or
	// "required" (bubblewrap with user namespaces disabled, or the
	// terminal stays out of service).
	Sandbox string `toml:"sandbox"`
	// User is the account session programs run as.
	User string `toml:"user"`
	// DedicatedUser promises that nothing else on the machine runs as
	// User, so ending a session may end every process of it. Never true
	// for nobody.
	DedicatedUser bool `toml:"dedicated_user"`
}

// Admin configures the local admin socket.
type Admin struct {
	// Socket is the admin API's Unix socket.
	Socket string `toml:"socket"`
	// Group may use the socket besides root.
	Group string `toml:"group"`
}

// UI is the full-screen window's side of the appliance: the unprivileged
// account it runs as, and the socket it reaches the daemon on.
type UI struct {
	// Socket is the daemon's socket for its window (kiosk/uilink).
	Socket string `toml:"socket"`
	// User is the window's account: the only one, besides root, the
	// daemon serves on Socket, and the owner the daemon requires of the
	// compositor's socket (Display.WaylandSocket).
	User string `toml:"user"`
}

// validate checks the socket's path and the window's account.
func (u UI) validate(c *collector) {
	c.absolute("ui.socket", u.Socket)
	switch {
	case !groupName.MatchString(u.User):
		c.add("ui.user", "ui.user = %q: must be an account name like passkiosk-ui", u.User)
	case u.User == "root":
		// The window parses what the display server sends and draws with
		// GL; the split exists to keep that out of root.
		c.add("ui.user", "ui.user = \"root\": the window must not run as root; use an account of its own such as passkiosk-ui")
	}
}

// Display is the screen session programs show their windows on. The
// daemon takes it from here, never from the window: a window that could
// name a path would have the root daemon set ACLs on it.
type Display struct {
	// X11 allows X11 session programs (through Xwayland under cage). Only
	// then are they given DISPLAY and does the daemon ask the X server
	// for idle time: that query alone makes cage start Xwayland (66 MB).
	// Otherwise idle time comes from the input devices and the window.
	X11 bool `toml:"x11"`
	// X11Display is the X display for X11 session programs (":0").
	X11Display string `toml:"x11_display"`
	// XAuthority is the X server's cookie file, if it wants one.
	XAuthority string `toml:"xauthority"`
	// WaylandSocket is the compositor's socket (cage's
	// $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY) that Wayland session programs
	// are given; it must be a socket owned by ui.user. Empty: none.
	WaylandSocket string `toml:"wayland_socket"`
}

var x11DisplayName = regexp.MustCompile(`^(unix)?:[0-9]{1,4}(\.[0-9]{1,3})?$`)

// validate checks the display names.
func (d Display) validate(c *collector) {
	if d.X11 && !x11DisplayName.MatchString(d.X11Display) {
		c.add("display.x11_display", "display.x11_display = %q: must be a local X display like \":0\"", d.X11Display)
	}
	if d.XAuthority != "" {
		c.absolute("display.xauthority", d.XAuthority)
	}
	if d.WaylandSocket != "" {
		c.absolute("display.wayland_socket", d.WaylandSocket)
	}
}

// Default is the configuration a file's missing keys take.
func Default() Config {
	return Config{
		Terminal: hostname(),
		StateDir: "/var/lib/passkiosk",
		LogLevel: "info",
		TPM: TPM{Transport: "device", Device: "/dev/tpmrm0", ManageDA: true,
			MaxAuthFail: 32, LockoutInterval: 600, LockoutRecovery: 86400},
		SecurityKeys: SecurityKeys{Enabled: true},
		Session:      Session{Sandbox: "auto", User: "passkiosk-session", DedicatedUser: true},
		Admin:        Admin{Socket: "/run/passkiosk/admin.sock", Group: "passkiosk-admin"},
		UI:           UI{Socket: "/run/passkiosk/ui.sock", User: "passkiosk-ui"},
		Display:      Display{X11Display: ":0", WaylandSocket: "/run/passkiosk-ui/wayland-0"},
		Retention:    Retention{AuditDays: 400, SessionDays: 30, CodeDays: 30},
		Fleet:        Fleet{OfflineMaxAge: "24h", RevokeEndsSession: "at-once"},
	}
}

func hostname() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "passkiosk"
}

// DatabasePath is the store's file.
func (c *Config) DatabasePath() string { return filepath.Join(c.StateDir, "passkiosk.db") }

// SlogLevel is LogLevel for log/slog.
func (c *Config) SlogLevel() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel)) // validated by Load
	return l
}

// Load reads and validates the configuration file. A missing file is an
// error: the appliance is configured by its package's conffile. Errors
// are a Problems list (file, line, key, what to write instead) in a
// kiosk.KindMalformed error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileErr("read config", Problems{{File: path, Msg: err.Error()}})
	}
	return Parse(path, data)
}

// Parse reads and validates configuration TOML; name is what errors call
// the file.
func Parse(name string, data []byte) (*Config, error) {
	c := newCollector(name, data)
	cfg := Default()
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		c.syntax(err)
		return nil, fileErr("read config", c.ps)
	}
	c.unknown(md, Config{})
	cfg.validate(c)
	if len(c.ps) > 0 {
		return nil, fileErr("read config", c.ps)
	}
	return &cfg, nil
}

var groupName = regexp.MustCompile(`^[a-z_][a-z0-9_-]*\$?$`)

func (cfg *Config) validate(c *collector) {
	validateTerminal(c, cfg.Terminal)
	c.absolute("state_dir", cfg.StateDir)
	c.oneOf("log_level", strings.ToLower(cfg.LogLevel), "debug", "info", "warn", "error")
	if cfg.PolicyFile != "" {
		c.absolute("policy_file", cfg.PolicyFile)
	}
	cfg.TPM.validate(c)
	cfg.Session.validate(c)
	cfg.Retention.validate(c)
	cfg.Admin.validate(c)
	cfg.UI.validate(c)
	cfg.Display.validate(c)
	cfg.SIEM.validate(c)
	cfg.Fleet.validate(c)
	cfg.Place.validate(c)
}

// oneOf records a problem unless v is one of allowed.
func (c *collector) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.add(key, "%s = %q: must be one of %s", key, v, strings.Join(allowed, ", "))
}

// absolute records a problem unless v is an absolute path.
func (c *collector) absolute(key, v string) {
	if !filepath.IsAbs(v) {
		c.add(key, "%s = %q: must be an absolute path", key, v)
	}
}

// validateTerminal checks the name shown on the lock screen and written to
// the audit log.
func validateTerminal(c *collector, terminal string) {
	if strings.TrimSpace(terminal) == "" || len(terminal) > 64 {
		c.add("terminal", "terminal: must name this machine in 1 to 64 characters")
	} else if i := strings.IndexFunc(terminal, unicode.IsControl); i >= 0 || !utf8.ValidString(terminal) {
		// The name goes into the audit log, the lock screen and the
		// session journal; a NUL cuts it short in C and a control
		// character rewrites what a terminal shows.
		c.add("terminal", "terminal: must be printable text, without control characters like NUL, tab or newline")
	}
}

// validate checks the transport and where it leads, and the
// dictionary-attack parameters.
func (t TPM) validate(c *collector) {
	c.oneOf("tpm.transport", t.Transport, "device", "swtpm", "simulator")
	switch t.Transport {
	case "device":
		c.absolute("tpm.device", t.Device)
	case "swtpm":
		if t.Socket == "" {
			c.add("tpm.socket", "tpm.socket: transport \"swtpm\" needs the path of swtpm's data socket")
		} else {
			c.absolute("tpm.socket", t.Socket)
		}
	}
	if t.MaxAuthFail < 1 || t.MaxAuthFail > 1000 {
		c.add("tpm.max_auth_fail", "tpm.max_auth_fail = %d: must be 1 to 1000", t.MaxAuthFail)
	}
	for key, v := range map[string]int{"tpm.lockout_interval": t.LockoutInterval, "tpm.lockout_recovery": t.LockoutRecovery} {
		if v < 0 {
			c.add(key, "%s = %d: must be 0 or more seconds", key, v)
		}
	}
	if t.LockoutAuthFile != "" {
		c.absolute("tpm.lockout_auth_file", t.LockoutAuthFile)
	}
}

// validate checks the sandbox and the account session programs run as.
func (s Session) validate(c *collector) {
	c.oneOf("session.sandbox", s.Sandbox, "auto", "bubblewrap", "systemd-run", "none", "required")
	if s.User == "" {
		c.add("session.user", "session.user: must name the account session programs run as")
	}
	if s.User == "root" {
		// Root escapes every sandbox and owns the appliance's own files:
		// a session program must never run as root.
		c.add("session.user", "session.user = \"root\": session programs must not run as root; use an account of their own such as passkiosk-session")
	}
	if s.User == "nobody" && s.DedicatedUser {
		c.add("session.user", "session.user = \"nobody\": nobody is shared by many programs; set session.dedicated_user = false, or use an account of its own")
	}
}

// validate checks that no retention is negative.
func (r Retention) validate(c *collector) {
	for key, v := range map[string]int{"retention.audit_days": r.AuditDays,
		"retention.audit_entries": r.AuditEntries, "retention.session_days": r.SessionDays,
		"retention.code_days": r.CodeDays} {
		if v < 0 {
			c.add(key, "%s = %d: must be 0 (keep for ever) or more", key, v)
		}
	}
}

// validate checks the socket's path and the administrators' group.
func (a Admin) validate(c *collector) {
	c.absolute("admin.socket", a.Socket)
	if !groupName.MatchString(a.Group) {
		c.add("admin.group", "admin.group = %q: must be a group name like passkiosk-admin", a.Group)
	}
}
