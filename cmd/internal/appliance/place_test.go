package appliance

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
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

// placeTerminal is one fleet terminal of the place test: its store, its
// fleet link and its engine on the real clock.
type placeTerminal struct {
	t     *testing.T
	name  string
	db    *store.DB
	fl    *fleetLink
	eng   *engine.Engine
	keys  *kiosktest.Keys
	views chan kiosk.View
}

func startPlaceTerminal(t *testing.T, c *fleettest.Cluster, name string, home policy.Place) *placeTerminal {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cert, key := c.CA.Issue(name, false)
	cfg := config.Default()
	cfg.Place = config.Place{Site: home.Site, Ward: home.Ward, Labels: home.Labels}
	cfg.Fleet = config.Fleet{Name: name, Endpoints: c.Endpoints(), Certificate: cert, Key: key, CA: c.CA.File,
		OfflineMaxAge: "24h", RevokeEndsSession: "at-once"}
	db, err := store.Open(filepath.Join(t.TempDir(), "passkiosk.db"), store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	records := storeport.NewRecords(db, name)
	fl, err := openFleet(&cfg, db, nil, records, log)
	if err != nil || fl == nil {
		t.Fatalf("openFleet: %v", err)
	}
	pt := &placeTerminal{t: t, name: name, db: db, fl: fl, keys: kiosktest.NewKeys(), views: make(chan kiosk.View, 1024)}
	pol := policy.Default()
	pol.Default.Program = []string{"/bin/true"}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	pt.eng = engine.New(engine.Config{Terminal: name, Policy: pol, Store: fl.store(records), Keys: pt.keys, Sessions: &kiosktest.Sessions{},
		Clock: kiosk.SystemClock{}, Publish: func(v kiosk.View) { pt.views <- v }, Log: log, Place: fl.place(cfg.Place.Policy())})
	ctx, cancel := context.WithCancel(context.Background())
	go pt.eng.Run(ctx)
	fl.start(ctx, pt.eng)
	t.Cleanup(func() { pt.eng.Shutdown(context.Background()); cancel(); fl.close(); db.Close() })
	return pt
}

// wait reads views until ok, for at most 15 s.
func (pt *placeTerminal) wait(what string, ok func(kiosk.View) bool) kiosk.View {
	pt.t.Helper()
	guard := time.After(15 * time.Second)
	for {
		select {
		case v := <-pt.views:
			if ok(v) {
				return v
			}
		case <-guard:
			pt.t.Fatalf("%s never reached %s", pt.name, what)
		}
	}
}

// until polls cond every 10 ms for at most 15 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signIn plugs k and types its PIN; it returns the view that ended the
// attempt: a session, or a notice on the lock screen.
func (pt *placeTerminal) signIn(k *kiosktest.Key, pin string) kiosk.View {
	pt.t.Helper()
	pt.keys.Plug(k)
	pt.wait("PIN", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptPIN })
	pt.eng.EnterPIN([]byte(pin))
	v := pt.wait("a session or a refusal", func(v kiosk.View) bool {
		return v.State == kiosk.StateInSession || (v.Notice != nil && v.Notice.Code == kiosk.NoticeNotAllowed)
	})
	if v.State == kiosk.StateInSession {
		pt.eng.SignOut()
	}
	pt.keys.Unplug(k)
	pt.wait("lock screen", func(v kiosk.View) bool { return v.State == kiosk.StateLocked && !v.KeyPresent })
	return v
}

// enroll registers key k with a fleet code at this terminal.
func (pt *placeTerminal) enroll(code string, k *kiosktest.Key, pin string) {
	pt.t.Helper()
	pt.eng.StartEnrollment(code)
	pt.wait("insert key", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptInsertKey })
	pt.keys.Plug(k)
	pt.wait("PIN", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptPIN })
	pt.eng.EnterPIN([]byte(pin))
	pt.wait("enrolled", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptEnrollDone })
	pt.eng.Cancel()
	pt.keys.Unplug(k)
	pt.wait("lock screen", func(v kiosk.View) bool { return v.State == kiosk.StateLocked && !v.KeyPresent })
}

// putPlacePolicy makes the fleet's policy the default with these place
// rules, through the directory as passkioskctl policy apply would.
func putPlacePolicy(t *testing.T, dir *fleet.Directory, places ...policy.PlaceRules) {
	t.Helper()
	pol := policy.Default()
	pol.Default.Program = []string{"/bin/true"}
	pol.Places = places
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.PutPolicy(context.Background(), config.PolicySchema, config.RenderPolicy(pol), 0, "it"); err != nil {
		t.Fatal(err)
	}
}

// closedNow is a window of one hour that starts two hours from now.
func closedNow() policy.Window {
	h := time.Now().Hour()
	from, to := time.Duration((h+2)%24)*time.Hour, time.Duration((h+3)%24)*time.Hour
	if to == 0 {
		to = 24 * time.Hour
	}
	return policy.Window{From: from, To: to}
}

// IT moves a terminal to the ICU with PutTerminal: its next sign-in
// follows the ICU's hours (closed now) while the terminal on ward 7 lets
// the same person in with the same key; neither needed a restart, the
// moved terminal's place is kept in its store, and it still holds with
// the cluster stopped.
func TestFleetPlaceChangeFollowsTheWardsHours(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	dir := &fleet.Directory{Client: c.Client()}
	ctx := context.Background()

	putPlacePolicy(t, dir, policy.PlaceRules{Name: "icu", Match: policy.Match{Ward: "icu"}, Hours: []policy.Window{closedNow()}})
	nurse := store.User{ID: []byte("u-nurse"), Name: "nurse", DisplayName: "Nina", State: store.UserActive}
	if _, err := dir.PutUser(ctx, nurse); err != nil {
		t.Fatal(err)
	}
	code, err := dir.IssueCode(ctx, nurse.ID, store.PurposeEnroll, time.Hour, "it")
	if err != nil {
		t.Fatal(err)
	}
	ward7 := startPlaceTerminal(t, c, "ward7-1", policy.Place{Ward: "ward7"})
	bay := startPlaceTerminal(t, c, "bay-2", policy.Place{Ward: "ward7"})
	for _, pt := range []*placeTerminal{ward7, bay} {
		until(t, pt.name+" applies the directory's place rules", func() bool { return len(pt.eng.Policy().Places) == 1 })
	}

	k := kiosktest.NewKey("k1", "4821", false)
	ward7.enroll(code, k, "4821")
	until(t, "the key reaches bay-2's mirror", func() bool { cs, err := bay.db.CredentialsOf(nurse.ID); return err == nil && len(cs) == 1 })

	if v := bay.signIn(k, "4821"); v.State != kiosk.StateInSession {
		t.Fatalf("bay-2 on ward 7 refused: %+v", v.Notice)
	}
	moved := time.Now()
	if _, err := dir.PutTerminal(ctx, fleet.Terminal{Name: "bay-2", Site: "north", Ward: "icu", Labels: map[string]string{"floor": "3"}}, "it-anna"); err != nil {
		t.Fatal(err)
	}
	until(t, "bay-2 knows it is on the ICU", func() bool { return bay.eng.Place().Ward == "icu" })
	t.Logf("bay-2's engine had its new place %v after PutTerminal", time.Since(moved).Round(time.Millisecond))
	v := bay.signIn(k, "4821")
	if v.State == kiosk.StateInSession || v.Notice == nil || v.Notice.Code != kiosk.NoticeNotAllowed {
		t.Fatalf("bay-2 on the ICU let the nurse in outside the ICU's hours: %+v", v)
	}
	if !strings.Contains(v.Notice.Detail, "on this terminal (site=north ward=icu floor=3)") {
		t.Errorf("the refusal says %q", v.Notice.Detail)
	}
	if v := ward7.signIn(k, "4821"); v.State != kiosk.StateInSession {
		t.Fatalf("ward7-1 refused: %+v", v.Notice)
	}
	if p := ward7.eng.Place(); p.Ward != "ward7" {
		t.Errorf("ward7-1 took another terminal's place: %+v", p)
	}
	if p, ok, err := bay.db.MirrorPlace(); !ok || err != nil || p.Ward != "icu" || p.Labels["floor"] != "3" || p.UpdatedBy != "it-anna" {
		t.Errorf("bay-2's stored place %+v %v %v", p, ok, err)
	}
	if got := bay.fl.place(policy.Place{Ward: "ward7"}); got.Ward != "icu" || got.Site != "north" {
		t.Errorf("after a restart bay-2 would stand at %+v", got)
	}

	// Offline, the last place it saw holds.
	c.StopAll()
	until(t, "bay-2 offline", func() bool { return !bay.fl.status().Online })
	if v := bay.signIn(k, "4821"); v.State == kiosk.StateInSession || bay.eng.Place().Ward != "icu" {
		t.Fatalf("offline, bay-2 forgot its place: %+v, place %+v", v, bay.eng.Place())
	}
}
