package storeport_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storeport"
	"passkiosk/store/storetest"
)

const day = 24 * time.Hour

// history is a store in which forty days passed: old records from the first
// day and recent ones from the last. It returns the store, the time now,
// and the IDs of the codes and sessions that no retention may remove.
func history(t *testing.T) (db *store.DB, now time.Time, keepCodes [][]byte, keepSessions []uint64) {
	t.Helper()
	db, clock := storetest.Open(t, nil)
	if err := db.PutUser(storetest.User("alice"), store.Change{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	issue := func(ttl time.Duration, at time.Time) (string, *store.EnrollmentCode) {
		t.Helper()
		code, rec, err := db.IssueEnrollmentCode([]byte("alice"), store.PurposeEnroll, ttl, store.Change{Actor: "admin", At: at})
		if err != nil {
			t.Fatal(err)
		}
		return code, rec
	}
	session := func(opened time.Time, end time.Duration, wiped bool) *store.Session {
		t.Helper()
		s, err := db.OpenSession(store.Session{UserID: []byte("alice"), Terminal: "t1", Workspace: "/run/passkiosk/s", OpenedAt: opened})
		if err != nil {
			t.Fatal(err)
		}
		if end > 0 {
			if _, err := db.EndSession(s.ID, kiosk.EndLogout, wiped, opened.Add(end)); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}

	// Day one.
	t0 := clock.Now()
	used, _ := issue(time.Hour, t0)
	if _, err := db.RedeemEnrollmentCode(used, "t1", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	issue(time.Hour, t0) // expires unused
	session(t0, time.Hour, true)
	keepSessions = append(keepSessions, session(t0, 0, false).ID) // still open: crash recovery's
	keepSessions = append(keepSessions, session(t0, time.Hour, false).ID)

	// Forty days on.
	now = clock.Advance(40 * day)
	_, valid := issue(7*day, now)
	_, recent := issue(time.Hour, now.Add(-2*time.Hour)) // expired an hour ago
	keepCodes = [][]byte{valid.ID, recent.ID}
	keepSessions = append(keepSessions, session(now.Add(-time.Hour), 30*time.Minute, true).ID)
	return db, now, keepCodes, keepSessions
}

func TestMaintainPrunesWhatRetentionLetsGo(t *testing.T) {
	month := storeport.Retention{Audit: store.Retention{MaxAge: 30 * day}, Sessions: 30 * day, Codes: 30 * day}
	cases := []struct {
		name         string
		r            storeport.Retention
		codes        int
		sessions     int
		auditPruned  bool
		auditEntries int // kept, the prune's own entry included; 0: not checked
	}{
		{"nothing configured keeps everything", storeport.Retention{}, 0, 0, false, 0},
		{"a month", month, 2, 1, true, 0},
		{"entry count only", storeport.Retention{Audit: store.Retention{MaxEntries: 5}}, 0, 0, true, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, now, keepCodes, keepSessions := history(t)
			before, err := db.VerifyChain()
			if err != nil {
				t.Fatal(err)
			}
			m, err := storeport.Maintain(db, now, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if m.Codes != tc.codes || m.Sessions != tc.sessions || (m.AuditEntries > 0) != tc.auditPruned {
				t.Fatalf("maintained %+v", m)
			}

			codes, _ := db.EnrollmentCodes()
			if len(codes) != 4-tc.codes {
				t.Errorf("%d codes kept", len(codes))
			}
			for _, id := range keepCodes {
				if !slices.ContainsFunc(codes, func(c store.EnrollmentCode) bool { return string(c.ID) == string(id) }) {
					t.Errorf("code %x pruned: it is valid, or expired within the month", id)
				}
			}
			sessions, _ := db.Sessions(false)
			if len(sessions) != 4-tc.sessions {
				t.Errorf("%d sessions kept", len(sessions))
			}
			for _, id := range keepSessions {
				if !slices.ContainsFunc(sessions, func(s store.Session) bool { return s.ID == id }) {
					t.Errorf("session %d pruned: it is open, unwiped or recent", id)
				}
			}

			// The chain still verifies from its new anchor, and the
			// prune is its newest entry.
			after, err := db.VerifyChain()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.auditPruned {
				if after.Head != before.Head || after.Anchor != 0 {
					t.Fatalf("chain %+v, was %+v", after, before)
				}
				return
			}
			if after.Anchor != uint64(m.AuditEntries) || after.Head != before.Head+1 {
				t.Fatalf("chain %+v after pruning %d of %+v", after, m.AuditEntries, before)
			}
			if tc.auditEntries > 0 && after.Entries != tc.auditEntries {
				t.Errorf("%d entries kept, want %d", after.Entries, tc.auditEntries)
			}
			evs, _ := db.Events(0, 1000)
			if evs[len(evs)-1].Type != kiosk.EventAuditPruned {
				t.Errorf("newest entry %+v", evs[len(evs)-1])
			}
			for _, e := range evs[:len(evs)-1] {
				if tc.r.Audit.MaxAge > 0 && now.Sub(e.Time) > tc.r.Audit.MaxAge {
					t.Errorf("entry %d from %s kept", e.Seq, e.Time)
				}
			}
		})
	}
}

func TestMaintainRefusals(t *testing.T) {
	db, now, _, _ := history(t)
	_, err := storeport.Maintain(db, now, storeport.Retention{Sessions: -day})
	if kiosk.KindOf(err) != kiosk.KindMalformed {
		t.Fatalf("negative retention: %v", err)
	}
	_, err = storeport.Maintain(nil, now, storeport.Retention{Codes: day})
	if kiosk.KindOf(err) != kiosk.KindStoreCorrupt {
		t.Fatalf("no database: %v", err)
	}
}

func TestMaintainGoesOnPastATamperedLog(t *testing.T) {
	clock := storetest.NewClock(storetest.Epoch)
	path := filepath.Join(t.TempDir(), "passkiosk.db")
	db, err := store.Open(path, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutUser(storetest.User("alice"), store.Change{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.IssueEnrollmentCode([]byte("alice"), store.PurposeEnroll, time.Hour, store.Change{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	storetest.RewriteAuditEntry(t, path, 1, func(m map[uint64]any) { m[5] = "elsewhere" })
	// The appliance was running when the file was edited.
	db, err = store.Open(path, store.Options{Now: clock.Now, SkipCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := clock.Advance(40 * day)
	m, err := storeport.Maintain(db, now, storeport.Retention{Audit: store.Retention{MaxAge: 30 * day}, Codes: day})
	// Prune refuses to remove, and so hide, a tampered entry; the expired
	// code goes all the same.
	if kiosk.KindOf(err) != kiosk.KindStoreCorrupt || m.AuditEntries != 0 || m.Codes != 1 {
		t.Fatalf("maintained %+v, %v", m, err)
	}
}
