package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"passkiosk/kiosk"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("testdata/passkiosk.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Terminal: "Ward 7 - bay 2", StateDir: "/var/lib/passkiosk", LogLevel: "info", PolicyFile: "/etc/passkiosk/policy.toml",
		TPM:          TPM{Transport: "device", Device: "/dev/tpmrm0", ManageDA: true, MaxAuthFail: 32, LockoutInterval: 600, LockoutRecovery: 86400},
		SecurityKeys: SecurityKeys{Enabled: true},
		Session:      Session{Sandbox: "auto", User: "passkiosk-session", DedicatedUser: true},
		Admin:        Admin{Socket: "/run/passkiosk/admin.sock", Group: "passkiosk-admin"},
		UI:           UI{Socket: "/run/passkiosk/ui.sock", User: "passkiosk-ui"},
		Display:      Display{X11: false, X11Display: ":0", WaylandSocket: "/run/passkiosk-ui/wayland-0"},
		Retention:    Retention{AuditDays: 400, SessionDays: 30, CodeDays: 30},
		Fleet:        Fleet{Endpoints: []string{}, OfflineMaxAge: "24h", RevokeEndsSession: "at-once"},
		Place:        Place{Site: "north", Ward: "ward7", Labels: map[string]string{"floor": "3"}},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("got %+v\nwant %+v", *c, want)
	}
	if c.DatabasePath() != "/var/lib/passkiosk/passkiosk.db" || c.SlogLevel().String() != "INFO" {
		t.Fatalf("derived: %s %v", c.DatabasePath(), c.SlogLevel())
	}
}

func TestEmptyConfigTakesDefaults(t *testing.T) {
	c, err := Parse("empty.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if !reflect.DeepEqual(*c, d) || c.Terminal == "" {
		t.Fatalf("got %+v, want the defaults %+v", *c, d)
	}
}

func TestConfigErrorsNameTheLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"typo", "terminal = \"x\"\n\n[admin]\nsoket = \"/run/a.sock\"\n",
			[]string{`c.toml:4: unknown key "soket" in [admin] (did you mean socket?)`}},
		{"misspelt table", "[sesion]\nsandbox = \"none\"\n",
			[]string{`c.toml:1: unknown key "sesion" (did you mean session?)`}},
		{"bad choices", "log_level = \"loud\"\n[tpm]\ntransport = \"usb\"\n[session]\nsandbox = \"docker\"\n",
			[]string{`c.toml:1: log_level = "loud": must be one of debug, info, warn, error`,
				`c.toml:3: tpm.transport = "usb": must be one of device, swtpm, simulator`,
				`c.toml:5: session.sandbox = "docker": must be one of auto, bubblewrap, systemd-run, none`}},
		{"relative paths", "state_dir = \"var/lib\"\n[admin]\nsocket = \"admin.sock\"\n",
			[]string{`c.toml:1: state_dir = "var/lib": must be an absolute path`, `c.toml:3: admin.socket = "admin.sock": must be an absolute path`}},
		{"swtpm without socket", "[tpm]\ntransport = \"swtpm\"\n",
			[]string{`c.toml:1: tpm.socket: transport "swtpm" needs the path of swtpm's data socket`}},
		{"nobody is not dedicated", "[session]\nuser = \"nobody\"\n",
			[]string{`c.toml:2: session.user = "nobody": nobody is shared by many programs; set session.dedicated_user = false, or use an account of its own`}},
		{"negative retention", "[retention]\naudit_days = -1\n",
			[]string{`c.toml:2: retention.audit_days = -1: must be 0 (keep for ever) or more`}},
		{"wrong type", "[security_keys]\nenabled = \"yes\"\n",
			[]string{`c.toml:2: security_keys.enabled: the value is a string, it must be true or false`}},
		{"syntax", "terminal = \"unterminated\n",
			[]string{`c.toml:1: `}},
		{"bad group", "[admin]\ngroup = \"Domain Admins\"\n",
			[]string{`c.toml:2: admin.group = "Domain Admins": must be a group name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tc.text))
			if kiosk.KindOf(err) != kiosk.KindMalformed {
				t.Fatalf("kind of %v", err)
			}
			ps := ProblemsOf(err)
			if len(ps) != len(tc.want) {
				t.Fatalf("problems %q, want %q", ps, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(ps[i].String(), w) {
					t.Errorf("problem %d: %q, want %q", i, ps[i], w)
				}
			}
		})
	}
}

func TestMissingConfigFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.toml"))
	if kiosk.KindOf(err) != kiosk.KindMalformed || !strings.Contains(err.Error(), "absent.toml: open") {
		t.Fatalf("%v", err)
	}
}

// The shipped example documents every key the format has.
func TestExampleAndReferenceCoverEveryKey(t *testing.T) {
	example, err := os.ReadFile("testdata/passkiosk.toml")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile("REFERENCE.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := keyLines(example)
	for _, k := range keyPatternsOf(Config{}) {
		if !hasKey(lines, k) && k != "tpm.socket" {
			t.Errorf("example lacks %s", k)
		}
		if !strings.Contains(string(ref), "`"+k+"`") {
			t.Errorf("REFERENCE.md does not document %s", k)
		}
	}
	for _, k := range keyPatternsOf(policyFile{}) {
		k = strings.Replace(k, "*", "NAME", 1)
		if !strings.Contains(string(ref), "`"+k+"`") {
			t.Errorf("REFERENCE.md does not document policy key %s", k)
		}
	}
}

// A session account of root and a terminal name with control characters
// are refused when the file is read, not later at a session's start.
func TestConfigRefusesRootSessionsAndControlCharacters(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"root sessions", "[session]\nuser = \"root\"\n", `c.toml:2: session.user = "root": session programs must not run as root`},
		{"NUL in the terminal name", "terminal = \"Ward 7\\u0000bay 2\"\n", `c.toml:1: terminal: must be printable text`},
		{"newline in the terminal name", "terminal = \"Ward 7\\nroot logged in\"\n", `c.toml:1: terminal: must be printable text`},
		{"escape sequence in the terminal name", "terminal = \"\\u001b[2JWard\"\n", `c.toml:1: terminal: must be printable text`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tc.text))
			ps := ProblemsOf(err)
			if kiosk.KindOf(err) != kiosk.KindMalformed || len(ps) != 1 || !strings.HasPrefix(ps[0].String(), tc.want) {
				t.Fatalf("problems %q (%v), want %q", ps, err, tc.want)
			}
		})
	}
	if _, err := Parse("c.toml", []byte("terminal = \"Station 7 — bay 2 (Zoë)\"\n")); err != nil {
		t.Fatalf("a printable name with non-ASCII letters refused: %v", err)
	}
}

// A collector's address that cannot be dialled, or a CA file without TLS,
// is refused where it is written.
func TestConfigRefusesABadSIEMCollector(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"no port", "[siem]\nsyslog = \"siem.example\"\n", `c.toml:2: siem.syslog = "siem.example": must be host:port`},
		{"CA without TLS", "[siem]\nsyslog = \"siem.example:514\"\nsyslog_ca = \"/etc/ca.pem\"\n", `c.toml:3: siem.syslog_ca is set but siem.syslog_tls is false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tc.text))
			ps := ProblemsOf(err)
			if kiosk.KindOf(err) != kiosk.KindMalformed || len(ps) != 1 || !strings.HasPrefix(ps[0].String(), tc.want) {
				t.Fatalf("problems %q (%v), want %q", ps, err, tc.want)
			}
		})
	}
	if _, err := Parse("c.toml", []byte("[siem]\nsyslog = \"10.0.0.5:6514\"\nsyslog_tls = true\nsyslog_ca = \"/etc/passkiosk/siem-ca.pem\"\n")); err != nil {
		t.Fatalf("a good collector refused: %v", err)
	}
}

// The window's account and the display names are checked where they are
// written: a window as root, a relative socket, an X display that is not
// local.
func TestConfigChecksTheWindowAndTheDisplay(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"window as root", "[ui]\nuser = \"root\"\n", `c.toml:2: ui.user = "root": the window must not run as root`},
		{"bad account", "[ui]\nuser = \"Kiosk UI\"\n", `c.toml:2: ui.user = "Kiosk UI": must be an account name`},
		{"relative socket", "[ui]\nsocket = \"ui.sock\"\n", `c.toml:2: ui.socket = "ui.sock": must be an absolute path`},
		{"remote X display", "[display]\nx11 = true\nx11_display = \"host:0\"\n", `c.toml:3: display.x11_display = "host:0": must be a local X display`},
		{"relative Wayland socket", "[display]\nwayland_socket = \"wayland-0\"\n", `c.toml:2: display.wayland_socket = "wayland-0": must be an absolute path`},
		{"relative cookie", "[display]\nxauthority = \".Xauthority\"\n", `c.toml:2: display.xauthority = ".Xauthority": must be an absolute path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tc.text))
			ps := ProblemsOf(err)
			if kiosk.KindOf(err) != kiosk.KindMalformed || len(ps) != 1 || !strings.HasPrefix(ps[0].String(), tc.want) {
				t.Fatalf("problems %q (%v), want %q", ps, err, tc.want)
			}
		})
	}
	c, err := Parse("c.toml", []byte("[display]\nx11 = true\nx11_display = \":1.0\"\nwayland_socket = \"\"\n"))
	if err != nil || !c.Display.X11 || c.Display.WaylandSocket != "" || c.UI.User != "passkiosk-ui" {
		t.Fatalf("a good display refused or misread: %+v %v", c, err)
	}
}

// hasKey reports whether lines has key k, "*" in k standing for any key.
func hasKey(lines map[string]int, k string) bool {
	for l := range lines {
		if patternMatch(k, l) {
			return true
		}
	}
	return false
}
