package appliance

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/engine"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/policy"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
	"passkiosk/store/storeport"
)

// The appliance's fleet wiring (fleet.go), on a cluster with TLS and
// client certificates: the terminal enrolls a key with a fleet code,
// signs in, and the key's revocation in the directory ends the session;
// status says online; a terminal without endpoints has no link.
func TestFleetLinkEndsARevokedSession(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	off := config.Default()
	if l, err := openFleet(&off, nil, nil, nil, log); l != nil || err != nil || l.statusFunc() != nil {
		t.Fatalf("a terminal on its own got a fleet link: %v %v", l, err)
	}

	ft := startFleetTerminal(t, log)
	ft.signIn()
	ctx, dir, fl, nurse, db := context.Background(), ft.dir, ft.fl, ft.nurse, ft.db
	creds, err := db.CredentialsOf(nurse.ID)
	if err != nil || len(creds) != 1 {
		t.Fatalf("%d credentials, %v", len(creds), err)
	}
	wait := ft.wait
	if _, err := dir.Revoke(ctx, creds[0].ID, nurse.ID, "it", "lost"); err != nil {
		t.Fatal(err)
	}
	wait("session ended as revoked", func(v kiosk.View) bool {
		return v.Notice != nil && v.Notice.Code == kiosk.NoticeSessionEnded && v.Notice.Cause == kiosk.EndRevoked
	})
	if st := fl.status(); !st.Online || st.Name != "ward7" || !strings.HasPrefix(st.Name, "ward") {
		t.Errorf("status %+v", st)
	}
}

// fleetTerminal is an appliance's engine and fleet link on a cluster
// with TLS and client certificates, with one person (nurse) who has an
// enrollment code.
type fleetTerminal struct {
	t     *testing.T
	c     *fleettest.Cluster
	dir   *fleet.Directory
	fl    *fleetLink
	eng   *engine.Engine
	db    *store.DB
	keys  *kiosktest.Keys
	views chan kiosk.View
	nurse store.User
	code  string
}

func startFleetTerminal(t *testing.T, log *slog.Logger) *fleetTerminal {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	dir := &fleet.Directory{Client: c.Client()}
	ctx := context.Background()
	nurse := store.User{ID: []byte("u-nurse"), Name: "nurse", DisplayName: "Nina", State: store.UserActive}
	if _, err := dir.PutUser(ctx, nurse); err != nil {
		t.Fatal(err)
	}
	code, err := dir.IssueCode(ctx, nurse.ID, store.PurposeEnroll, time.Hour, "it")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := c.CA.Issue("ward7", false)
	cfg := config.Default()
	cfg.Terminal = "Ward 7"
	cfg.Fleet = config.Fleet{Name: "ward7", Endpoints: c.Endpoints(), Certificate: cert, Key: key, CA: c.CA.File,
		OfflineMaxAge: "24h", RevokeEndsSession: "at-once"}
	db, err := store.Open(filepath.Join(t.TempDir(), "passkiosk.db"), store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	records := storeport.NewRecords(db, "ward7")
	fl, err := openFleet(&cfg, db, nil, records, log)
	if err != nil || fl == nil {
		t.Fatalf("openFleet: %v", err)
	}
	views := make(chan kiosk.View, 1024)
	pol := policy.Default()
	pol.Default.Program = []string{"/bin/true"}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	keys, sessions := kiosktest.NewKeys(), &kiosktest.Sessions{}
	eng := engine.New(engine.Config{Terminal: "Ward 7", Policy: pol, Store: fl.store(records), Keys: keys, Sessions: sessions,
		Clock: kiosk.SystemClock{}, Publish: func(v kiosk.View) { views <- v }, Log: log})
	rctx, cancel := context.WithCancel(ctx)
	go eng.Run(rctx)
	fl.start(rctx, eng)
	t.Cleanup(func() { eng.Shutdown(context.Background()); cancel(); fl.close(); db.Close() })
	return &fleetTerminal{t: t, c: c, dir: dir, fl: fl, eng: eng, db: db, keys: keys, views: views, nurse: nurse, code: code}
}

// wait reads views until ok says one is what the test waits for.
func (ft *fleetTerminal) wait(what string, ok func(kiosk.View) bool) {
	ft.t.Helper()
	guard := time.After(15 * time.Second)
	for {
		select {
		case v := <-ft.views:
			if ok(v) {
				return
			}
		case <-guard:
			ft.t.Fatalf("never reached %s", what)
		}
	}
}

// signIn waits for the terminal to be online, enrolls a key for the
// nurse with the code and signs her in with it.
func (ft *fleetTerminal) signIn() {
	t, fl, eng, keys := ft.t, ft.fl, ft.eng, ft.keys
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !fl.status().Online || fl.status().Revision == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("fleet status %+v", fl.status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	k := kiosktest.NewKey("k1", "4821", false)
	eng.StartEnrollment(ft.code)
	ft.wait("insert key", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptInsertKey })
	keys.Plug(k)
	ft.wait("PIN", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptPIN })
	eng.EnterPIN([]byte("4821"))
	ft.wait("enrolled", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptEnrollDone })
	eng.Cancel()
	keys.Unplug(k)
	ft.wait("lock screen", func(v kiosk.View) bool { return v.State == kiosk.StateLocked && !v.KeyPresent })
	keys.Plug(k)
	ft.wait("PIN", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptPIN })
	eng.EnterPIN([]byte("4821"))
	ft.wait("session", func(v kiosk.View) bool { return v.State == kiosk.StateInSession })
}

// Local retention never drops what the fleet has not received: with the
// cluster gone, entries written since the last shipped one stay however
// small the limit, and the chain still verifies.
func TestRetentionKeepsWhatTheFleetHasNotReceived(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	dir := t.TempDir()
	cfg := testConfig(dir)
	cert, key := c.CA.Issue("ward7", false)
	cfg.Fleet = config.Fleet{Name: "ward7", Endpoints: c.Endpoints(), Certificate: cert, Key: key, CA: c.CA.File,
		OfflineMaxAge: "24h", RevokeEndsSession: "at-once"}
	a, err := Start(context.Background(), cfg, Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	head := func() uint64 { s, _, _ := a.db.AuditHead(); return s }
	deadline := time.Now().Add(20 * time.Second)
	for sh := a.fleet.shipper.Status(); sh.Shipped == 0 || sh.Shipped < head(); sh = a.fleet.shipper.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("not shipped: %+v, local head %d", sh, head())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.StopAll()
	// What the cluster got before it went: nothing more reaches it.
	shipped := a.fleet.shipper.Status().Shipped
	for i := range 20 {
		if _, err := a.db.Append(store.AuditEvent{Type: kiosk.EventSignIn, Actor: "test", Detail: map[string]string{"n": strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if keep := a.fleet.keepFrom(); keep != shipped+1 {
		t.Fatalf("keepFrom %d, shipped %d", keep, shipped)
	}
	n, err := a.db.Prune(store.Retention{MaxEntries: 3, KeepFrom: a.fleet.keepFrom()}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := a.db.Events(shipped+1, 1000)
	if err != nil || len(evs) < 20 || evs[0].Seq != shipped+1 {
		t.Fatalf("after pruning %d: %d entries from %d, %v; want every one after the shipped %d", n, len(evs), evs[0].Seq, err, shipped)
	}
	if _, err := a.db.VerifyChain(); err != nil {
		t.Fatal(err)
	}
}
