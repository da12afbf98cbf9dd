package fleet_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

// TestFleetSimulation is the large run behind `make test-fleet`: many
// agents without a screen, each with its own bbolt file on disk and its
// own client on every endpoint, against three members on 127.0.0.1, each
// member a process of its own. PASSKIOSK_FLEET_AGENTS sets how many
// agents (default 500). It reports, and does not assert on, times:
// revocation to every mirror (p50/p99/max over 20 revocations, and where
// the time went), a revocation after the leader was killed and one with
// that member still down, catch-up of terminals that missed 100 updates,
// a full reload after compaction, heap per agent, and the CPU the agents
// and each member use idle and during the revocations.
func TestFleetSimulation(t *testing.T) {
	if os.Getenv("PASSKIOSK_FLEET_SIM") == "" {
		t.Skip("the fleet simulation runs with make test-fleet (PASSKIOSK_FLEET_SIM=1)")
	}
	n := 500
	if s := os.Getenv("PASSKIOSK_FLEET_AGENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	// The members run as processes of their own, as in a fleet, unless
	// PASSKIOSK_FLEET_MEMBERS=embedded puts them in this process.
	embedded := os.Getenv("PASSKIOSK_FLEET_MEMBERS") == "embedded"
	t.Logf("%d agents; members in their own processes: %v", n, !embedded)
	// With etcd's own timing, the agents' own progress requests keep
	// their watches talking.
	copts := asAFleet
	copts.Processes = !embedded
	c := fleettest.Start(t, copts)
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

	idle, asked := startCPU(c), countRequests(t, c)
	stop := profileCPU(t, ".idle")
	time.Sleep(5 * time.Second)
	stop()
	idle.report(t, "idle, every agent watching")
	asked.report(t, n)
	revocationsToAll(t, c, dir, terms)
	membersKilled(t, c, dir, terms)
	outageThenCompaction(t, c, dir, terms[:max(1, n/10)])
}

// outageThenCompaction stops the terminals away, makes 100 updates, and
// starts them again from their saved revision: they catch up by watch.
// Then it stops them again, makes 10 more updates, compacts, and starts
// them: they reload in full.
func outageThenCompaction(t *testing.T, c *fleettest.Cluster, dir *fleet.Directory, away []*terminal) {
	ctx := context.Background()
	var rev int64
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
	c.Compact(ctx, dir.Client)
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
	c := fleettest.Start(b, asAFleet)
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
// bbolt file (the time that counts), and the two parts of that: delivery
// after the writer's answer, and the agent's apply. It reports the CPU
// the test process and the member processes used meanwhile.
func revocationsToAll(t *testing.T, c *fleettest.Cluster, dir *fleet.Directory, terms []*terminal) {
	defer profileCPU(t, "")()
	cpu := startCPU(c)
	var s spread
	for r := range 20 {
		s.revoke(t, dir, terms, r)
	}
	cpu.report(t, "during the 20 revocations")
	n := len(terms)
	s.report(t, fmt.Sprintf("revocation delivered to %d agents' watches", n), s.delivered)
	s.report(t, fmt.Sprintf("revocation committed to %d mirrors (bbolt files on one shared disk)", n), s.committed)
	s.report(t, "  of which: the revoking write until the first agent had it (over revocations)", s.first)
	s.report(t, "  of which: delivery to each agent after the first", s.fanOut)
	s.report(t, "  of which: the agent's apply (decode, bbolt transaction, fsync)", s.apply)
	s.report(t, "the revoking write until its writer had the answer (in this process, behind the agents)", s.written)
}

// spread collects, over terminals and revocations, how long each took.
type spread struct {
	written, first, delivered, fanOut, committed, apply []time.Duration
}

// revoke revokes key(2r, r), retrying for up to 30 s (a member may just
// have been killed), and waits until every terminal committed it.
func (s *spread) revoke(t *testing.T, dir *fleet.Directory, terms []*terminal, r int) {
	t.Helper()
	for _, term := range terms {
		drainRevisions(term.received)
		drainRevisions(term.committed)
	}
	t0 := time.Now()
	rrev := writeWithin(t, 30*time.Second, func(ctx context.Context) (int64, error) {
		return dir.Revoke(ctx, key(2*r, r).ID, person(r).ID, "it", "lost")
	})
	w := time.Since(t0)
	s.written = append(s.written, w)
	first := time.Hour
	var ds []time.Duration
	for _, term := range terms {
		d := term.waitArrival(t, term.received, rrev, t0)
		c := term.waitArrival(t, term.committed, rrev, t0)
		s.delivered, s.committed, s.apply = append(s.delivered, d), append(s.committed, c), append(s.apply, c-d)
		ds, first = append(ds, d), min(first, d)
	}
	s.first = append(s.first, first)
	for _, d := range ds {
		s.fanOut = append(s.fanOut, d-first)
	}
}

func (s *spread) report(t *testing.T, what string, ds []time.Duration) {
	t.Helper()
	p50, p99, worst := percentiles(ds)
	t.Logf("%s: p50 %s, p99 %s, max %s", what, p50.Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond))
}

// membersKilled kills the leader with SIGKILL and revokes a key, then,
// with that member still down, revokes another: terminals whose client
// was connected to it must find another member on their own (they were
// given every endpoint). It reports how long each revocation took to
// reach every mirror, and checks that none reloaded in full.
func membersKilled(t *testing.T, c *fleettest.Cluster, dir *fleet.Directory, terms []*terminal) {
	leader := c.Leader()
	if leader < 0 {
		t.Fatal("no leader to kill")
	}
	c.Stop(leader)
	killedAt := time.Now()
	waitFor(t, 30*time.Second, func() bool { l := c.Leader(); return l >= 0 && l != leader })
	t.Logf("leader killed (SIGKILL): a new leader %s later", time.Since(killedAt).Round(time.Millisecond))
	var killed, down spread
	killed.revoke(t, dir, terms, 20)
	killed.report(t, fmt.Sprintf("then a revocation: written in %s; committed to %d mirrors",
		killed.written[0].Round(time.Millisecond), len(terms)), killed.committed)
	down.revoke(t, dir, terms, 21)
	down.report(t, fmt.Sprintf("with that member still down, a revocation: written in %s; committed to %d mirrors",
		down.written[0].Round(time.Millisecond), len(terms)), down.committed)
	c.Restart(leader)
	for _, term := range terms {
		if st := term.agent.Status(); st.Reloads != 1 {
			t.Errorf("%s: %d full loads, want 1 (the one at its start)", term.name, st.Reloads)
		}
	}
}

// requests counts, from the members' metrics, the reads they answered
// and the messages their watch streams received (progress requests, when
// nothing else is asked).
type requests struct {
	t            testing.TB
	c            *fleettest.Cluster
	start        time.Time
	reads, watch float64
}

func countRequests(t testing.TB, c *fleettest.Cluster) *requests {
	r := &requests{t: t, c: c, start: time.Now()}
	r.reads, r.watch = r.now()
	return r
}

func (r *requests) now() (reads, watch float64) {
	eps := r.c.Endpoints()
	if r.c.PIDs()[0] == 0 {
		// Members in this process share its metrics: count them once.
		eps = eps[:1]
	}
	for _, ep := range eps {
		resp, err := http.Get(ep + "/metrics")
		if err != nil {
			r.t.Fatalf("member metrics: %v", err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			r.t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			name, value, ok := strings.Cut(line, " ")
			v, err := strconv.ParseFloat(value, 64)
			switch {
			case !ok || err != nil:
			case strings.HasPrefix(name, "grpc_server_started_total{") && strings.Contains(name, `grpc_method="Range"`):
				reads += v
			case strings.HasPrefix(name, "grpc_server_msg_received_total{") && strings.Contains(name, `grpc_method="Watch"`):
				watch += v
			}
		}
	}
	return reads, watch
}

func (r *requests) report(t testing.TB, agents int) {
	t.Helper()
	reads, watch := r.now()
	per := float64(agents) * time.Since(r.start).Seconds()
	t.Logf("requests to the members, idle: %.2f reads and %.2f watch messages (progress requests) per agent per second",
		(reads-r.reads)/per, (watch-r.watch)/per)
}

// profileCPU starts a CPU profile of this process when
// PASSKIOSK_FLEET_CPUPROFILE names a file (suffix added to its name) and
// returns what stops it: the revocations are profiled to that file, the
// idle agents to the file with ".idle".
func profileCPU(t *testing.T, suffix string) (stop func()) {
	path := os.Getenv("PASSKIOSK_FLEET_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// cpuMeter measures the CPU time this process and the member processes
// use from its start.
type cpuMeter struct {
	pids  []int
	start time.Time
	self  time.Duration
	procs []time.Duration
}

func startCPU(c *fleettest.Cluster) *cpuMeter {
	m := &cpuMeter{pids: c.PIDs(), start: time.Now(), self: cpuOf(os.Getpid())}
	for _, pid := range m.pids {
		m.procs = append(m.procs, cpuOf(pid))
	}
	return m
}

func (m *cpuMeter) report(t *testing.T, what string) {
	t.Helper()
	wall := time.Since(m.start).Seconds()
	line := fmt.Sprintf("CPU %s (%.1f s): test process (agents, clients) %.2f cores", what, wall, (cpuOf(os.Getpid())-m.self).Seconds()/wall)
	for i, pid := range m.pids {
		if pid != 0 {
			line += fmt.Sprintf(", member %d %.2f cores (%s resident)", i, (cpuOf(pid)-m.procs[i]).Seconds()/wall, rssOf(pid))
		}
	}
	t.Log(line)
}

// rssOf is process pid's resident memory as /proc says it (VmRSS).
func rssOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// cpuOf is the user and system CPU time process pid has used (0 for pid
// 0 or a process that is gone).
func cpuOf(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) in parentheses;
	// utime and stime are the 14th and 15th, in clock ticks (100 a second).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// BenchmarkApplyRevocation is one terminal's part of a revocation: a
// watch response revoking one key, applied to a mirror of 1,000 people
// and 2,000 keys in a bbolt file on disk (one transaction, fsynced). It
// reports the bytes the process wrote per revocation as well.
func BenchmarkApplyRevocation(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "t.db"), store.Options{LockTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	full := store.MirrorBatch{Revision: 1, Full: true, Terminal: "t1"}
	const people = 1000
	for i := range people {
		full.Users = append(full.Users, person(i))
		full.Credentials = append(full.Credentials, key(2*i, i), key(2*i+1, i))
	}
	if _, err := db.ApplyMirror(full); err != nil {
		b.Fatal(err)
	}
	written := writeBytes()
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%(2*people) == 0 {
			b.StopTimer()
			full.Revision = int64(i + 1)
			if _, err := db.ApplyMirror(full); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		c := key(i%(2*people), i%(2*people)/2)
		res, err := db.ApplyMirror(store.MirrorBatch{Revision: int64(i + 2), Terminal: "t1",
			Revoked: []store.Revocation{{CredentialID: c.ID, By: "it", Reason: "lost"}}})
		if err != nil || len(res.Revoked) != 1 {
			b.Fatalf("revocation %d: %v, %d revoked", i, err, len(res.Revoked))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(writeBytes()-written)/float64(b.N), "written-B/op")
}

// writeBytes is what this process has caused to be written to storage
// (/proc/self/io), or 0 where that is not known.
func writeBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
