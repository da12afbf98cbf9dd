package appliance

import (
	"errors"
	"io/fs"
	"log/slog"
	"sync"

	"passkiosk/store"
	"passkiosk/store/journald"
)

// forwardToJournal sends every audit entry committed from now on to the
// systemd journal with its structured fields, for a SIEM reading the
// journal. Without a journal (no systemd, the demo on a desktop without
// one) it does nothing; a send that fails is logged once until sends work
// again, and the entry stays in the audit log either way.
func forwardToJournal(db *store.DB, log *slog.Logger) {
	j, err := journald.New("", "passkiosk")
	if errors.Is(err, fs.ErrNotExist) {
		log.Debug("no systemd journal: audit entries are not forwarded to it")
		return
	}
	if err != nil {
		log.Warn("audit entries are not forwarded to the journal", "err", err)
		return
	}
	var mu sync.Mutex
	failing := false
	err = db.OnAudit(func(e store.AuditEvent) {
		err := j.Send(e)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil && !failing:
			failing = true
			log.Warn("forwarding audit entries to the journal", "err", err, "seq", e.Seq)
		case err == nil && failing:
			failing = false
			log.Info("forwarding audit entries to the journal again", "seq", e.Seq)
		}
	})
	if err != nil {
		log.Warn("audit entries are not forwarded to the journal", "err", err)
		j.Close()
		return
	}
	log.Info("audit entries are forwarded to the journal", "socket", journald.Socket)
}
