package ship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/fleet"
)

// Defaults for Options' zero fields.
const (
	// DefaultBatch is the most entries one transaction carries: etcd's
	// default --max-txn-ops is 128, and a batch of n entries needs n+1
	// comparisons and n+1 puts.
	DefaultBatch = 127
	// DefaultMaxBatchBytes keeps a transaction below etcd's default
	// --max-request-bytes (1.5 MiB) with room for keys and framing; an
	// entry is at most store.MaxEventBytes.
	DefaultMaxBatchBytes = 1 << 20
	DefaultTimeout       = 5 * time.Second
	DefaultRetryMin      = 100 * time.Millisecond
	DefaultRetryMax      = 5 * time.Second
	DefaultForkRecheck   = time.Minute
)

// Log is the terminal's audit log; *store.DB is one.
type Log interface {
	Events(from uint64, limit int) ([]store.AuditEvent, error)
	AuditHead() (seq uint64, hash []byte, err error)
	Append(store.AuditEvent) (uint64, error)
	Written() <-chan struct{}
}

// Options tune New. Only Name is required.
type Options struct {
	// Name is the terminal's fleet name: its etcd user and its key
	// segment under term/ (fleet.ValidTerminalName).
	Name string
	// Batch is the most entries per transaction; 0 means DefaultBatch.
	// More than the cluster's --max-txn-ops minus one is refused by etcd.
	Batch int
	// MaxBatchBytes bounds a transaction's entry bytes; 0 means
	// DefaultMaxBatchBytes.
	MaxBatchBytes int
	// Timeout bounds each request to the cluster; 0 means DefaultTimeout.
	Timeout time.Duration
	// RetryMin and RetryMax bound the backoff after a failed request;
	// zero means DefaultRetryMin and DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// ForkRecheck is how often a stopped shipper looks again; 0 means
	// DefaultForkRecheck.
	ForkRecheck time.Duration
	// Logger receives the shipper's log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Status is what the shipper last knew.
type Status struct {
	Shipped   uint64    // the cluster's head for this terminal
	Local     uint64    // the local head when last read
	At        time.Time // when a batch last landed
	Online    bool      // the last request to the cluster succeeded
	LastError string
	Fork      *Fork // non-nil: shipping stopped (package doc)
}

// Fork says why shipping stopped.
type Fork struct {
	Reason      string // behind, differs, exists or pruned
	ShippedSeq  uint64
	ShippedHash []byte
	LocalSeq    uint64
	LocalHash   []byte
}

func (f Fork) String() string {
	return fmt.Sprintf("%s: shipped head %d (%x), local entry %d (%x)", f.Reason, f.ShippedSeq, short(f.ShippedHash), f.LocalSeq, short(f.LocalHash))
}

func short(h []byte) []byte { return h[:min(len(h), 8)] }

var errForked = errors.New("audit chain forked")

// Shipper ships one terminal's audit log. Run it once.
type Shipper struct {
	db  Log
	cl  *clientv3.Client
	o   Options
	log *slog.Logger

	remote  remote // the cluster's head as last read or written
	alarmed string // the fork already alarmed
	report  *Fork  // the fork still to be put under audit-fork

	mu sync.Mutex
	st Status
}

// remote is the cluster's audit-head: unknown until read, absent before
// the first batch.
type remote struct {
	known, present bool
	head           fleet.AuditHead
	raw            []byte
}

// New makes a shipper for db over cl. cl should name every member's
// endpoint (fleet's client configuration does), so one member down does
// not stop shipping.
func New(db Log, cl *clientv3.Client, o Options) (*Shipper, error) {
	if err := fleet.ValidTerminalName(o.Name); err != nil {
		return nil, err
	}
	if db == nil || cl == nil {
		return nil, errors.New("fleet audit shipping: a store and an etcd client are needed")
	}
	o.Batch = kiosk.OrDefault(o.Batch, DefaultBatch)
	o.MaxBatchBytes = kiosk.OrDefault(o.MaxBatchBytes, DefaultMaxBatchBytes)
	o.Timeout = kiosk.OrDefault(o.Timeout, DefaultTimeout)
	o.RetryMin = kiosk.OrDefault(o.RetryMin, DefaultRetryMin)
	o.RetryMax = kiosk.OrDefault(o.RetryMax, DefaultRetryMax)
	o.ForkRecheck = kiosk.OrDefault(o.ForkRecheck, DefaultForkRecheck)
	return &Shipper{db: db, cl: cl, o: o, log: kiosk.LogOr(o.Logger).With("terminal", o.Name)}, nil
}

// Status returns what the shipper last knew.
func (s *Shipper) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	if st.Fork != nil {
		f := *st.Fork
		st.Fork = &f
	}
	return st
}

// Run ships until ctx ends, and returns ctx's error. Failures of the
// cluster are retried with backoff for as long as they last; a fork stops
// shipping (package doc) until it is resolved.
func (s *Shipper) Run(ctx context.Context) error {
	retry := s.o.RetryMin
	failures := 0
	for {
		written := s.db.Written() // taken before reading: no write is missed
		err := s.shipAll(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var wait <-chan time.Time
		switch {
		case errors.Is(err, errForked):
			s.reportFork(ctx)
			s.remote.known = false
			written = nil // its own alarm and later entries change nothing
			wait = time.After(s.o.ForkRecheck)
		case err != nil:
			s.remote.known = false
			failures++
			if failures == 1 {
				s.log.Warn("fleet audit: shipping failed; retrying with backoff", "err", err)
			}
			s.setErr(err)
			wait = time.After(retry)
			retry = min(2*retry, s.o.RetryMax)
			written = nil
		default:
			if failures > 0 {
				s.log.Info("fleet audit: shipping again", "failures", failures)
			}
			failures, retry = 0, s.o.RetryMin
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-written:
		case <-wait:
		}
	}
}

// reportFork puts the fork under term/<name>/audit-fork, where the
// fleet's collector raises the alarm; a failure is tried again at the
// next look.
func (s *Shipper) reportFork(ctx context.Context) {
	if s.report == nil {
		return
	}
	f := s.report
	v, err := fleet.EncodeAuditFork(fleet.AuditFork{Reason: f.Reason, ShippedSeq: f.ShippedSeq, ShippedHash: f.ShippedHash,
		LocalSeq: f.LocalSeq, LocalHash: f.LocalHash, At: time.Now()})
	if err != nil {
		s.log.Error("fleet audit: encoding the fork", "err", err)
		s.report = nil
		return
	}
	tctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), s.o.Timeout)
	defer cancel()
	if _, err := s.cl.Put(tctx, fleet.AuditForkKey(s.o.Name), string(v)); err != nil {
		s.log.Warn("fleet audit: the fork could not be reported to the fleet; trying again later", "err", err)
		return
	}
	s.report = nil
}

func (s *Shipper) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Online, s.st.LastError = false, err.Error()
}

// shipAll ships every local entry after the cluster's head.
func (s *Shipper) shipAll(ctx context.Context) error {
	for {
		if !s.remote.known {
			if err := s.readHead(ctx); err != nil {
				return err
			}
		}
		batch, err := s.next()
		if err != nil || len(batch) == 0 {
			return err
		}
		if err := s.put(ctx, batch); err != nil {
			return err
		}
	}
}

// readHead reads the cluster's audit-head.
func (s *Shipper) readHead(ctx context.Context) error {
	tctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), s.o.Timeout)
	defer cancel()
	r, err := s.cl.Get(tctx, fleet.AuditHeadKey(s.o.Name))
	if err != nil {
		return fmt.Errorf("read the shipped audit head: %w", err)
	}
	var raw []byte
	if len(r.Kvs) > 0 {
		raw = r.Kvs[0].Value
	}
	return s.setRemote(raw)
}

func (s *Shipper) setRemote(raw []byte) error {
	rm := remote{known: true, present: raw != nil, raw: raw}
	if raw != nil {
		h, err := fleet.DecodeAuditHead(raw)
		if err != nil {
			return fmt.Errorf("the shipped audit head %s: %w", fleet.AuditHeadKey(s.o.Name), err)
		}
		rm.head = h
	}
	s.remote = rm
	s.mu.Lock()
	s.st.Shipped, s.st.Online, s.st.LastError = rm.head.Seq, true, ""
	s.mu.Unlock()
	return nil
}
