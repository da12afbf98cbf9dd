package storeport

import (
	"path/filepath"
	"sync"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/session"
	"passkiosk/store"
)

// Journal is the session manager's journal in the database's sessions
// bucket. The store numbers sessions; the manager names them by their
// workspace folder, so the journal keeps the mapping, and rebuilds it from
// the workspace paths after a restart.
//
// The store's record has no sandbox or uid: a recovered session gets the
// ones this journal was made with, which are the appliance's configured
// ones. (The manager also finds a session's processes by its marker and
// its workspace, whatever uid they run as.)
type Journal struct {
	db       *store.DB
	terminal string
	defaults session.Record

	mu  sync.Mutex
	ids map[string]uint64 // manager's session ID → store's
}

var _ session.Journal = (*Journal)(nil)

// NewJournal keeps the session journal in db. defaults supplies the
// sandbox and uid of recovered sessions.
func NewJournal(db *store.DB, terminal string, defaults session.Record) *Journal {
	return &Journal{db: db, terminal: terminal, defaults: defaults, ids: map[string]uint64{}}
}

func (j *Journal) Open(rec session.Record) error {
	if j.db == nil {
		return errNoDB
	}
	s, err := j.db.OpenSession(store.Session{UserID: []byte(rec.User), Terminal: j.terminal,
		Workspace: rec.Workspace, OpenedAt: rec.Started})
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.ids[rec.ID] = s.ID
	j.mu.Unlock()
	return nil
}

func (j *Journal) Close(id string, rep kiosk.WipeReport) error {
	if j.db == nil {
		return errNoDB
	}
	j.mu.Lock()
	sid, ok := j.ids[id]
	delete(j.ids, id)
	j.mu.Unlock()
	if !ok {
		return kiosk.Errorf(kiosk.KindNotFound, "session journal", "no open session %q", id)
	}
	at := rep.Ended
	if at.IsZero() {
		at = time.Now()
	}
	_, err := j.db.EndSession(sid, rep.Cause, rep.WorkspaceGone && rep.Remaining == 0, at)
	return err
}

func (j *Journal) Pending() ([]session.Record, error) {
	if j.db == nil {
		return nil, errNoDB
	}
	open, err := j.db.Sessions(true)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]session.Record, 0, len(open))
	for _, s := range open {
		rec := j.defaults
		rec.ID = filepath.Base(s.Workspace)
		rec.User, rec.Workspace, rec.Started = kiosk.UserID(s.UserID), s.Workspace, s.OpenedAt
		j.ids[rec.ID] = s.ID
		out = append(out, rec)
	}
	return out, nil
}
