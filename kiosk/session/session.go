package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"passkiosk/kiosk"
)

// Spec says what to run for one person.
type Spec struct {
	// User is the person's ID, for the journal, the audit and the
	// program's PASSKIOSK_USER_ID variable; Name is their sign-in name,
	// for its PASSKIOSK_USER.
	User kiosk.UserID
	Name string
	// Program is the absolute path of the session program and its
	// arguments.
	Program []string
	// Env holds extra KEY=value entries. HOME, TMPDIR, PATH and the
	// PASSKIOSK_ variables are reserved.
	Env []string
	// Stdout and Stderr receive the program's output; nil is /dev/null.
	// Files, not writers: a writer would make the exit wait for every
	// grandchild holding the pipe.
	Stdout, Stderr *os.File
}

// Session is one running session. End it exactly once; further calls
// return the first result.
type Session struct {
	// ID is random and names the workspace, the journal record and the
	// marker variable.
	ID   string
	User kiosk.UserID
	// Workspace is the host path of the private workspace; Home is HOME
	// as the program sees it (different under bubblewrap).
	Workspace, Home string
	Sandbox         Sandbox
	Started         time.Time

	m     *Manager
	rec   Record
	spec  Spec
	tmpfs bool
	// x11 is the X host list before the session's uid was admitted,
	// nil when it was not.
	x11 *x11Before

	mu       sync.Mutex
	cmd      *exec.Cmd
	pgids    []int // every launch's process group
	pidNS    uint64
	spare    map[int]bool
	exited   chan struct{}
	exitCode int
	ending   bool

	endOnce sync.Once
	report  kiosk.WipeReport
	endErr  error
}

// Exited is closed when the current launch of the session program has
// exited. After Relaunch it is a new channel.
func (s *Session) Exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exited
}

// Relaunch starts the session program again in the same workspace, with
// the same marker and journal record, after it exited (it crashed, or
// the person closed it by mistake). It fails with KindConflict while the
// program runs or once the session is ending.
func (s *Session) Relaunch() error {
	const op = "relaunch session program"
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ending {
		return kiosk.Errorf(kiosk.KindConflict, op, "session %s is ending", s.ID)
	}
	select {
	case <-s.exited:
	default:
		return kiosk.Errorf(kiosk.KindConflict, op, "the session program is still running")
	}
	return s.launchLocked()
}

// Start creates a workspace and starts spec's program in it. The journal
// record is opened before anything exists on the machine, so a crash at
// any later point leaves a record for Recover.
func (m *Manager) Start(ctx context.Context, spec Spec) (*Session, error) {
	const op = "start session"
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, kiosk.E(kiosk.KindCancelled, op, err)
	}
	id, err := newID()
	if err != nil {
		return nil, kiosk.E(kiosk.KindUnknown, op, err)
	}
	m.shareWayland() // the compositor may have made a new socket since
	s := &Session{
		ID: id, User: spec.User, Sandbox: m.sandbox,
		Workspace: filepath.Join(m.sessions, id),
		m:         m, spec: spec, exitCode: -1,
	}
	s.Started = m.cfg.Clock.Now()
	s.Home = s.Workspace
	if m.sandbox == SandboxBubblewrap {
		s.Home = sandboxHome
	}
	s.rec = Record{ID: id, User: spec.User, Workspace: s.Workspace, Sandbox: m.sandbox,
		UID: m.cfg.UID, GID: m.cfg.GID, Dedicated: m.cfg.DedicatedUID, Started: s.Started}
	if err := m.cfg.Journal.Open(s.rec); err != nil {
		return nil, journalErr(op, err)
	}
	if s.tmpfs, err = m.makeWorkspace(s.Workspace); err != nil {
		return nil, s.abort(kiosk.E(kiosk.KindUnknown, op+": workspace", err))
	}
	if m.x11 != nil {
		before, err := m.x11.grant()
		if err != nil {
			return nil, s.abort(kiosk.E(kiosk.KindDevice, op+": X display", err))
		}
		s.x11 = &before
	}
	s.mu.Lock()
	err = s.launchLocked()
	s.mu.Unlock()
	if err != nil {
		return nil, s.abort(err)
	}
	m.mu.Lock()
	m.live[id] = s
	m.mu.Unlock()
	return s, nil
}

// launchLocked starts the program and learns how to find its processes
// again; a goroutine reaps it and closes its exited channel.
func (s *Session) launchLocked() error {
	const op = "start session program"
	m := s.m
	var infoR, infoW *os.File
	if m.sandbox == SandboxBubblewrap {
		var err error
		if infoR, infoW, err = os.Pipe(); err != nil {
			return kiosk.E(kiosk.KindUnknown, op, err)
		}
		defer infoR.Close()
	}
	cmd := m.command(s.rec, s.spec, infoW)
	err := cmd.Start()
	if infoW != nil {
		infoW.Close() // our copy; bwrap holds its own
	}
	if err != nil {
		return kiosk.E(kiosk.KindUnknown, op, err)
	}
	// Setpgid made the direct child a group leader.
	pgid := cmd.Process.Pid
	spare := map[int]bool{}
	var pidNS uint64
	if m.sandbox == SandboxBubblewrap {
		info, err := readBwrapInfo(infoR, 5*time.Second)
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return kiosk.E(kiosk.KindUnknown, op, err)
		}
		pidNS = info.PidNS
		// The outer bwrap and the namespace's init are spared the
		// SIGTERM: either one's death SIGKILLs the whole sandbox, which
		// would cut the program's grace period short.
		spare[pgid], spare[info.ChildPID] = true, true
	}
	exited := make(chan struct{})
	s.cmd, s.pidNS, s.spare, s.exited = cmd, pidNS, spare, exited
	s.pgids = append(s.pgids, pgid)
	go func() {
		_ = cmd.Wait() // the status is in ProcessState; a kill is expected
		s.mu.Lock()
		s.exitCode = cmd.ProcessState.ExitCode()
		s.mu.Unlock()
		close(exited)
	}()
	return nil
}

// abort undoes a failed Start: whatever exists is wiped, and the journal
// record is closed only when that worked.
func (s *Session) abort(cause error) error {
	_, err := s.end(kiosk.EndFailed, "", false)
	if err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// End stops every process of the session, checks none is left, clears
// the clipboard, removes the workspace, checks it is gone, and closes the
// journal record. The report counts what each check found. If a process
// survived or the workspace could not be removed, End returns an error of
// kind KindTimeout or KindUnknown with the report, and the journal record
// stays open so that Recover tries again at the next start.
func (s *Session) End(cause kiosk.EndCause) (kiosk.WipeReport, error) { return s.endWith(cause, "") }

// endWith is End with the engine's own words for the cause.
func (s *Session) endWith(cause kiosk.EndCause, reason string) (kiosk.WipeReport, error) {
	s.endOnce.Do(func() {
		s.report, s.endErr = s.end(cause, reason, true)
		s.m.mu.Lock()
		delete(s.m.live, s.ID)
		s.m.mu.Unlock()
	})
	return s.report, s.endErr
}

func (s *Session) end(cause kiosk.EndCause, reason string, started bool) (kiosk.WipeReport, error) {
	const op = "end session"
	m := s.m
	t0 := time.Now()
	r := kiosk.WipeReport{ID: s.ID, User: s.User, Cause: cause, Reason: reason, Sandbox: s.Sandbox.String(), Started: s.Started, ExitCode: -1}
	var errs []error

	s.mu.Lock()
	s.ending = true // no Relaunch from here on
	pgids, pidNS, spare, exited := s.pgids, s.pidNS, s.spare, s.exited
	s.mu.Unlock()

	mem := member{marker: []byte(s.rec.Marker()), pgids: pgids, pidNS: pidNS, uid: -1, workspace: s.Workspace}
	if m.cfg.DedicatedUID && m.root {
		mem.uid = int64(m.cfg.UID)
	}
	groups := pgids
	if s.Sandbox == SandboxBubblewrap {
		groups = nil // the group is bwrap itself: see launchLocked
	}
	if s.Sandbox == SandboxSystemdRun && started {
		stopScope(s.ID, m.cfg.KillTimeout)
	}
	if err := stopProcesses(mem, groups, spare, m.cfg.Grace, m.cfg.KillTimeout).tally(op, &r); err != nil {
		errs = append(errs, err)
	}
	if started {
		if err := s.reap(op, exited, &r); err != nil {
			errs = append(errs, err)
		}
	}
	r.KillTime = time.Since(t0)

	if m.cfg.ClearClipboard != nil && started {
		if err := m.clearClipboard(); err != nil {
			errs = append(errs, err)
		} else {
			r.ClipboardCleared = true
		}
	}

	// The display goes back after the processes are gone: an X client
	// still connected keeps its connection whatever the host list says,
	// and one still running could add itself again.
	if err := m.revokeX11(op, m.cfg.UID, s.x11, &r); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, m.wipe(op, mem.uid, s.Workspace, &r)...)
	r.Ended = m.cfg.Clock.Now()
	r.Total = time.Since(t0)
	if len(errs) == 0 && r.Clean() {
		if err := m.cfg.Journal.Close(s.ID, r); err != nil {
			errs = append(errs, journalErr(op, err))
		}
	}
	return r, errors.Join(errs...)
}

// reap waits, bounded, for the session program's exit status once its
// processes were stopped.
func (s *Session) reap(op string, exited <-chan struct{}, r *kiosk.WipeReport) error {
	select {
	case <-exited:
		s.mu.Lock()
		r.ExitCode = s.exitCode
		s.mu.Unlock()
		return nil
	case <-time.After(s.m.cfg.KillTimeout):
		s.mu.Lock()
		defer s.mu.Unlock()
		return kiosk.Errorf(kiosk.KindTimeout, op, "session program %d not reaped", s.pgids[len(s.pgids)-1])
	}
}

// wipe removes what a session left on disk, for End and for crash
// recovery alike: what its dedicated uid (uid ≥ 0) left in the shared
// folders, then its workspace. It fills in r's counts and WipeTime.
func (m *Manager) wipe(op string, uid int64, workspace string, r *kiosk.WipeReport) []error {
	t0 := time.Now()
	var errs []error
	if uid >= 0 {
		if err := sweepOutside(m.cfg.SharedDirs, uint32(uid), r); err != nil {
			errs = append(errs, kiosk.E(kiosk.KindUnknown, op+": shared folders", err))
		}
	}
	wr, err := wipeWorkspace(workspace)
	r.WipeTime = time.Since(t0)
	r.Files, r.Dirs, r.Bytes, r.Tmpfs, r.Lazy, r.WorkspaceGone = wr.files, wr.dirs, wr.bytes, wr.tmpfs, wr.lazy, wr.gone
	r.RemainingFiles = wr.remaining
	if err != nil {
		errs = append(errs, kiosk.E(kiosk.KindUnknown, op+": wipe", err))
	}
	return errs
}

// revokeX11 takes the X display back from uid (x11access.go) when
// sessions are admitted to it, into r.
func (m *Manager) revokeX11(op string, uid uint32, before *x11Before, r *kiosk.WipeReport) error {
	if m.x11 == nil {
		return nil
	}
	a := *m.x11
	a.uid = uid
	got, err := a.revoke(before)
	r.X11Removed, r.X11Left = got.removed, got.left
	if err != nil {
		return kiosk.E(kiosk.KindDevice, op+": X display access", err)
	}
	return nil
}

// clearClipboard runs the UI's hook, bounded even if the hook ignores its
// context: a stuck hook must not keep the terminal from the lock screen.
func (m *Manager) clearClipboard() error {
	const op = "clear clipboard"
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.KillTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.cfg.ClearClipboard(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			return kiosk.E(kiosk.KindUnknown, op, err)
		}
		return nil
	case <-ctx.Done():
		return kiosk.E(kiosk.KindTimeout, op, ctx.Err())
	}
}

// EndAll ends every live session, for an orderly stop of the appliance.
func (m *Manager) EndAll(cause kiosk.EndCause) ([]kiosk.WipeReport, error) {
	m.mu.Lock()
	var all []*Session
	for _, s := range m.live {
		all = append(all, s)
	}
	m.mu.Unlock()
	var reports []kiosk.WipeReport
	var errs []error
	for _, s := range all {
		r, err := s.End(cause)
		reports = append(reports, r)
		errs = append(errs, err)
	}
	return reports, errors.Join(errs...)
}

// journalErr keeps the kind a store error already has (locked, corrupt,
// conflict) and calls anything else a store failure.
func journalErr(op string, err error) error {
	if kiosk.KindOf(err) != kiosk.KindUnknown {
		return fmt.Errorf("%s: journal: %w", op, err)
	}
	return kiosk.E(kiosk.KindStoreCorrupt, op+": journal", err)
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// stopScope asks systemd to stop the session's transient scope, which
// signals every process in its cgroup (systemd.kill(5)); the /proc check
// that follows still decides whether anything is left. Bounded by
// timeout.
func stopScope(id string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = exec.CommandContext(ctx, "systemctl", "stop", "--no-block", scopeUnit(id)).Run()
}
