package storeport

import (
	"errors"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// Retention says how long the appliance keeps records that only history
// needs. A zero field keeps those records for ever.
type Retention struct {
	// Audit bounds the audit log by age and by entry count. Pruning keeps
	// the chain verifiable and is itself audited (store.DB.Prune).
	Audit store.Retention
	// Sessions is how long the session journal keeps sessions that ended
	// and were wiped. Open and unwiped ones stay whatever their age: they
	// are what crash recovery wipes.
	Sessions time.Duration
	// Codes is how long used and expired enrollment codes stay listed
	// (passkioskctl codes list). Unused codes still valid always stay.
	Codes time.Duration
}

// Maintained counts what one Maintain removed.
type Maintained struct {
	AuditEntries int
	Sessions     int
	Codes        int
}

// Maintain removes what r no longer keeps: enrollment codes used or expired
// more than r.Codes before now, journal entries of sessions that ended and
// were wiped more than r.Sessions before now, and audit entries beyond
// r.Audit (a zero now is the system clock). The appliance calls it once at
// start and then about once a day; each step is a transaction of its own,
// so it can run beside sign-ins.
//
// Each step runs even when another failed (a tampered audit log, which
// Prune refuses to hide, must not keep expired codes around); the errors
// are joined, and kiosk.KindOf gives the first one's kind.
func Maintain(db *store.DB, now time.Time, r Retention) (Maintained, error) {
	const op = "maintain store"
	var m Maintained
	if db == nil {
		return m, errNoDB
	}
	if r.Sessions < 0 || r.Codes < 0 || r.Audit.MaxAge < 0 || r.Audit.MaxEntries < 0 {
		return m, kiosk.Errorf(kiosk.KindMalformed, op, "negative retention %+v", r)
	}
	if now.IsZero() {
		now = time.Now()
	}
	var errs []error
	if r.Codes > 0 {
		n, err := db.PruneEnrollmentCodes(now.Add(-r.Codes))
		m.Codes = n
		errs = append(errs, err)
	}
	if r.Sessions > 0 {
		n, err := db.PruneSessions(now.Add(-r.Sessions))
		m.Sessions = n
		errs = append(errs, err)
	}
	// The audit log last, so that its prune entry is the newest.
	if r.Audit != (store.Retention{}) {
		n, err := db.Prune(r.Audit, now)
		m.AuditEntries = n
		errs = append(errs, err)
	}
	return m, errors.Join(errs...)
}
