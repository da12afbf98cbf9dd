package sessiontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"passkiosk/kiosk"
	"passkiosk/kiosk/atomicfile"
	"passkiosk/kiosk/session"
)

// MemJournal is an in-memory session.Journal that also keeps the closing
// reports, so tests can read what was audited.
type MemJournal struct {
	mu      sync.Mutex
	open    map[string]session.Record
	closed  map[string]kiosk.WipeReport
	OpenErr error // returned by Open when set
}

// NewMemJournal returns an empty journal.
func NewMemJournal() *MemJournal {
	return &MemJournal{open: map[string]session.Record{}, closed: map[string]kiosk.WipeReport{}}
}

// Open records rec; an ID already open is an error.
func (j *MemJournal) Open(rec session.Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.OpenErr != nil {
		return j.OpenErr
	}
	if _, ok := j.open[rec.ID]; ok {
		return fmt.Errorf("session %s already open", rec.ID)
	}
	j.open[rec.ID] = rec
	return nil
}

// Close moves an open session to the closed ones with its report.
func (j *MemJournal) Close(id string, r kiosk.WipeReport) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.open[id]; !ok {
		return fmt.Errorf("session %s is not open", id)
	}
	delete(j.open, id)
	j.closed[id] = r
	return nil
}

// Pending lists the open sessions by ID.
func (j *MemJournal) Pending() ([]session.Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]session.Record, 0, len(j.open))
	for _, r := range j.open {
		out = append(out, r)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// Closed returns the report a session was closed with.
func (j *MemJournal) Closed(id string) (kiosk.WipeReport, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.closed[id]
	return r, ok
}

// FileJournal keeps one JSON file per open session in a folder, written
// and fsynced before Open returns, so that it survives the SIGKILL of
// the process that wrote it. It is what crash-recovery tests use across
// processes.
type FileJournal struct{ Dir string }

func (j FileJournal) path(id string) string { return filepath.Join(j.Dir, id+".json") }

// Open writes rec to <Dir>/<id>.json, fsynced; an existing record is an
// error.
func (j FileJournal) Open(rec session.Record) error {
	if err := os.MkdirAll(j.Dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	// Create, unlike a replace, fails if the record exists.
	return atomicfile.Create(j.path(rec.ID), b, 0o600)
}

// Close writes the report to <Dir>/<id>.closed and removes the record.
func (j FileJournal) Close(id string, r kiosk.WipeReport) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(j.Dir, id+".closed"), b, 0o600); err != nil {
		return err
	}
	return os.Remove(j.path(id))
}

// Pending reads every record still in Dir; unreadable ones are reported
// in the error, the rest returned.
func (j FileJournal) Pending() ([]session.Record, error) {
	files, err := filepath.Glob(filepath.Join(j.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []session.Record
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var rec session.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		out = append(out, rec)
	}
	return out, errors.Join(errs...)
}

// Closed returns the report a session was closed with.
func (j FileJournal) Closed(id string) (kiosk.WipeReport, bool) {
	b, err := os.ReadFile(filepath.Join(j.Dir, id+".closed"))
	if err != nil {
		return kiosk.WipeReport{}, false
	}
	var r kiosk.WipeReport
	return r, json.Unmarshal(b, &r) == nil
}
