package fleet_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
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

	// Revocation to every mirror: when each agent's watch delivered it,
	// and when it was committed to its bbolt file. Here the 500 files
	// share one disk, whose fsyncs queue behind each other; a terminal
	// has its own.
	ctx := context.Background()
	var delivered, applied []time.Duration
	for r := range 20 {
		id := key(2*r, r).ID
		for _, term := range terms {
			drainRevisions(term.received)
		}
		t0 := time.Now()
		var rrev int64
		if err := retry(func() (err error) { rrev, err = dir.Revoke(ctx, id, person(r).ID, "it", "lost"); return err }); err != nil {
			t.Fatal(err)
		}
		for _, term := range terms {
			delivered = append(delivered, term.waitReceived(t, rrev, t0))
			select {
			case <-term.revoked:
				applied = append(applied, time.Since(t0))
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: revocation %d not applied within 30 s", term.name, r)
			}
		}
	}
	p50, p99, worst := percentiles(delivered)
	t.Logf("revocation delivered to %d agents' watches (20 revocations): p50 %s, p99 %s, max %s", n, p50, p99, worst)
	p50, p99, worst = percentiles(applied)
	t.Logf("revocation committed to %d mirrors on one shared disk: p50 %s, p99 %s, max %s", n, p50, p99, worst)

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

// waitReceived is how long after t0 the agent's watch delivered rev.
func (term *terminal) waitReceived(t testing.TB, rev int64, t0 time.Time) time.Duration {
	for {
		select {
		case got := <-term.received:
			if got.rev >= rev {
				return got.at.Sub(t0)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: revision %d not delivered within 30 s", term.name, rev)
		}
	}
}
