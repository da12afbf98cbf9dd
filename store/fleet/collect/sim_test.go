package collect_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk/auditfile"
	"passkiosk/store/fleet/audittest"
	"passkiosk/store/fleet/collect"
	"passkiosk/store/fleet/fleettest"
)

// The simulation's size. `go test` runs the short one; `make
// test-fleet-audit` runs the issue's: 500 terminals, 100,000 entries.
var (
	simTerminals = flag.Int("fleet.terminals", 20, "terminals in the fleet simulation")
	simEntries   = flag.Int("fleet.entries", 4000, "audit entries the simulated fleet writes in all")
	simRate      = flag.Float64("fleet.rate", 0, "entries per second the fleet writes in all (0: as fast as the terminals can)")
	simCalm      = flag.Bool("fleet.calm", false, "no member killed and no terminal cut off: measure the delay undisturbed")
)

// simTerminal is one terminal of the simulation: its store, and its
// shipper's client, which is closed while it is cut off.
type simTerminal struct {
	tm     *audittest.Terminal
	mu     sync.Mutex
	cl     *clientv3.Client
	ship   *runner
	cutOff bool
}

func (s *simTerminal) connect(t testing.TB, endpoints []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cl = audittest.Client(t, endpoints)
	s.ship = shipper(t, s.tm, s.cl)
	s.cutOff = false
}

// cut closes the terminal's client under its running shipper, then
// stops the shipper: its network is gone.
func (s *simTerminal) cut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cl.Close()
	s.ship.stop()
	s.cutOff = true
}

// delay is an entry's time and how long after it its line was archived.
type delay struct {
	at time.Time
	d  time.Duration
}

// cutOffName says whether a terminal is one of the tenth cut off.
func cutOffName(name string) bool { return name[len(name)-1] == '3' }

// TestFleetShipsEveryEntryOnceThroughFailures is the issue's
// simulation: every terminal writes entries while its shipper ships
// them and the collector archives them; a member of the cluster is
// killed and comes back; a tenth of the terminals are cut off (their
// client closed) and come back later. At the end every terminal's
// archive is its whole chain, once, verified by auditfile.Verify, and
// etcd holds none of it.
func TestFleetShipsEveryEntryOnceThroughFailures(t *testing.T) {
	nTerm, nEntries := *simTerminals, *simEntries
	perTerm := nEntries / nTerm
	c := fleettest.Start(t, fleettest.Options{})
	endpoints := c.Endpoints()
	dir, arc := t.TempDir(), t.TempDir()

	var (
		mu       sync.Mutex
		delays   []delay
		received = map[string]int{}
		dupes    int
		lastSeq  = map[string]uint64{}
	)
	colCl := audittest.Client(t, endpoints)
	defer colCl.Close()
	var al alarms
	col, _ := collector(t, colCl, arc, collect.Options{Alarm: al.add, Spikes: collect.DefaultThresholds,
		Archived: func(name string, lines []auditfile.Entry) {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			for _, l := range lines {
				at, _ := time.Parse(time.RFC3339Nano, l.Time)
				if !cutOffName(name) {
					delays = append(delays, delay{at, now.Sub(at)})
				}
				if l.Seq <= lastSeq[name] {
					dupes++
				}
				lastSeq[name] = l.Seq
				received[name]++
			}
		}})

	terms := make([]*simTerminal, nTerm)
	for i := range terms {
		terms[i] = &simTerminal{tm: audittest.Open(t, dir, fmt.Sprintf("t%03d", i))}
		defer terms[i].tm.Close(t)
		terms[i].connect(t, endpoints)
	}
	var written atomic.Int64
	began := time.Now()
	var killedAt, backAt atomic.Int64
	var producers sync.WaitGroup
	for _, st := range terms {
		producers.Add(1)
		go func() {
			defer producers.Done()
			var gap time.Duration
			if *simRate > 0 {
				gap = time.Duration(float64(nTerm) / *simRate * float64(time.Second))
			}
			time.Sleep(rand.N(gap + 1))
			for range perTerm {
				st.tm.Append(t, 1)
				written.Add(1)
				if gap > 0 {
					time.Sleep(gap)
				}
			}
		}()
	}

	// The failures, at points of the writing.
	at := func(frac float64) {
		for written.Load() < int64(frac*float64(nTerm*perTerm)) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if !*simCalm {
		killed := 1
		at(0.2)
		for _, st := range terms {
			if cutOffName(st.tm.Name) {
				st.cut()
			}
		}
		t.Logf("%s: a tenth of the terminals cut off", time.Since(began).Round(time.Millisecond))
		at(0.35)
		if l := c.Leader(); l >= 0 {
			killed = l
		}
		killedAt.Store(time.Now().UnixNano())
		c.Stop(killed)
		t.Logf("%s: member %d (the leader) killed", time.Since(began).Round(time.Millisecond), killed)
		at(0.6)
		c.Restart(killed)
		backAt.Store(time.Now().UnixNano())
		t.Logf("%s: member %d back", time.Since(began).Round(time.Millisecond), killed)
	}
	producers.Wait()
	t.Logf("%s: every entry written", time.Since(began).Round(time.Millisecond))
	for _, st := range terms {
		if st.cutOff {
			st.connect(t, endpoints)
		}
	}
	t.Logf("%s: the cut-off terminals are back", time.Since(began).Round(time.Millisecond))

	heads := map[string]uint64{}
	hashes := map[string][]byte{}
	total := uint64(0)
	for _, st := range terms {
		seq, h, err := st.tm.DB.AuditHead()
		if err != nil {
			t.Fatal(err)
		}
		heads[st.tm.Name], hashes[st.tm.Name] = seq, h
		total += seq
	}
	waitFor(t, time.Duration(nEntries/50+60)*time.Second, "every entry archived", func() bool {
		s := col.Status()
		for name, seq := range heads {
			if s[name].Last < seq || s[name].Stopped != nil {
				return s[name].Stopped != nil // fail below with the reason
			}
		}
		return true
	})
	elapsed := time.Since(began)
	for _, a := range al.list() {
		if a.Spike == nil {
			t.Errorf("alarm: %+v", a)
		}
	}
	st := col.Status()
	for name, seq := range heads {
		if st[name].Stopped != nil {
			t.Fatalf("%s stopped: %+v", name, st[name].Stopped)
		}
		ch := verifyFile(t, arc, name)
		if !ch.StartsChain || ch.First != 1 || ch.Last != seq || ch.Entries != int(seq) || ch.LastHash != fmt.Sprintf("%x", hashes[name]) {
			t.Errorf("%s: archive %+v, want its whole chain 1..%d", name, ch, seq)
		}
		if received[name] != int(seq) {
			t.Errorf("%s: %d entries archived for a chain of %d", name, received[name], seq)
		}
	}
	if dupes > 0 {
		t.Errorf("%d entries archived twice", dupes)
	}
	waitFor(t, 60*time.Second, "etcd emptied", func() bool {
		for name := range heads {
			if shippedLeft(t, colCl, name) != 0 {
				return false
			}
		}
		return true
	})
	// The archive holds them all with etcd's copies gone.
	for name, seq := range heads {
		if ch := verifyFile(t, arc, name); ch.Entries != int(seq) {
			t.Errorf("%s: %d entries after etcd was emptied, want %d", name, ch.Entries, seq)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Entries written from the kill until 5 s after the member was back
	// wait for a new leader; the others show shipping undisturbed.
	var all, calm []time.Duration
	from, to := time.Unix(0, killedAt.Load()), time.Unix(0, backAt.Load()).Add(5*time.Second)
	for _, d := range delays {
		all = append(all, d.d)
		if killedAt.Load() == 0 || d.at.Before(from) || d.at.After(to) {
			calm = append(calm, d.d)
		}
	}
	p := func(ds []time.Duration, q int) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return ds[len(ds)*q/100].Round(time.Millisecond)
	}
	// Delays of the cut-off terminals' entries are their outage, not
	// the shipping's: the figures count only terminals never cut off.
	t.Logf("fleet-audit: terminals=%d entries=%d (chains %d) seconds=%.1f throughput=%.0f/s delay p50=%s p99=%s, away from the kill p50=%s p99=%s (terminals never cut off)",
		nTerm, written.Load(), total, elapsed.Seconds(), float64(total)/elapsed.Seconds(), p(all, 50), p(all, 99), p(calm, 50), p(calm, 99))
}
