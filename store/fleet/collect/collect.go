package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
	"passkiosk/store/fleet"
)

// Defaults for Options' zero fields.
const (
	DefaultBatch       = 500
	DefaultWorkers     = 4
	DefaultRescan      = 30 * time.Second
	DefaultTimeout     = 5 * time.Second
	DefaultRetry       = time.Second
	DefaultDeleteEvery = 500 * time.Millisecond
)

// Options tune New. Only Dir is required.
type Options struct {
	// Dir is the archive: one <terminal>.jsonl per terminal (mode 0600;
	// the directory is made 0700 if missing). It must outlive etcd: back
	// it up, not the cluster's copies, which are deleted once archived.
	Dir string
	// Batch is how many entries one read from etcd returns; 0 means
	// DefaultBatch. Each batch is one fsync and one delete.
	Batch int
	// Workers is how many terminals are drained at once; 0 means
	// DefaultWorkers.
	Workers int
	// Rescan is how often every terminal is looked at even without a
	// watch event, in case one was missed; 0 means DefaultRescan.
	Rescan time.Duration
	// Timeout bounds each request to the cluster; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retry is the wait before a terminal whose drain failed is tried
	// again; 0 means DefaultRetry.
	Retry time.Duration
	// DeleteEvery is how often archived entries are deleted from etcd,
	// up to 100 terminals' ranges in one transaction; 0 means
	// DefaultDeleteEvery.
	DeleteEvery time.Duration
	// Spikes are the failure-spike thresholds; the zero value turns all
	// checks off (DefaultThresholds is a starting point).
	Spikes Thresholds
	// Alarm, if set, receives every alarm: a terminal's chain broken or
	// forked as the collector sees it (Event kiosk.EventAuditChainBroken),
	// a fork a terminal's shipper reported (kiosk.EventAuditFork) and
	// failure spikes (kiosk.EventFailureSpike). It runs on a worker or
	// the watch: keep it short.
	Alarm func(Alarm)
	// Archived, if set, is called with every batch once it is on disk
	// (SIEM forwarding, metrics). It runs on a worker: keep it short.
	Archived func(terminal string, entries []auditfile.Entry)
	// Logger receives the collector's log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Alarm is something IT must look at.
type Alarm struct {
	Event    kiosk.Event // EventAuditChainBroken, EventAuditFork (a terminal's report) or EventFailureSpike
	Terminal string
	Seq      uint64 // the refused entry (chain alarms)
	Reason   string // chain alarms: gap, hash, fork, moved, canonical, decode, archive
	Message  string
	Spike    *Spike
}

// TerminalStatus is one terminal's archive.
type TerminalStatus struct {
	Last     uint64 // the newest archived entry
	Entries  int
	LastHash []byte
	Stopped  *Alarm // non-nil: archiving stopped at Last
}

// Collector archives the fleet's shipped audit entries.
type Collector struct {
	cl    *clientv3.Client
	o     Options
	log   *slog.Logger
	spk   *spikes
	sites sites
	q     *queue
	del   *deleter

	mu    sync.Mutex
	terms map[string]*term
	forks map[string]int64 // the audit-fork reports alarmed, by terminal: their mod revision
}

// term is one terminal's state; its archive is appended to by one
// worker at a time (queue).
type term struct {
	name    string
	arc     *archiveFile
	clean   bool        // etcd holds no entry at or before the archive's last, or they are being deleted
	recheck atomic.Bool // a delete found a range changed: look at it again
	stopped *Alarm
}

// New opens the archive in o.Dir and checks every file in it
// (auditfile.Verify); a file that fails stops its terminal with an alarm
// raised when Run starts. cl should name every member's endpoint and
// hold a role that may read and delete term/*/audit/ and read
// dir/terminals/.
func New(cl *clientv3.Client, o Options) (*Collector, error) {
	if o.Dir == "" || cl == nil {
		return nil, errors.New("fleet audit collector: an archive directory and an etcd client are needed")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	o.Batch = kiosk.OrDefault(o.Batch, DefaultBatch)
	o.Workers = kiosk.OrDefault(o.Workers, DefaultWorkers)
	o.Rescan = kiosk.OrDefault(o.Rescan, DefaultRescan)
	o.Timeout = kiosk.OrDefault(o.Timeout, DefaultTimeout)
	o.Retry = kiosk.OrDefault(o.Retry, DefaultRetry)
	o.DeleteEvery = kiosk.OrDefault(o.DeleteEvery, DefaultDeleteEvery)
	c := &Collector{cl: cl, o: o, log: kiosk.LogOr(o.Logger), spk: newSpikes(o.Spikes), q: newQueue(), del: newDeleter(), terms: map[string]*term{}, forks: map[string]int64{}}
	names, err := archivedNames(o.Dir)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if fleet.ValidTerminalName(name) != nil {
			continue
		}
		c.open(name)
	}
	return c, nil
}

// open returns terminal name's state, opening its archive on first use.
func (c *Collector) open(name string) *term {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.terms[name]; t != nil {
		return t
	}
	t := &term{name: name}
	arc, repaired, err := openArchive(c.o.Dir, name)
	if err != nil {
		t.stopped = &Alarm{Event: kiosk.EventAuditChainBroken, Terminal: name, Reason: "archive",
			Message: fmt.Sprintf("the archive does not verify; nothing more is archived for this terminal: %v", err)}
	} else {
		t.arc = arc
		if repaired != "" {
			c.log.Warn("fleet audit: archive repaired", "terminal", name, "what", repaired)
		}
	}
	c.terms[name] = t
	return t
}

// Status returns every terminal's archive state.
func (c *Collector) Status() map[string]TerminalStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]TerminalStatus, len(c.terms))
	for name, t := range c.terms {
		var st TerminalStatus
		if t.arc != nil {
			st.Last, st.LastHash, st.Entries = t.arc.head()
		}
		if t.stopped != nil {
			a := *t.stopped
			st.Stopped = &a
		}
		out[name] = st
	}
	return out
}

// Close closes the archive files. Call it after Run returned.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for _, t := range c.terms {
		if t.arc != nil {
			if err := t.arc.close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Run collects until ctx ends and returns ctx's error: it finds every
// terminal with shipped entries, watches term/ for more (and dir/terminals/
// for sites), and drains each terminal that has news on o.Workers
// workers. Failures of the cluster are retried for as long as they last.
func (c *Collector) Run(ctx context.Context) error {
	for _, t := range c.snapshot() {
		if t.stopped != nil {
			c.alarm(*t.stopped)
		}
		c.q.mark(t.name)
	}
	var wg sync.WaitGroup
	for range c.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.work(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.deletes(ctx)
	}()
	c.follow(ctx)
	c.q.close()
	wg.Wait()
	return ctx.Err()
}

func (c *Collector) snapshot() []*term {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*term, 0, len(c.terms))
	for _, t := range c.terms {
		out = append(out, t)
	}
	return out
}

func (c *Collector) alarm(a Alarm) {
	if a.Event == kiosk.EventAuditFork {
		c.log.Error("fleet audit: FORK: a terminal's audit log no longer continues what it shipped; it stopped shipping until IT resolves it",
			"terminal", a.Terminal, "seq", a.Seq, "reason", a.Reason, "detail", a.Message)
	} else if a.Event == kiosk.EventAuditChainBroken {
		c.log.Error("fleet audit: CHAIN BROKEN: a terminal's shipped audit log was refused; its archive stops at the last good entry until IT resolves it",
			"terminal", a.Terminal, "seq", a.Seq, "reason", a.Reason, "detail", a.Message)
	} else {
		c.log.Warn("fleet audit: failure spike", "by", a.Spike.By, "key", a.Spike.Key, "failures", a.Spike.Failures,
			"terminals", a.Spike.Terminals, "from", a.Spike.From, "to", a.Spike.To)
	}
	if c.o.Alarm != nil {
		c.o.Alarm(a)
	}
}

// work drains the terminals the queue hands out.
func (c *Collector) work(ctx context.Context) {
	for {
		name, ok := c.q.next()
		if !ok {
			return
		}
		err := c.drain(ctx, c.open(name))
		c.q.done(name)
		if err != nil && ctx.Err() == nil {
			c.log.Debug("fleet audit: draining a terminal failed; retrying", "terminal", name, "err", err)
			time.AfterFunc(c.o.Retry, func() { c.q.mark(name) })
		}
	}
}
