// Package session runs one person's isolated session and removes every
// trace of it afterwards: the private workspace, the launch of the session
// program in a sandbox as an unprivileged user, ending it, the wipe and
// its verification, and crash recovery.
//
// It owns the workspaces under StateRoot/sessions and the processes it
// starts. It must not touch the sign-in decisions (the engine decides when
// a session ends and why), the database (it reaches its journal through
// the Journal port), the display or the clipboard (the UI's ClearClipboard
// hook does that), and it imports only the standard library,
// golang.org/x/sys/unix and passkiosk/kiosk: no fyne, bbolt, go-tpm or
// go-libfido2.
//
// # Use
//
//	m, err := session.New(session.Config{StateRoot: "/var/lib/passkiosk",
//		Sandbox: session.SandboxAuto, UID: uid, GID: gid, DedicatedUID: true,
//		Journal: j, Clock: clock, ClearClipboard: u.ClearClipboard}) // u is the *ui.UI
//	reports, err := m.Recover() // at start, before the lock screen
//	s, err := m.Start(ctx, session.Spec{User: id, Name: name, Program: argv})
//	<-s.Exited()                // the program exited: s.Relaunch() or end
//	report, err := s.End(kiosk.EndLogout) // audited by the engine
//
// The engine reaches it through its ports: Port implements kiosk.Sessions
// (PortSession is the kiosk.Session, End takes the engine's typed cause
// and its words for people, and returns the kiosk.WipeReport) and
// kiosk.InputIdle (LastInput, from an IdleSource).
//
// Logout, tapping the same key, pulling the key, idle timeout, the
// session's time limit, an admin command and shutdown are all the
// engine's causes (kiosk.EndCause): it calls End with them. The package
// itself only reports what it can see: the program exited (Exited).
// End is safe to call from any goroutine; later calls return the first
// result. Relaunch restarts an exited program in the same workspace.
// Manager.Sandbox says which sandbox is in use and why, for the status
// screen.
//
// # Workspace
//
// Each session gets StateRoot/sessions/<id>, where id is 128 random bits
// and os.Mkdir refuses an existing path, so a workspace is never reused.
// It is a size-limited tmpfs (nosuid, nodev) when the appliance runs as
// root and the mount works, a plain folder otherwise; mode 0700, owned by
// the session uid, with a tmp folder. HOME is the workspace and TMPDIR its
// tmp folder (under bubblewrap they appear as /home/session and /tmp, and
// the workspace's .shm folder is the sandbox's /dev/shm).
// The sessions folder is 0711: the session user reaches its own workspace
// by name but cannot list others; New refuses a state root the session
// uid cannot reach, and uid or gid 0 for sessions.
//
// The environment is built, not inherited: PATH, HOME, TMPDIR,
// PASSKIOSK_USER, the marker PASSKIOSK_SESSION=<id>, the variables named
// in Config.PassEnv (display and locale by default) and Spec.Env. Nothing
// else of the appliance's environment reaches the program.
//
// # Sandboxes
//
// The sandbox is chosen by Config.Sandbox and detected in New:
//
//   - bubblewrap (auto's first choice; New runs a real bwrap probe as the
//     session user): bwrap --unshare-pid --unshare-ipc --unshare-uts
//     --die-with-parent --new-session, and --unshare-user --disable-userns
//     where bubblewrap offers it (0.8.0 and later; detected from its
//     --help and probed), so the program cannot make itself root in a user
//     namespace of its own; /usr read-only and of /etc only the entries
//     in etcForSessions (launch.go says why each is there; the appliance's
//     own /etc/passkiosk is not among them), the sandbox root remounted
//     read-only so that the workspace (as HOME, /tmp and /dev/shm) is the
//     only writable place, --info-fd to learn the sandbox init's pid and
//     PID namespace. The network namespace is the host's: session programs
//     are usually browsers (bwrapArgs says what that exposes). Every process the program
//     starts lives in that namespace and the kernel kills them all when
//     its init dies, whatever they do to their environment or session.
//     bwrap itself runs as the session uid (in a user namespace), so the
//     files it writes belong to that uid.
//   - systemd-run: a transient scope (systemd-run --scope --uid --gid),
//     chosen by auto when /run/systemd/system exists (sd_booted(3)).
//     systemd is not PID 1 on the machines this package was built on, so
//     this path has never run: it is kept to building the command line
//     (pinned by TestSystemdRunCommandLine) and a "systemctl stop" of the
//     scope at End; the same /proc check as for the other sandboxes
//     decides whether anything is left.
//   - none: a process group of its own and nothing else.
//   - required: bubblewrap with user namespaces disabled, or New fails.
//
// When auto ends on anything weaker than bubblewrap with user namespaces
// disabled, Manager.Fallback says why; the appliance audits it at start
// and reports its health as degraded.
//
// In every case the program runs in its own process group (Setpgid) with
// SIGKILL as its parent-death signal, as the session uid and gid with no
// supplementary groups when the appliance is root.
//
// # Ending and the checks
//
// End sends SIGTERM to every process of the session, waits up to
// Config.Grace, then stops and SIGKILLs whatever is left until a scan of
// /proc finds nothing or Config.KillTimeout runs out. A process belongs to
// the session if any of these holds (procs.go): it is in one of the
// session's process groups (one per launch); its environment holds the
// marker (inherited across fork, exec and setsid); it is in the session's
// PID namespace (bubblewrap); it runs as the session uid (only with Config.DedicatedUID, which promises
// that nothing else uses that uid); its working directory or root is in
// the workspace. The final scan is the check: its count is
// kiosk.WipeReport.Remaining, and anything non-zero is an error. Zombies are
// not counted: they hold no memory, files or directory, only a pid until
// their parent reaps them.
//
// Limits of the plain and systemd-run sandboxes with a shared uid: a
// process that clears its environment, leaves the workspace and calls
// setsid cannot be told apart from other processes of that uid, and a
// file the program writes to /tmp or /dev/shm instead of its workspace
// cannot be told apart from other files of that uid. With a dedicated uid
// both are closed: End kills every process of the uid and removes the
// uid's files from the shared writable folders (Config.SharedDirs,
// descending only into world-writable folders; WipeReport.OutsideFiles).
// Use bubblewrap, or a dedicated session uid (a sysusers entry in
// packaging), in production; the tests pin both the limit
// (TestPlainModeWithSharedUIDCannotSeeEnvClearingEscape) and the sweep
// (TestDedicatedUIDSweepsSharedFolders).
//
// Then the clipboard hook runs, and the workspace is counted (files,
// folders, bytes) and removed: a tmpfs is unmounted (detached if busy),
// a folder removed entry by entry through O_NOFOLLOW directory
// descriptors so that planted symbolic links cannot lead outside it. A
// final lstat must find nothing (WipeReport.WorkspaceGone). Only a clean
// end closes the journal record; otherwise it stays open for Recover.
//
// # The X display
//
// With Config.X11Display set and a dedicated session uid, Start admits
// that uid to the X server for the session: it reads the server's host
// access list (ListHosts) and adds a si:localuser entry for the uid
// (ChangeHosts, family ServerInterpreted), as `xhost +si:localuser:U`
// does, over the same small X11 client as the idle source (x11.go,
// x11access.go). End, after every process is gone, removes it, and puts
// back anything a session client changed meanwhile (a local client may
// change the list: entries added since the start go, access control is
// turned on again if it was on), then lists the hosts again: anything
// left is WipeReport.X11Left, an incomplete wipe like a process or a file
// left. No X server listening means nothing to remove: the list lives in
// the server's memory. Recover removes every entry that admits the
// session uid. A shared uid (nobody) is never admitted (Manager.X11).
// Tested against a real Xvfb with access control on (x11access_test.go).
//
// The package keeps no secrets of its own: a credential the engine hands
// the program (an environment entry, say) is a Go string the engine
// created, and zeroing its own copies is the engine's part.
//
// # Crash recovery
//
// The journal record is written before the workspace exists. Recover,
// called at start, takes every record still open, kills what carries its
// marker, sits in its workspace or (dedicated uid) runs as its uid, removes
// the workspace (a tmpfs stays mounted after a crash) and closes the
// record with kiosk.EndRecovered. It also removes workspace folders no record
// names, and refuses a record whose workspace is not directly under the
// sessions folder. Under bubblewrap the sandbox dies with the appliance
// (--die-with-parent); in the plain sandbox the grandchildren survive it,
// which is what Recover is for.
//
// The store's journal (store.OpenSession / EndSession) keys sessions by
// its own number and keeps the workspace path; an adapter implementing
// Journal can map this package's ID to the workspace's base name
// (Recover fills an empty Record.ID from it) and take the uid settings
// from today's configuration.
//
// # Idle
//
// Idle must be measured from input to the session, not only to the
// appliance's window: the person may be typing into the browser the whole
// time. Idle time therefore comes from places that see every input event
// before it is given to any window, through IdleSource:
//
//   - EvdevIdle reads the kernel's input devices (/dev/input/event*)
//     without grabbing them: every reader gets a copy of every event, so
//     the compositor still gets them all, and only the arrival time is
//     kept. It is independent of the display server, and under cage (a
//     Wayland compositor, where no protocol tells an ordinary client about
//     other clients' input) it is the honest measure. Devices plugged in
//     later are picked up on a rescan. It needs read access to the
//     devices: the packaged service runs as root. Tested with named pipes
//     standing in for devices (there are no input devices and no uinput on
//     the build machines).
//   - X11Idle asks the X server's MIT-SCREEN-SAVER extension
//     (ScreenSaverQueryInfo, "ms since user input"), which the server
//     updates on every input event from every device, whatever window
//     gets it, XTEST-injected input included. It is a small pure-Go X11
//     client (x11.go) and is tested against a real Xvfb, with input
//     injected through XTEST.
//   - AnyInput combines sources: input seen by any of them is input, so
//     the shortest idle time wins and a failing source is passed over.
//     The appliance uses EvdevIdle and, when DISPLAY is set, X11Idle.
//
// The Wayland protocol ext-idle-notify-v1 would be a third way under cage;
// it needs a Wayland client and a test compositor, and EvdevIdle already
// covers what it would. File times on /dev/input are not a measure of
// input and are not used.
//
// The engine polls Idle on its Clock, warns, and ends the session with
// kiosk.EndIdle. sessiontest.Idle is a fake driven by the fake clock.
//
// # Time
//
// Started and Ended in reports come from Config.Clock (kiosk.Clock;
// kiosktest.Clock in tests); the session's time limit is the engine's own
// timer on the same clock.
// The kill grace, the kill timeout and the measured durations (KillTime,
// WipeTime, Total) use real time: they are about the operating system.
package session
