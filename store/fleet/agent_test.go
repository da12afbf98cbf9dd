package fleet_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// terminal is one agent on its own bbolt file on disk.
type terminal struct {
	name   string
	db     *store.DB
	agent  *fleet.Agent
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	applied   []store.MirrorApplied
	revoked   chan []byte  // every credential or person stopped, as applied
	received  chan arrival // watch responses, as they arrive
	committed chan arrival // batches, as committed to the mirror
}

type termOpts struct {
	probe    time.Duration
	maxAge   time.Duration
	pageSize int64
}

func startTerminal(t testing.TB, cl *clientv3.Client, name string, o termOpts) *terminal {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), name+".db"), store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return runTerminal(t, cl, name, db, o)
}

func runTerminal(t testing.TB, cl *clientv3.Client, name string, db *store.DB, o termOpts) *terminal {
	t.Helper()
	term := &terminal{name: name, db: db, done: make(chan struct{}), revoked: make(chan []byte, 1024),
		received: make(chan arrival, 1024), committed: make(chan arrival, 1024)}
	if o.probe == 0 {
		o.probe = 100 * time.Millisecond
	}
	a, err := fleet.NewAgent(fleet.Options{Client: cl, DB: db, Terminal: name, Probe: o.probe, MaxAge: o.maxAge, PageSize: o.pageSize, Heartbeat: -1, Log: quiet,
		OnReceive: func(rev int64) {
			select {
			case term.received <- arrival{rev, time.Now()}:
			default:
			}
		},
		OnApplied: func(r store.MirrorApplied) {
			select {
			case term.committed <- arrival{r.Revision, time.Now()}:
			default:
			}
			term.mu.Lock()
			term.applied = append(term.applied, r)
			term.mu.Unlock()
			for _, id := range append(r.Stopped, r.Revoked...) {
				select {
				case term.revoked <- id:
				default:
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	term.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	term.cancel = cancel
	go func() { defer close(term.done); a.Run(ctx) }()
	t.Cleanup(func() { term.stop(); db.Close() })
	return term
}

// arrival is a watch response's revision and when it arrived.
type arrival struct {
	rev int64
	at  time.Time
}

func (term *terminal) stop() {
	term.cancel()
	<-term.done
}

// waitRevision waits until the mirror holds rev.
func (term *terminal) waitRevision(t testing.TB, rev int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if term.agent.Status().Revision >= rev {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: mirror at revision %d after %s, want %d", term.name, term.agent.Status().Revision, within, rev)
}

func person(i int) store.User {
	return store.User{ID: []byte(fmt.Sprintf("u-%06d", i)), Name: fmt.Sprintf("person%d", i), DisplayName: fmt.Sprintf("Person %d", i), State: store.UserActive}
}

func key(i, user int) store.Credential {
	c := store.Credential{ID: []byte(fmt.Sprintf("key-%06d", i)), UserID: person(user).ID, Kind: store.KindRoaming,
		PublicKey: []byte{0xa1, 0x01, 0x02}, Transports: []string{"usb"}, Label: "key"}
	c.AAGUID[0] = 0xee
	return c
}

// seed writes n people with two keys each and returns the last revision.
func seed(t testing.TB, dir *fleet.Directory, n int) int64 {
	t.Helper()
	ctx := context.Background()
	var rev int64
	// Puts in transactions of 64 keep a large seed quick.
	var ops []clientv3.Op
	flush := func() {
		if len(ops) == 0 {
			return
		}
		r, err := dir.Client.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			t.Fatal(err)
		}
		rev, ops = r.Header.Revision, nil
	}
	for i := range n {
		u, _ := fleet.EncodeUser(person(i))
		ops = append(ops, clientv3.OpPut(fleet.UserKey(person(i).ID), string(u)))
		for j := range 2 {
			c := key(2*i+j, i)
			v, err := fleet.EncodeCredential(c)
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, clientv3.OpPut(fleet.CredentialKey(c.ID), string(v)))
		}
		if len(ops) >= 63 {
			flush()
		}
	}
	flush()
	return rev
}

func TestAgentLoadsInFullThenFollowsTheWatch(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	rev := seed(t, dir, 50)
	// Pages of 7 keys: the load reads 22 of them, all at one revision.
	term := startTerminal(t, cl, "ward7-bay2", termOpts{pageSize: 7})
	term.waitRevision(t, rev, 10*time.Second)
	users, _ := term.db.Users()
	if len(users) != 50 {
		t.Fatalf("%d users mirrored, want 50", len(users))
	}
	for i := range 100 {
		if _, err := term.db.CredentialByID(key(i, i/2).ID); err != nil {
			t.Fatalf("key %d not mirrored: %v", i, err)
		}
	}
	if st := term.agent.Status(); st.Reloads != 1 || !st.Online {
		t.Errorf("status %+v, want one full load and online", st)
	}
	// A change after the load arrives through the watch, not a reload.
	ctx := context.Background()
	rev, err := dir.PutUser(ctx, person(50))
	if err != nil {
		t.Fatal(err)
	}
	term.waitRevision(t, rev, 5*time.Second)
	if _, err := term.db.User(person(50).ID); err != nil {
		t.Fatal(err)
	}
	if st := term.agent.Status(); st.Reloads != 1 {
		t.Errorf("%d full loads, want 1", st.Reloads)
	}
	// A policy in the directory becomes the terminal's.
	if _, err := dir.PutPolicy(ctx, 1, []byte("show_tiles = false\n"), 0, "it"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool {
		p, err := term.db.CurrentPolicy()
		return err == nil && string(p.Data) == "show_tiles = false\n"
	})
}

func waitFor(t testing.TB, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAgentResumesFromItsSavedRevisionAfterARestart(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	rev := seed(t, dir, 5)
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := store.Open(path, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	term := runTerminal(t, cl, "t1", db, termOpts{})
	term.waitRevision(t, rev, 10*time.Second)
	term.stop()
	// While it is down: one revocation, one new person.
	ctx := context.Background()
	if _, err := dir.Revoke(ctx, key(0, 0).ID, person(0).ID, "it", "lost"); err != nil {
		t.Fatal(err)
	}
	rev, _ = dir.PutUser(ctx, person(9))
	term2 := runTerminal(t, cl, "t1", db, termOpts{})
	term2.waitRevision(t, rev, 10*time.Second)
	if st := term2.agent.Status(); st.Reloads != 0 {
		t.Errorf("caught up with %d full loads, want 0 (watch from the saved revision)", st.Reloads)
	}
	if _, err := db.CredentialByID(key(0, 0).ID); kiosk.KindOf(err) != kiosk.KindNotFound {
		t.Errorf("revoked key after catch-up: %v", err)
	}
	if _, err := db.User(person(9).ID); err != nil {
		t.Error(err)
	}
}

func TestAgentReloadsInFullWhenItsRevisionWasCompacted(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	rev := seed(t, dir, 5)
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := store.Open(path, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	term := runTerminal(t, cl, "t1", db, termOpts{})
	term.waitRevision(t, rev, 10*time.Second)
	term.stop()
	// Deleted while the terminal was away, then compacted: no watch can
	// tell it any more; only a full reload can.
	ctx := context.Background()
	if _, err := cl.Delete(ctx, fleet.UserKey(person(1).ID)); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 15; i++ {
		rev, _ = dir.PutUser(ctx, person(i))
	}
	c.Compact(ctx, cl)
	start := time.Now()
	term2 := runTerminal(t, cl, "t1", db, termOpts{})
	term2.waitRevision(t, rev, 10*time.Second)
	t.Logf("caught up by full reload in %s", time.Since(start))
	if st := term2.agent.Status(); st.Reloads != 1 {
		t.Errorf("%d full loads, want 1", st.Reloads)
	}
	if _, err := db.User(person(1).ID); kiosk.KindOf(err) != kiosk.KindNotFound {
		t.Errorf("person deleted before the compaction is still mirrored: %v", err)
	}
	if _, err := db.User(person(14).ID); err != nil {
		t.Error(err)
	}
}

// Each member in turn, the leader first, is killed with SIGKILL (the
// members are processes of their own) while the terminal's client knows
// every endpoint: whichever member it was connected to, the cluster takes
// a write without the dead one and the mirror gets it by its watch.
func TestAgentKeepsGoingWhenAMemberIsKilled(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{Processes: true})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	rev := seed(t, dir, 3)
	term := startTerminal(t, cl, "t1", termOpts{})
	term.waitRevision(t, rev, 10*time.Second)
	victims := []int{c.Leader()}
	if victims[0] < 0 {
		t.Fatal("no leader")
	}
	for i := range 3 {
		if i != victims[0] {
			victims = append(victims, i)
		}
	}
	for round, victim := range victims {
		c.Stop(victim)
		start := time.Now()
		rev = writeWithin(t, 10*time.Second, func(ctx context.Context) (int64, error) { return dir.PutUser(ctx, person(100+round)) })
		term.waitRevision(t, rev, 10*time.Second)
		t.Logf("member %d killed (leader: %v): written and mirrored %s later", victim, round == 0, time.Since(start).Round(time.Millisecond))
		c.Restart(victim)
	}
	if st := term.agent.Status(); st.Reloads != 1 {
		t.Errorf("%d full loads, want 1", st.Reloads)
	}
}

// writeWithin tries write, one second at a time, until it succeeds or d
// has passed, and returns its revision.
func writeWithin(t testing.TB, d time.Duration, write func(context.Context) (int64, error)) int64 {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		rev, err := write(ctx)
		cancel()
		if err == nil {
			return rev
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster took no write within %s: %v", d, err)
		}
	}
}

func TestRevocationReachesEveryAgent(t *testing.T) {
	agents := 20
	if testing.Short() {
		agents = 5
	}
	revocationSpread(t, agents, 5)
}

// asAFleet is a cluster as a fleet runs one: each member a process of
// its own, with etcd's own timing (100 ms heartbeats, 1 s election
// timeout, progress notifications every ten minutes).
var asAFleet = fleettest.Options{Processes: true, Heartbeat: 100 * time.Millisecond, ProgressNotify: 10 * time.Minute}

// revocationSpread starts n agents, revokes rounds credentials one by
// one, and reports how long each took to reach every mirror.
func revocationSpread(t testing.TB, n, rounds int) {
	c := fleettest.Start(t, asAFleet)
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	rev := seed(t, dir, rounds)
	terms := make([]*terminal, n)
	for i := range terms {
		// Each terminal its own client on every endpoint, as in the field.
		terms[i] = startTerminal(t, c.Client(), fmt.Sprintf("t%03d", i), termOpts{probe: time.Second})
	}
	for _, term := range terms {
		term.waitRevision(t, rev, 60*time.Second)
	}
	var all []time.Duration
	ctx := context.Background()
	for r := range rounds {
		id := key(2*r, r).ID
		start := time.Now()
		rrev, err := dir.Revoke(ctx, id, person(r).ID, "it", "lost")
		if err != nil {
			t.Fatal(err)
		}
		for _, term := range terms {
			select {
			case got := <-term.revoked:
				if string(got) != string(id) {
					t.Fatalf("%s: revoked %q, want %q", term.name, got, id)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: revocation %d not applied within 10 s", term.name, r)
			}
			// The time the agent committed it, not the time this loop
			// got round to its terminal.
			all = append(all, term.waitArrival(t, term.committed, rrev, start))
		}
	}
	p50, p99, worst := percentiles(all)
	t.Logf("revocation to %d mirrors (%d revocations, %d arrivals): p50 %s, p99 %s, max %s", n, rounds, len(all), p50, p99, worst)
}

func percentiles(ds []time.Duration) (p50, p99, worst time.Duration) {
	s := append([]time.Duration(nil), ds...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99), s[len(s)-1]
}

// Offline, the agent says since when, and once the mirror is older than
// the limit, that it is stale; back online both clear.
func TestAgentOfflineThenStaleThenBack(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	rev := seed(t, &fleet.Directory{Client: cl}, 2)
	term := startTerminal(t, cl, "t1", termOpts{maxAge: 2 * time.Second})
	term.waitRevision(t, rev, 10*time.Second)
	stopped := time.Now()
	c.StopAll()
	waitFor(t, 10*time.Second, func() bool { return !term.agent.Status().Online })
	st := term.agent.Status()
	// The last answer came at most one probe (100 ms) before the stop,
	// or while the members took a second or two to stop.
	if st.OfflineSince.Before(stopped.Add(-time.Second)) || st.OfflineSince.After(time.Now()) {
		t.Fatalf("just offline: %+v (stopping at %s)", st, stopped)
	}
	waitFor(t, 10*time.Second, func() bool { return term.agent.Status().Stale })
	c.RestartAll()
	waitFor(t, 20*time.Second, func() bool { st := term.agent.Status(); return st.Online && !st.Stale })
	if st := term.agent.Status(); st.Reloads != 1 || !st.OfflineSince.IsZero() {
		t.Errorf("back online: %+v", st)
	}
}

// A terminal's heartbeat says which revision its mirror holds, under a
// lease: it is gone once the terminal stops renewing it.
func TestHeartbeatUnderALease(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	rev := seed(t, &fleet.Directory{Client: cl}, 1)
	db, err := store.Open(filepath.Join(t.TempDir(), "t.db"), store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := fleet.NewAgent(fleet.Options{Client: cl, DB: db, Terminal: "t1", Probe: 100 * time.Millisecond, Heartbeat: time.Second, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	var hb fleet.Heartbeat
	waitFor(t, 10*time.Second, func() bool {
		r, err := cl.Get(ctx, fleet.HeartbeatKey("t1"))
		if err != nil || len(r.Kvs) == 0 {
			return false
		}
		hb, err = fleet.DecodeHeartbeat(r.Kvs[0].Value)
		return err == nil && hb.Revision >= rev && r.Kvs[0].Lease != 0
	})
	cancel()
	<-done
	// The lease is three periods (and a second): the key goes with it.
	waitFor(t, 10*time.Second, func() bool {
		r, err := cl.Get(context.Background(), fleet.HeartbeatKey("t1"))
		return err == nil && len(r.Kvs) == 0
	})
}

// A directory restored from an older backup is at a revision below the
// mirror's: a watch from the mirror's would wait for the future, so the
// agent loads it in full.
func TestAgentReloadsADirectoryThatWentBackInTime(t *testing.T) {
	old := fleettest.Start(t, fleettest.Options{})
	rev := seed(t, &fleet.Directory{Client: old.Client()}, 30)
	db, err := store.Open(filepath.Join(t.TempDir(), "t.db"), store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	term := runTerminal(t, old.Client(), "t1", db, termOpts{})
	term.waitRevision(t, rev, 10*time.Second)
	term.stop()
	old.StopAll()

	restored := fleettest.Start(t, fleettest.Options{})
	rrev := seed(t, &fleet.Directory{Client: restored.Client()}, 3)
	if rrev >= rev {
		t.Fatalf("the restored directory is at %d, not below the mirror's %d", rrev, rev)
	}
	back := runTerminal(t, restored.Client(), "t1", db, termOpts{})
	waitFor(t, 15*time.Second, func() bool { return back.agent.Status().Reloads == 1 })
	if users, _ := db.Users(); len(users) != 3 {
		t.Fatalf("%d people after the reload, want the restored directory's 3", len(users))
	}
}
