package session

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"passkiosk/kiosk"
)

// sessionPath is the PATH every session gets; the appliance's own PATH is
// not inherited.
const sessionPath = "/usr/local/bin:/usr/bin:/bin"

// Inside bubblewrap the workspace appears at sandboxHome and its tmp
// folder at /tmp, so the program sees the same layout whatever the state
// root is.
const sandboxHome = "/home/session"

// reservedEnv may not be set through Spec.Env: the package owns them.
var reservedEnv = map[string]bool{"HOME": true, "TMPDIR": true, "PATH": true, markerVar: true, "PASSKIOSK_USER": true, "PASSKIOSK_USER_ID": true, "WAYLAND_DISPLAY": true}

// sessionEnv builds the scrubbed environment: a fixed PATH, HOME and
// TMPDIR in the workspace, the marker, the allow-listed variables from the
// appliance and the spec's own. Nothing else of the appliance's
// environment (which may hold secrets) reaches the session.
func (m *Manager) sessionEnv(rec Record, spec Spec, home, tmp string) []string {
	env := []string{
		"PATH=" + sessionPath,
		"HOME=" + home,
		"TMPDIR=" + tmp,
		"PASSKIOSK_USER=" + spec.Name,
		"PASSKIOSK_USER_ID=" + string(rec.User),
		rec.Marker(),
	}
	for _, k := range m.cfg.PassEnv {
		if k == "DISPLAY" && m.cfg.X11Display != "" {
			continue // the configured display, below
		}
		if v, ok := os.LookupEnv(k); ok && !reservedEnv[k] {
			env = append(env, k+"="+v)
		}
	}
	if m.cfg.X11Display != "" {
		env = append(env, "DISPLAY="+m.cfg.X11Display)
	}
	if w := m.waylandSocket(); w != "" {
		// An absolute path: libwayland takes it as the socket itself.
		if m.sandbox == SandboxBubblewrap {
			w = SandboxWayland
		}
		env = append(env, "WAYLAND_DISPLAY="+w)
	}
	return append(env, spec.Env...)
}

// checkSpec rejects a spec the package cannot run safely.
func checkSpec(spec Spec) error {
	const op = "start session"
	if len(spec.Program) == 0 || !filepath.IsAbs(spec.Program[0]) {
		return kiosk.Errorf(kiosk.KindMalformed, op, "session program must start with an absolute path, got %q", spec.Program)
	}
	if strings.ContainsAny(string(spec.User)+spec.Name, "\x00\n") {
		return kiosk.Errorf(kiosk.KindMalformed, op, "user ID or name holds a NUL or newline")
	}
	for _, a := range spec.Program {
		if strings.IndexByte(a, 0) >= 0 {
			return kiosk.Errorf(kiosk.KindMalformed, op, "program argument holds a NUL")
		}
	}
	for _, e := range spec.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.IndexByte(e, 0) >= 0 {
			return kiosk.Errorf(kiosk.KindMalformed, op, "environment entry %q is not KEY=value", e)
		}
		if reservedEnv[k] {
			return kiosk.Errorf(kiosk.KindMalformed, op, "environment variable %s is set by the session manager", k)
		}
	}
	return nil
}

// procAttr is the launch attributes shared by every sandbox: a process
// group of its own, SIGKILL if the appliance dies (the rest is found by
// Recover), and the session uid/gid with no supplementary groups when the
// appliance runs as root.
func (m *Manager) procAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if m.root {
		a.Credential = &syscall.Credential{Uid: m.cfg.UID, Gid: m.cfg.GID, Groups: []uint32{}}
	}
	return a
}

// command builds the exec.Cmd for the configured sandbox. infoW, when not
// nil, is the write end of bubblewrap's --info-fd pipe.
func (m *Manager) command(rec Record, spec Spec, infoW *os.File) *exec.Cmd {
	var cmd *exec.Cmd
	switch m.sandbox {
	case SandboxBubblewrap:
		args := m.bwrapArgs(rec.Workspace)
		args = append(args, "--")
		args = append(args, spec.Program...)
		cmd = exec.Command(m.bwrap, args...)
		cmd.Env = m.sessionEnv(rec, spec, sandboxHome, "/tmp")
		cmd.ExtraFiles = []*os.File{infoW} // fd 3
		cmd.Dir = "/"
		cmd.SysProcAttr = m.procAttr()
	case SandboxSystemdRun:
		// A transient scope (systemd-run(1) --scope): systemd-run asks
		// the service manager for the scope, moves itself into it,
		// changes to the session uid and execs the program, so the
		// program keeps our pid, environment and process group. It
		// needs root for the system manager, so the credentials are
		// systemd-run's --uid/--gid rather than ours. Not testable
		// where systemd is not PID 1.
		args := []string{"--scope", "--quiet", "--collect",
			"--unit=" + scopeUnit(rec.ID),
			"--property=TasksMax=512",
			fmt.Sprintf("--uid=%d", m.cfg.UID), fmt.Sprintf("--gid=%d", m.cfg.GID), "--"}
		cmd = exec.Command(m.sdrun, append(args, spec.Program...)...)
		cmd.Env = m.sessionEnv(rec, spec, rec.Workspace, filepath.Join(rec.Workspace, "tmp"))
		cmd.Dir = rec.Workspace
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	default:
		cmd = exec.Command(spec.Program[0], spec.Program[1:]...)
		cmd.Env = m.sessionEnv(rec, spec, rec.Workspace, filepath.Join(rec.Workspace, "tmp"))
		cmd.Dir = rec.Workspace
		cmd.SysProcAttr = m.procAttr()
	}
	// Nil means /dev/null. A nil *os.File must not become a non-nil
	// io.Writer, hence the checks.
	if spec.Stdout != nil {
		cmd.Stdout = spec.Stdout
	}
	if spec.Stderr != nil {
		cmd.Stderr = spec.Stderr
	}
	return cmd
}

func scopeUnit(id string) string { return "passkiosk-session-" + id + ".scope" }

// bwrapArgs confines the program: its own PID namespace (so everything it
// starts dies with the namespace's init), IPC and UTS namespaces, a new
// terminal session (no TIOCSTI into ours), the system read-only, the
// workspace as the only writable place, only the parts of /etc that
// programs need (etcForSessions), user namespaces disabled inside where
// bubblewrap can (so the program cannot map itself to uid 0 and mount
// what it likes), and SIGKILL when the appliance goes away.
//
// The network namespace is the host's, on purpose. The session program is
// usually a browser that needs the network and name resolution, and a
// namespace of its own would have no network at all without a user-space
// stack (slirp4netns, pasta) run beside every session. The price: the
// host's abstract Unix sockets (those named "@…", which have no file and
// so no file mode) are reachable from the session. What listens there on
// a terminal is the display server (@/tmp/.X11-unix/X0, which the session
// is meant to reach, and which checks its clients itself) and services
// that check their peer's credentials; the appliance's own sockets are
// files under /run/passkiosk, not bound into the sandbox, and the admin
// socket checks its peer's uid. Do not run services on a terminal that
// trust abstract-socket clients without a credential check.
func (m *Manager) bwrapArgs(ws string) []string {
	args := []string{
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
	}
	if m.noUserns {
		// --disable-userns needs a user namespace of the sandbox's own;
		// bwrap maps the session uid to itself in it.
		args = append(args, "--unshare-user", "--disable-userns")
	}
	args = append(args,
		"--die-with-parent", "--new-session",
		"--info-fd", "3",
		"--ro-bind", "/usr", "/usr",
		"--ro-bind-try", "/opt", "/opt",
	)
	args = append(args, etcArgs("/etc", etcForSessions)...)
	// Merged-/usr systems have /bin, /lib… as symbolic links; others
	// have real directories. Mirror whichever the host has.
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		if t, err := os.Readlink(d); err == nil {
			args = append(args, "--symlink", t, d)
		} else if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			args = append(args, "--ro-bind", d, d)
		}
	}
	args = append(args,
		"--proc", "/proc",
		"--dev", "/dev",
		"--bind", ws, sandboxHome,
		"--bind", filepath.Join(ws, "tmp"), "/tmp",
		"--bind", filepath.Join(ws, shmDir), "/dev/shm",
		"--chdir", sandboxHome,
	)
	if w := m.waylandSocket(); w != "" {
		args = append(args, "--bind", w, SandboxWayland)
	}
	for _, b := range m.cfg.Binds {
		flag := "--ro-bind"
		if b.Writable {
			flag = "--bind"
		}
		args = append(args, flag, b.Source, b.Target)
	}
	// Last: the sandbox's own root (a tmpfs bwrap made) read-only, so
	// the binds above are the only places the program can write.
	return append(args, "--remount-ro", "/")
}

// bwrapInfo is what bubblewrap writes to --info-fd once the sandbox's init
// exists: its pid in our namespace and the new PID namespace's inode.
type bwrapInfo struct {
	ChildPID int    `json:"child-pid"`
	PidNS    uint64 `json:"pid-namespace"`
}

// readBwrapInfo reads the info document, bounded by timeout. bwrap closes
// the descriptor after writing, and if it fails before, the pipe closes
// with its exit, so the read ends either way.
func readBwrapInfo(r *os.File, timeout time.Duration) (bwrapInfo, error) {
	var info bwrapInfo
	_ = r.SetReadDeadline(time.Now().Add(timeout))
	if err := json.NewDecoder(r).Decode(&info); err != nil {
		return info, fmt.Errorf("bubblewrap info: %w", err)
	}
	if info.ChildPID <= 0 || info.PidNS == 0 {
		return info, fmt.Errorf("bubblewrap info lacks child pid or pid namespace: %+v", info)
	}
	return info, nil
}

// etcForSessions is what a session program may read of /etc; the rest
// (the appliance's own configuration in /etc/passkiosk, SSH host keys,
// sudoers, machine secrets) is not in the sandbox at all. Each entry is
// here because common session programs fail or misbehave without it:
var etcForSessions = []string{
	// The session uid's own name, and the system's groups: programs
	// look themselves up (getpwuid) and refuse to start without an
	// entry. No shadow files: no passwords are read in a session.
	"passwd", "group", "nsswitch.conf",
	// The dynamic linker's cache and its configuration: libraries
	// outside the default paths are found through them.
	"ld.so.cache", "ld.so.conf", "ld.so.conf.d",
	// Name resolution and the network: a browser needs them.
	"resolv.conf", "hosts", "host.conf", "gai.conf", "services", "protocols",
	// TLS trust anchors: without them every https:// page fails.
	"ssl", "ca-certificates", "ca-certificates.conf", "pki", "crypto-policies",
	// Time zone and locale, so the program shows local time and text.
	"localtime", "timezone", "locale.alias", "locale.conf", "default/locale",
	// Fonts, desktop defaults, MIME types and the input and display
	// settings toolkits read.
	"fonts", "xdg", "mime.types", "gtk-2.0", "gtk-3.0", "X11", "dconf",
	// Sound.
	"asound.conf", "pulse",
	// Debian's alternatives: /usr/bin/x-www-browser and many others are
	// links through /etc/alternatives.
	"alternatives",
	// Browsers' system-wide settings and policies.
	"chromium", "chromium.d", "firefox", "firefox-esr", "opt/chrome",
	// D-Bus and systemd identify the machine by it; browsers log errors
	// without it. It is not a secret (it is readable by every user).
	"machine-id",
	// What system this is, for programs that report it.
	"os-release", "lsb-release", "debian_version",
}

// etcArgs binds the entries of names that exist under etc, read-only.
// An entry that is a symbolic link stays one (programs read the time
// zone's name from the /etc/localtime link), and its target is bound as
// well when it lies outside the folders the sandbox has (resolv.conf
// under systemd-resolved or NetworkManager points into /run).
func etcArgs(etc string, names []string) []string {
	var args []string
	for _, n := range names {
		p := filepath.Join(etc, n)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		target := "/etc/" + n
		if fi.Mode().Type() != os.ModeSymlink {
			args = append(args, "--ro-bind", p, target)
			continue
		}
		link, err := os.Readlink(p)
		if err != nil {
			continue
		}
		args = append(args, "--symlink", link, target)
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil || inSandbox(resolved) {
			continue
		}
		args = append(args, "--ro-bind-try", resolved, resolved)
	}
	return args
}

// inSandbox reports whether path lies in a folder the sandbox binds
// whole: /usr, /opt, or an /etc entry the list allows.
func inSandbox(path string) bool {
	for _, d := range []string{"/usr/", "/opt/"} {
		if strings.HasPrefix(path, d) {
			return true
		}
	}
	for _, n := range etcForSessions {
		if path == "/etc/"+n || strings.HasPrefix(path, "/etc/"+n+"/") {
			return true
		}
	}
	return false
}
