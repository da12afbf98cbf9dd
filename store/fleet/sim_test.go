package fleet_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

// TestFleetSimulation is the large run behind `make test-fleet`: many
// agents without a screen, each with its own bbolt file on disk and its
// own client on every endpoint, against three members on 127.0.0.1.
// PASSKIOSK_FLEET_AGENTS sets how many (default 500). It reports, and
// does not assert on, times: revocation to every mirror (p50/p99/max
// over 20 revocations), catch-up of terminals that missed 100 updates,
// a full reload after compaction, and heap per agent.
func TestFleetSimulation(t *testing.T) {
	if os.Getenv("PASSKIOSK_FLEET_SIM") == "" {
		t.Skip("the fleet simulation runs with make test-fleet (PASSKIOSK_FLEET_SIM=1)")
	}
	n := 500
	if s := os.Getenv("PASSKIOSK_FLEET_AGENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	c := fleettest.Start(t, fleettest.Options{ProgressNotify: time.Second})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	rev := seed(t, dir, 100)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	terms := make([]*terminal, n)
	for i := range terms {
		terms[i] = startTerminal(t, c.Client(), fmt.Sprintf("t%04d", i), termOpts{probe: time.Second})
	}
	for _, term := range terms {
		term.waitRevision(t, rev, 5*time.Minute)
	}
	t.Logf("%d agents loaded 100 people and 200 keys in %s", n, time.Since(start))
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("heap per agent (with its client and bbolt file): %.1f KiB", float64(after.HeapAlloc-before.HeapAlloc)/float64(n)/1024)

	revocationsToAll(t, dir, terms)

	ctx := context.Background()
	// An outage: a tenth of the terminals stop, 100 updates happen, they
	// start again from their saved revision.
	away := terms[:max(1, n/10)]
	for _, term := range away {
		term.stop()
	}
	for i := range 100 {
		if err := retry(func() (err error) { rev, err = dir.PutUser(ctx, person(1000+i)); return err }); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	back := make([]*terminal, len(away))
	for i, term := range away {
		back[i] = runTerminal(t, c.Client(), term.name, term.db, termOpts{probe: time.Second})
	}
	for _, term := range back {
		term.waitRevision(t, rev, 2*time.Minute)
		if term.agent.Status().Reloads != 0 {
			t.Errorf("%s caught up with a full reload", term.name)
		}
	}
	t.Logf("%d terminals caught up with 100 updates missed in %s (no full reload)", len(back), time.Since(t0))

	// Compaction while they are away: a full reload.
	for _, term := range back {
		term.stop()
	}
	for i := range 10 {
		if err := retry(func() (err error) { rev, err = dir.PutUser(ctx, person(2000+i)); return err }); err != nil {
			t.Fatal(err)
		}
	}
	c.Compact(ctx, cl)
	t0 = time.Now()
	for i, term := range back {
		back[i] = runTerminal(t, c.Client(), term.name, term.db, termOpts{probe: time.Second})
	}
	for _, term := range back {
		term.waitRevision(t, rev, 2*time.Minute)
		if term.agent.Status().Reloads != 1 {
			t.Errorf("%s: %d full reloads after compaction, want 1", term.name, term.agent.Status().Reloads)
		}
	}
	t.Logf("%d terminals reloaded in full after compaction in %s", len(back), time.Since(t0))
}

// BenchmarkColdLoad is a new terminal loading a directory of 10,000
// people and 20,000 security keys into an empty bbolt file on disk.
func BenchmarkColdLoad(b *testing.B) {
	c := fleettest.Start(b, fleettest.Options{})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	rev := seed(b, dir, 10000)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		term := startTerminal(b, c.Client(), fmt.Sprintf("cold%d", i), termOpts{})
		term.waitRevision(b, rev, 5*time.Minute)
		b.ReportMetric(time.Since(start).Seconds(), "s/load")
		term.stop()
	}
}

// BenchmarkRevocationTo50 revokes one key at a time with 50 agents
// watching and reports how long until every mirror had it.
func BenchmarkRevocationTo50(b *testing.B) {
	for range b.N {
		revocationSpread(b, 50, 10)
	}
}

// retry gives a write on a machine loaded by hundreds of agents a few
// tries: a keepalive can time out under such load.
func retry(fn func() error) error {
	var err error
	for range 5 {
		if err = fn(); err == nil {
			return nil
		}
		time.Sleep(time.Second)
	}
	return err
}

func drainRevisions(ch chan arrival) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// waitArrival is how long after t0 ch (a terminal's received or
// committed) reached rev.
func (term *terminal) waitArrival(t testing.TB, ch chan arrival, rev int64, t0 time.Time) time.Duration {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got := <-ch:
			if got.rev >= rev {
				return got.at.Sub(t0)
			}
		case <-timeout:
			t.Fatalf("%s: revision %d not reached within 30 s", term.name, rev)
		}
	}
}

// revocationsToAll revokes 20 keys one after the other and reports, over
// every terminal and revocation, the time from the revoking write until
// the agent's watch delivered it, until it was committed to the agent's
// bbolt file (the time that counts), and the two parts of that: the
// cluster's commit and delivery after the writer's answer, and the
// agent's apply. PASSKIOSK_FLEET_CPUPROFILE names a file for a CPU
// profile of this phase alone.
func revocationsToAll(t *testing.T, dir *fleet.Directory, terms []*terminal) {
	if path := os.Getenv("PASSKIOSK_FLEET_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	var written, delivered, afterWrite, committed, apply []time.Duration
	for r := range 20 {
		id := key(2*r, r).ID
		for _, term := range terms {
			drainRevisions(term.received)
			drainRevisions(term.committed)
		}
		t0 := time.Now()
		var rrev int64
		if err := retry(func() (err error) { rrev, err = dir.Revoke(ctx, id, person(r).ID, "it", "lost"); return err }); err != nil {
			t.Fatal(err)
		}
		w := time.Since(t0)
		written = append(written, w)
		for _, term := range terms {
			d := term.waitArrival(t, term.received, rrev, t0)
			c := term.waitArrival(t, term.committed, rrev, t0)
			delivered, committed = append(delivered, d), append(committed, c)
			afterWrite, apply = append(afterWrite, max(0, d-w)), append(apply, c-d)
		}
	}
	report := func(what string, ds []time.Duration) {
		p50, p99, worst := percentiles(ds)
		t.Logf("%s: p50 %s, p99 %s, max %s", what, p50.Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond))
	}
	n := len(terms)
	report("revocation written (the writer's answer, 20 revocations)", written)
	report(fmt.Sprintf("revocation delivered to %d agents' watches", n), delivered)
	report(fmt.Sprintf("revocation committed to %d mirrors (bbolt files on one shared disk)", n), committed)
	report("  of which: delivery after the writer's answer", afterWrite)
	report("  of which: the agent's apply (decode, bbolt transaction, fsync)", apply)
}
