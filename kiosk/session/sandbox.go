package session

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

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
