package session

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"passkiosk/kiosk"
)

// Recover wipes what an earlier run of the appliance left behind: every
// session the journal still holds open, and any workspace folder under the
// state root that no live session owns (a record the journal lost must
// not mean a workspace kept). Call it at start, before the lock screen is
// shown and before the first Start. A session is closed in the journal
// only when its processes are gone and its workspace is removed; the
// reports say what was found.
func (m *Manager) Recover() ([]kiosk.WipeReport, error) {
	const op = "recover sessions"
	// A journal that cannot be read fully is reported, and recovery goes
	// on with what it returned: the sweep of the state root below needs
	// no journal.
	pending, err := m.cfg.Journal.Pending()
	var errs []error
	if err != nil {
		errs = append(errs, journalErr(op, err))
	}
	m.mu.Lock()
	live := make(map[string]bool, len(m.live))
	for id := range m.live {
		live[id] = true
	}
	m.mu.Unlock()

	var reports []kiosk.WipeReport
	seen := map[string]bool{}
	for _, rec := range pending {
		if rec.ID == "" {
			rec.ID = filepath.Base(rec.Workspace)
		}
		seen[rec.ID] = true
		if live[rec.ID] {
			continue
		}
		r, err := m.recoverOne(rec)
		reports = append(reports, r)
		if err == nil {
			if err = m.cfg.Journal.Close(rec.ID, r); err != nil {
				err = journalErr(op, err)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	names, err := readDirNames(m.sessions)
	if err != nil {
		errs = append(errs, kiosk.E(kiosk.KindUnknown, op, err))
	}
	for _, name := range names {
		if seen[name] || live[name] {
			continue
		}
		// An orphan: its name is the session id, so the marker still
		// finds its processes.
		rec := Record{ID: name, Workspace: filepath.Join(m.sessions, name), Sandbox: m.sandbox}
		r, err := m.recoverOne(rec)
		reports = append(reports, r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return reports, errors.Join(errs...)
}

// recoverOne kills what is left of one session and removes its workspace.
// The owner of the session is gone, so there is no grace period.
func (m *Manager) recoverOne(rec Record) (kiosk.WipeReport, error) {
	const op = "recover session"
	t0 := time.Now()
	r := kiosk.WipeReport{ID: rec.ID, User: rec.User, Cause: kiosk.EndRecovered, Sandbox: rec.Sandbox.String(), Started: rec.Started, ExitCode: -1}
	mem := member{marker: []byte(rec.Marker()), uid: -1}
	if filepath.Clean(rec.Workspace) == rec.Workspace && filepath.Dir(rec.Workspace) == m.sessions {
		mem.workspace = rec.Workspace
	}
	// The record's own promise counts, and so does today's
	// configuration: a journal that keeps only the workspace (the ID is
	// its base name) still gets the uid sweep on a dedicated uid.
	switch {
	case rec.Dedicated && m.root:
		mem.uid = int64(rec.UID)
	case m.cfg.DedicatedUID && m.root:
		mem.uid = int64(m.cfg.UID)
	}
	var errs []error
	if err := stopProcesses(mem, nil, nil, 0, m.cfg.KillTimeout).tally(op+" "+rec.ID, &r); err != nil {
		errs = append(errs, err)
	}
	r.KillTime = time.Since(t0)
	// No record of the host list before the crash: remove what admits
	// the session uid, the record's and today's.
	if m.x11 != nil {
		uids := []uint32{m.cfg.UID}
		if rec.Dedicated && rec.UID != 0 && rec.UID != m.cfg.UID {
			uids = append(uids, rec.UID)
		}
		var removed, left int
		for _, uid := range uids {
			if err := m.revokeX11(op, uid, nil, &r); err != nil {
				errs = append(errs, err)
			}
			removed, left = removed+r.X11Removed, left+r.X11Left
		}
		r.X11Removed, r.X11Left = removed, left
	}
	if mem.workspace == "" {
		// A record whose workspace is not under our state root is not
		// ours to delete; refuse rather than remove a stranger's files.
		errs = append(errs, kiosk.Errorf(kiosk.KindMalformed, op, "journal names workspace %q outside %s", rec.Workspace, m.sessions))
	} else {
		errs = append(errs, m.wipe(op, mem.uid, rec.Workspace, &r)...)
	}
	r.Ended = m.cfg.Clock.Now()
	r.Total = time.Since(t0)
	return r, errors.Join(errs...)
}

func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
