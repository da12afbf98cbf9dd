package fleet_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/kiosk/engine"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/policy"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
	"passkiosk/store/storeport"
)

// appliance is a terminal as cmd/passkiosk assembles one in a fleet: the
// engine on fleet.Records over a bbolt file on disk, and the agent whose
// batches end revoked sessions and whose status marks the lock screen.
type appliance struct {
	name     string
	db       *store.DB
	agent    *fleet.Agent
	eng      *engine.Engine
	keys     *kiosktest.Keys
	sessions *kiosktest.Sessions
	views    chan kiosk.View
	last     kiosk.View
	notice   *kiosk.Notice // the last one shown, for failures
}

func newAppliance(t *testing.T, cl *clientv3.Client, dir *fleet.Directory, name string) *appliance {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), name+".db"), store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a := &appliance{name: name, db: db, keys: kiosktest.NewKeys(), sessions: &kiosktest.Sessions{}, views: make(chan kiosk.View, 1024)}
	var eng *engine.Engine
	agent, err := fleet.NewAgent(fleet.Options{Client: cl, DB: db, Terminal: name, Probe: 100 * time.Millisecond, OfflineAfter: time.Second, Heartbeat: -1, Log: quiet,
		OnApplied: func(r store.MirrorApplied) {
			if eng == nil {
				return
			}
			users := make([]kiosk.UserID, len(r.Stopped))
			for i, u := range r.Stopped {
				users[i] = kiosk.UserID(u)
			}
			eng.Revoked(users, r.Revoked, engine.RevokeAtOnce)
		},
		OnStatus: func(st fleet.Status) {
			if eng != nil {
				eng.SetOffline(st.OfflineSince)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	a.agent = agent
	pol := policy.Default()
	pol.Default.Program = []string{"/bin/true"}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	records := fleet.NewRecords(storeport.NewRecords(db, name), dir, agent)
	eng = engine.New(engine.Config{Terminal: name, Policy: pol, Store: records, Keys: a.keys, Sessions: a.sessions,
		Clock: kiosk.SystemClock{}, Publish: func(v kiosk.View) { a.views <- v }, Log: quiet})
	a.eng = eng
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { eng.Run(ctx); done <- struct{}{} }()
	go func() { agent.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		eng.Shutdown(context.Background())
		cancel()
		<-done
		<-done
		db.Close()
	})
	return a
}

func (a *appliance) waitFor(t *testing.T, what string, ok func(kiosk.View) bool) kiosk.View {
	t.Helper()
	if ok(a.last) {
		return a.last
	}
	guard := time.After(15 * time.Second)
	for {
		select {
		case v := <-a.views:
			a.last = v
			if v.Notice != nil {
				a.notice = v.Notice
			}
			if ok(v) {
				return v
			}
		case <-guard:
			t.Fatalf("%s: never reached %s; last view: %v %v; last notice %+v", a.name, what, a.last.State, a.last.Prompt, a.notice)
		}
	}
}

func (a *appliance) waitPrompt(t *testing.T, p kiosk.Prompt) {
	t.Helper()
	a.waitFor(t, p.String(), func(v kiosk.View) bool { return v.Prompt == p })
}

func (a *appliance) audited(t *testing.T, typ kiosk.Event, ok func(store.AuditEvent) bool) bool {
	t.Helper()
	evs, err := a.db.Events(0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == typ && (ok == nil || ok(e)) {
			return true
		}
	}
	return false
}

// A person enrolls a security key at one terminal with a fleet code; the
// network goes; they sign in at another terminal from its mirror, where
// a new enrollment is refused with a reason. Back online, the key is
// revoked and their running session there ends at once, audited.
func TestEnrollHereSignInThereOfflineThenRevoked(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	root := c.Client()
	dir := &fleet.Directory{Client: root}
	ctx := context.Background()
	nurse := store.User{ID: []byte("u-nurse1"), Name: "nurse1", DisplayName: "Nina Nurse", State: store.UserActive}
	userRev, err := dir.PutUser(ctx, nurse)
	if err != nil {
		t.Fatal(err)
	}
	code, err := dir.IssueCode(ctx, nurse.ID, store.PurposeEnroll, time.Hour, "it")
	if err != nil {
		t.Fatal(err)
	}
	ward, theatre := newAppliance(t, c.Client(), dir, "ward7"), newAppliance(t, c.Client(), dir, "theatre2")
	waitFor(t, 10*time.Second, func() bool {
		return ward.agent.Status().Revision >= userRev && theatre.agent.Status().Revision >= userRev
	})

	// Enrollment at the ward.
	key := kiosktest.NewKey("k1", "4821", false)
	ward.waitPrompt(t, kiosk.PromptTouchOrChoose)
	ward.eng.StartEnrollment(code)
	// No TPM here: the engine asks for a key straight away.
	ward.waitPrompt(t, kiosk.PromptInsertKey)
	ward.keys.Plug(key)
	ward.waitPrompt(t, kiosk.PromptPIN)
	ward.eng.EnterPIN([]byte("4821"))
	ward.waitPrompt(t, kiosk.PromptEnrollDone)
	ward.eng.Cancel()
	ward.keys.Unplug(key)
	creds, err := ward.db.CredentialsOf(nurse.ID)
	if err != nil || len(creds) != 1 {
		t.Fatalf("ward: %d credentials, %v", len(creds), err)
	}
	credID := creds[0].ID
	// The code is used up fleet-wide: the theatre refuses it.
	theatre.waitPrompt(t, kiosk.PromptTouchOrChoose)
	theatre.eng.StartEnrollment(code)
	theatre.waitFor(t, "used code refused", func(v kiosk.View) bool {
		return v.Notice != nil && v.Notice.Code == kiosk.NoticeBadEnrollmentCode
	})
	waitFor(t, 10*time.Second, func() bool { _, err := theatre.db.CredentialByID(credID); return err == nil })

	// The network goes.
	c.StopAll()
	waitFor(t, 10*time.Second, func() bool { return !theatre.agent.Status().Online })
	v := theatre.waitFor(t, "offline mark", func(v kiosk.View) bool { return !v.OfflineSince.IsZero() })
	t.Logf("theatre offline since %s", v.OfflineSince.Format("15:04:05"))
	// A new code cannot be checked: the screen says why.
	theatre.eng.StartEnrollment("AAAA-BBBB-CCCC-DDDD")
	v = theatre.waitFor(t, "offline enrollment refused", func(v kiosk.View) bool {
		return v.Notice != nil && v.Notice.Kind == kiosk.KindOffline
	})
	if v.Notice.Code != kiosk.NoticeNotAllowed || !strings.Contains(v.Notice.Detail, "has not reached since") {
		t.Fatalf("offline enrollment notice %+v", v.Notice)
	}
	// Sign-in from the mirror.
	theatre.keys.Plug(key)
	theatre.waitPrompt(t, kiosk.PromptPIN)
	theatre.eng.EnterPIN([]byte("4821"))
	theatre.waitFor(t, "session", func(v kiosk.View) bool { return v.State == kiosk.StateInSession })
	session := theatre.sessions.Last()

	// Back online: IT revokes the key; the session ends at once.
	c.RestartAll()
	waitFor(t, 15*time.Second, func() bool { return theatre.agent.Status().Online })
	start := time.Now()
	if _, err := dir.Revoke(ctx, credID, nurse.ID, "it", "reported lost"); err != nil {
		t.Fatal(err)
	}
	theatre.waitFor(t, "session ended", func(v kiosk.View) bool {
		return v.Notice != nil && v.Notice.Code == kiosk.NoticeSessionEnded && v.Notice.Cause == kiosk.EndRevoked
	})
	t.Logf("revocation to the end of the running session: %s", time.Since(start))
	if session.Ended() != kiosk.EndRevoked {
		t.Fatalf("session ended with %s", session.Ended())
	}
	waitFor(t, 5*time.Second, func() bool {
		// (The session's end itself is audited with the session journal,
		// which these fake sessions do not keep.)
		return theatre.audited(t, kiosk.EventFleetRevoked, func(e store.AuditEvent) bool { return e.Detail["ends"] == "at-once" }) &&
			theatre.audited(t, kiosk.EventWipe, nil)
	})
	if !theatre.audited(t, kiosk.EventFleetOffline, nil) || !theatre.audited(t, kiosk.EventFleetOnline, nil) {
		t.Error("going offline and back online was not audited")
	}
}
