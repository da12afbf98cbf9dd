package session

import (
	"slices"
	"strings"
	"testing"
)

// systemd is not PID 1 here, so the systemd-run path cannot run; this
// pins the command it would run: a transient scope named after the
// session, the session uid and gid, the program after "--", and the
// scrubbed environment with the marker.
func TestSystemdRunCommandLine(t *testing.T) {
	m := &Manager{cfg: Config{UID: 990, GID: 991, PassEnv: []string{}}, sandbox: SandboxSystemdRun, sdrun: "/usr/bin/systemd-run", root: true}
	rec := Record{ID: "0123abcd", User: "alice", Workspace: "/var/lib/passkiosk/sessions/0123abcd"}
	cmd := m.command(rec, Spec{Program: []string{"/usr/bin/browser", "--kiosk"}}, nil)
	want := []string{"/usr/bin/systemd-run", "--scope", "--quiet", "--collect", "--unit=passkiosk-session-0123abcd.scope",
		"--property=TasksMax=512", "--uid=990", "--gid=991", "--", "/usr/bin/browser", "--kiosk"}
	if !slices.Equal(cmd.Args, want) {
		t.Errorf("args %q\nwant %q", cmd.Args, want)
	}
	if cmd.Dir != rec.Workspace || cmd.SysProcAttr.Credential != nil || !cmd.SysProcAttr.Setpgid {
		t.Errorf("dir %q, attrs %+v", cmd.Dir, cmd.SysProcAttr)
	}
	env := strings.Join(cmd.Env, "\n")
	for _, e := range []string{"HOME=" + rec.Workspace, "TMPDIR=" + rec.Workspace + "/tmp", "PASSKIOSK_SESSION=0123abcd", "PATH=" + sessionPath} {
		if !slices.Contains(cmd.Env, e) {
			t.Errorf("env lacks %s:\n%s", e, env)
		}
	}
}

func TestBubblewrapArgsBindOnlyTheWorkspaceWritable(t *testing.T) {
	m := &Manager{cfg: Config{Binds: []Bind{{Source: "/tmp/.X11-unix", Target: "/tmp/.X11-unix"}}}}
	args := m.bwrapArgs("/state/sessions/ab")
	var writable []string
	for i, a := range args {
		if a == "--bind" {
			writable = append(writable, args[i+1]+"→"+args[i+2])
		}
	}
	want := []string{"/state/sessions/ab→/home/session", "/state/sessions/ab/tmp→/tmp", "/state/sessions/ab/.shm→/dev/shm"}
	if !slices.Equal(writable, want) {
		t.Errorf("writable binds %q, want %q", writable, want)
	}
	for _, need := range []string{"--unshare-pid", "--die-with-parent", "--new-session", "--info-fd"} {
		if !slices.Contains(args, need) {
			t.Errorf("bwrap args lack %s", need)
		}
	}
	if i := slices.Index(args, "/tmp/.X11-unix"); i < 1 || args[i-1] != "--ro-bind" {
		t.Errorf("extra bind missing or writable: %q", args)
	}
}
