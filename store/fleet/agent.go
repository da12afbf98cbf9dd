package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// Options configure an Agent.
type Options struct {
	// Client reaches the cluster on every member's endpoint; the agent
	// does not close it.
	Client *clientv3.Client
	// DB is the terminal's store, which holds the mirror.
	DB *store.DB
	// Terminal is this terminal's fleet name (its etcd user), written to
	// its heartbeat and audit entries.
	Terminal string
	// Probe paces the agent's questions to a silent cluster; 0 means
	// 1 s. OfflineAfter without any answer the terminal counts as offline
	// since the last one; 0 means 3 × Probe. After OfflineAfter/2 of
	// silence the agent asks for a progress notification, and after
	// Probe/2 more without one it asks with a read.
	Probe        time.Duration
	OfflineAfter time.Duration
	// Confirm is how often, at most, the mirror's "current at" time is
	// written while nothing changes; 0 means one minute.
	Confirm time.Duration
	// Heartbeat is how often the terminal's heartbeat is written under
	// its lease; 0 means 10 s, negative switches heartbeats off.
	Heartbeat time.Duration
	// PageSize bounds each read of a full load; 0 means 5000 keys
	// (about a megabyte: ten thousand people with two keys each load in
	// 6 reads rather than 30, a quarter to a third faster on a loaded
	// machine).
	PageSize int64
	// OnApplied is called after every batch committed to the store, on
	// the agent's goroutine: the appliance ends a revoked person's
	// session and applies a new policy from here. It must not block.
	OnApplied func(store.MirrorApplied)
	// OnReceive, when set, is called with a watch response's revision as
	// it arrives, before it is applied (measurements only).
	OnReceive func(rev int64)
	// OnStatus is called when the agent goes online or offline, and
	// when the mirror becomes stale.
	OnStatus func(Status)
	// MaxAge is how old the mirror may grow offline before Status.Stale
	// (config fleet.offline_max_age); 0 means 24 h.
	MaxAge time.Duration
	Now    func() time.Time
	Log    *slog.Logger
}

// Status is where the agent stands.
type Status struct {
	Online bool
	// OfflineSince is the last answer from the cluster, when offline (or
	// the agent's start, if it never had one).
	OfflineSince time.Time
	// Revision is the directory's revision the mirror holds; Current is
	// when the mirror was last known to match the directory.
	Revision int64
	Current  time.Time
	// Reloads counts full loads since the agent started.
	Reloads int
	// Stale: offline, and the mirror is older than Options.MaxAge.
	Stale bool
}

// Agent keeps the terminal's mirror of the directory.
type Agent struct {
	opts Options

	mu         sync.Mutex
	st         Status
	lastAnswer time.Time
	confirmed  time.Time // last ConfirmMirror or batch
	reload     bool
	watches    uint64 // watches opened, on Run's goroutine only

	seen chan Seen // counter observations to write (clone.go)
}

// NewAgent returns an agent; Run starts it.
func NewAgent(opts Options) (*Agent, error) {
	if opts.Client == nil || opts.DB == nil {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "fleet agent", "needs a client and a store")
	}
	if opts.Probe <= 0 {
		opts.Probe = time.Second
	}
	if opts.OfflineAfter <= 0 {
		opts.OfflineAfter = 3 * opts.Probe
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.Confirm <= 0 {
		opts.Confirm = time.Minute
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 10 * time.Second
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Log = kiosk.LogOr(opts.Log)
	if opts.OnApplied == nil {
		opts.OnApplied = func(store.MirrorApplied) {}
	}
	if opts.OnStatus == nil {
		opts.OnStatus = func(Status) {}
	}
	ms, err := opts.DB.MirrorState()
	if err != nil {
		return nil, err
	}
	a := &Agent{opts: opts, seen: make(chan Seen, 256)}
	// Until the cluster answers, the terminal is offline since its start
	// (or since the mirror was last current, if that is known).
	since := ms.Current
	if since.IsZero() {
		since = opts.Now()
	}
	a.st = Status{OfflineSince: since, Revision: ms.Revision, Current: ms.Current}
	a.lastAnswer = since
	return a, nil
}

// SetHooks replaces Options.OnApplied and Options.OnStatus (nil keeps
// one), for an appliance whose engine exists only after the agent: call
// it before Run.
func (a *Agent) SetHooks(onApplied func(store.MirrorApplied), onStatus func(Status)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if onApplied != nil {
		a.opts.OnApplied = onApplied
	}
	if onStatus != nil {
		a.opts.OnStatus = onStatus
	}
}

// Status is where the agent stands now.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st
}

// errWatchEnded is a watch channel that closed without saying why;
// errWatchSilent one that gave no answer for too long.
var (
	errWatchEnded  = errors.New("watch ended")
	errWatchSilent = errors.New("watch silent")
)

// silentFor is how long the cluster has not answered.
func (a *Agent) silentFor() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.opts.Now().Sub(a.lastAnswer)
}

// Run keeps the mirror until ctx ends: a full load when the mirror is
// empty or its revision was compacted, then a watch from the saved
// revision, watched again whenever it ends. Every wait is bounded; the
// retry delay grows to at most two seconds.
func (a *Agent) Run(ctx context.Context) {
	go a.monitor(ctx)
	if a.opts.Heartbeat > 0 && a.opts.Terminal != "" {
		go a.heartbeats(ctx)
	}
	if a.opts.Terminal != "" {
		go a.observations(ctx)
	}
	delay := 50 * time.Millisecond
	for ctx.Err() == nil {
		var err error
		if a.needsLoad() {
			err = a.load(ctx)
		} else {
			err = a.watch(ctx)
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, rpctypes.ErrCompacted):
			a.opts.Log.Warn("fleet: the mirror's revision was compacted; loading the directory in full", "revision", a.Status().Revision)
			a.mu.Lock()
			a.reload = true
			a.mu.Unlock()
			continue
		case err != nil:
			a.opts.Log.Debug("fleet: directory unavailable", "err", err)
		default:
			delay = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

func (a *Agent) needsLoad() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reload || a.st.Revision == 0
}

// load reads the whole directory at one revision, page by page, and
// applies it as a full reload.
func (a *Agent) load(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	end := clientv3.GetPrefixRangeEnd(DirPrefix)
	var (
		rev  int64
		b    = newBatch()
		from = DirPrefix
	)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(a.opts.PageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := a.opts.Client.Get(ctx, from, opts...)
		if err != nil {
			return fmt.Errorf("loading the directory: %w", err)
		}
		a.answered()
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			b.put(string(kv.Key), kv.Value)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	mb := b.mirrorBatch(rev, true, a.opts.Terminal, a.opts.Log)
	res, err := a.opts.DB.ApplyMirror(mb)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.reload = false
	a.st.Revision, a.st.Current = rev, a.opts.Now()
	a.st.Reloads++
	a.confirmed = a.st.Current
	a.mu.Unlock()
	a.opts.Log.Info("fleet: mirror loaded in full", "revision", rev, "users", res.Users, "credentials", res.Creds)
	a.opts.OnApplied(res)
	return nil
}

// watch follows the directory from the saved revision until the watch
// ends, applying each response as one batch.
func (a *Agent) watch(ctx context.Context) error {
	// The client files watch streams by their context's metadata, and
	// reuses a stream for every watch with the same: after the server
	// cancelled one for want of a leader, watches opened again on it
	// stayed silent. Each watch therefore gets a stream of its own.
	a.watches++
	wctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(clientv3.WithRequireLeader(ctx),
		"passkiosk-watch", strconv.FormatUint(a.watches, 10)))
	defer cancel()
	// The watch starts at the revision the mirror holds, not the one
	// after it: etcd answers progress requests only on watches whose
	// start revision it has reached, so a watch from the revision after
	// the newest got no progress notification until something anywhere
	// in the cluster was written, and the agent had to ask with reads.
	// The events of the held revision, already applied, are skipped.
	from := a.Status().Revision
	wch := a.opts.Client.Watch(wctx, DirPrefix, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithProgressNotify())
	// The probe looks every half period: a progress request unanswered
	// is followed by a read half a period later.
	probe := time.NewTicker(a.opts.Probe / 2)
	defer probe.Stop()
	p := &prober{a: a, wctx: wctx, pinged: a.opts.Now(), asking: make(chan struct{}, 1)}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-probe.C:
			if err := p.probe(ctx); err != nil {
				return err
			}
		case resp, ok := <-wch:
			if !ok {
				return errWatchEnded
			}
			if resp.CompactRevision != 0 {
				return rpctypes.ErrCompacted
			}
			if err := resp.Err(); err != nil {
				return err
			}
			a.answered()
			p.heard()
			if len(resp.Events) == 0 {
				if r := resp.Header.Revision; r != 0 && r < from {
					return a.wentBack(r)
				}
				a.progress(resp.Header.Revision)
				continue
			}
			if a.opts.OnReceive != nil {
				a.opts.OnReceive(resp.Events[len(resp.Events)-1].Kv.ModRevision)
			}
			if err := a.applyEvents(resp.Events); err != nil {
				return err
			}
		}
	}
}

// prober keeps an idle watch talking: once the silence reaches half the
// offline limit (1.5 s by default) it asks the watch for a progress
// notification, and when that goes unanswered for half a probe period it
// asks the cluster with a read. A healthy cluster answers the progress
// request within milliseconds, so an idle terminal sends one request
// every two seconds or so and reads only when its watch stopped talking.
// (The first version asked after a period of silence and read whenever
// the silence passed half the offline limit, which its own rhythm of
// requests did every other period: five hundred terminals made a
// linearizable read counting the whole directory every two seconds
// each, for nothing.)
type prober struct {
	a      *Agent
	wctx   context.Context // the watch's own context
	asked  time.Time       // the progress request not yet answered (zero: none)
	pinged time.Time       // the last read
	pings  int             // reads answered since the watch last said anything
	asking chan struct{}   // holds the request in flight
}

// heard notes a response on the watch.
func (p *prober) heard() {
	p.asked, p.pings = time.Time{}, 0
}

func (p *prober) probe(ctx context.Context) error {
	a := p.a
	if a.silentFor() < a.opts.OfflineAfter/2 {
		return nil // the cluster's own notifications, or an answer, are recent enough
	}
	now := a.opts.Now()
	// A progress request unanswered for half a period, or one that could
	// not be sent: ask with a read, which needs a leader and a quorum as
	// the watch does. (etcd withholds progress from a watch it has not
	// caught up with, and a stream may go quiet when members restart.)
	stuck := !p.asked.IsZero() && now.Sub(p.asked) >= a.opts.Probe/2
	if stuck && now.Sub(p.pinged) > a.opts.OfflineAfter/2 {
		p.pinged = now
		if err := a.ping(ctx); err != nil {
			return err
		}
		// A watch that stays silent while reads are answered is opened
		// again now and then, in case it is the watch that is stuck
		// rather than the notifications.
		if p.pings++; p.pings >= 10 {
			return errWatchSilent
		}
	}
	if !p.asked.IsZero() && !stuck {
		return nil
	}
	// The request is sent on the watch's own context: the client files
	// streams by their context, and one made for a shorter-lived context
	// would be a stream of its own that dies with it. A stream that is
	// down holds the request until it is back or the watch ends, so at
	// most one is outstanding.
	select {
	case p.asking <- struct{}{}:
		p.asked = now
		go func() {
			_ = a.opts.Client.RequestProgress(p.wctx)
			<-p.asking
		}()
	default:
	}
	return nil
}

// applyEvents applies one watch response. Its revision is its last
// event's: everything up to it has been delivered. Events at or below
// the revision the mirror holds are already in it (the watch starts at
// that revision).
func (a *Agent) applyEvents(evs []*clientv3.Event) error {
	b := newBatch()
	held := a.Status().Revision
	var rev int64
	for _, ev := range evs {
		if ev.Kv.ModRevision <= held {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			b.del(string(ev.Kv.Key))
		} else {
			b.put(string(ev.Kv.Key), ev.Kv.Value)
		}
		rev = max(rev, ev.Kv.ModRevision)
	}
	if rev == 0 {
		return nil
	}
	res, err := a.opts.DB.ApplyMirror(b.mirrorBatch(rev, false, a.opts.Terminal, a.opts.Log))
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.st.Revision, a.st.Current = rev, a.opts.Now()
	a.confirmed = a.st.Current
	a.mu.Unlock()
	a.opts.OnApplied(res)
	return nil
}

// ping reads the directory's revision. An answer counts as one from the
// cluster. A directory at a revision below the mirror's went back in time
// (restored from a backup, or it lost its last writes): a watch from the
// future never answers, so the mirror is loaded in full.
func (a *Agent) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.OfflineAfter)
	defer cancel()
	// One key (the prefix itself, which holds nothing): its answer's
	// header carries the revision, and counting the whole directory
	// would cost the member a walk over every key.
	r, err := a.opts.Client.Get(ctx, DirPrefix, clientv3.WithCountOnly())
	if err != nil {
		return errWatchSilent
	}
	a.answered()
	if r.Header.Revision < a.Status().Revision {
		return a.wentBack(r.Header.Revision)
	}
	// The read's revision is not the watch's: events up to it may still
	// be on their way, so it is not saved as the mirror's.
	return nil
}

// wentBack asks for a full load: the directory is at revision rev, below
// the mirror's.
func (a *Agent) wentBack(rev int64) error {
	a.opts.Log.Warn("fleet: the directory is at an older revision than the mirror (restored from a backup?); loading it in full",
		"directory", rev, "mirror", a.Status().Revision)
	a.mu.Lock()
	a.reload = true
	a.mu.Unlock()
	return errWatchSilent
}

// progress notes a progress notification at rev: nothing in the
// directory changed up to rev. It is written down about once per
// Options.Confirm.
func (a *Agent) progress(rev int64) {
	now := a.opts.Now()
	a.mu.Lock()
	due := now.Sub(a.confirmed) >= a.opts.Confirm
	a.st.Current = now
	if due {
		a.confirmed = now
		a.st.Revision = max(a.st.Revision, rev)
	}
	a.mu.Unlock()
	if due {
		if err := a.opts.DB.ConfirmMirror(rev, now); err != nil {
			a.opts.Log.Error("fleet: recording the mirror's progress", "err", err)
		}
	}
}

// answered notes an answer from the cluster, and the way back online.
func (a *Agent) answered() {
	now := a.opts.Now()
	a.mu.Lock()
	a.lastAnswer = now
	back := !a.st.Online
	var was time.Time
	if back {
		was = a.st.OfflineSince
		a.st.Online, a.st.OfflineSince, a.st.Stale = true, time.Time{}, false
	}
	st := a.st
	a.mu.Unlock()
	if back {
		a.audit(kiosk.EventFleetOnline, map[string]string{"offline-since": was.UTC().Format(time.RFC3339)})
		a.opts.OnStatus(st)
	}
}

// monitor turns a silence longer than OfflineAfter into "offline since
// the last answer".
func (a *Agent) monitor(ctx context.Context) {
	kiosk.Every(ctx, a.opts.Probe/2, a.checkSilence)
}

// checkSilence is one look of monitor: offline after OfflineAfter without
// an answer, stale past MaxAge; each change audited once and reported.
func (a *Agent) checkSilence() {
	now := a.opts.Now()
	a.mu.Lock()
	gone := a.st.Online && now.Sub(a.lastAnswer) > a.opts.OfflineAfter
	if gone {
		a.st.Online, a.st.OfflineSince = false, a.lastAnswer
	}
	current := a.st.Current
	if current.IsZero() {
		current = a.st.OfflineSince
	}
	stale := !a.st.Online && now.Sub(current) > a.opts.MaxAge
	staled := stale && !a.st.Stale
	a.st.Stale = stale
	st := a.st
	a.mu.Unlock()
	if gone {
		a.opts.Log.Warn("fleet: directory unreachable; signing people in from the mirror", "since", st.OfflineSince)
		a.audit(kiosk.EventFleetOffline, map[string]string{"last-answer": st.OfflineSince.UTC().Format(time.RFC3339),
			"revision": fmt.Sprint(st.Revision)})
	}
	if staled {
		a.opts.Log.Warn("fleet: the mirror is older than the offline limit", "current", current, "limit", a.opts.MaxAge)
		a.audit(kiosk.EventFleetOffline, map[string]string{"stale": "true", "current": current.UTC().Format(time.RFC3339),
			"max-age": a.opts.MaxAge.String()})
	}
	if gone || staled {
		a.opts.OnStatus(st)
	}
}

func (a *Agent) audit(typ kiosk.Event, detail map[string]string) {
	if _, err := a.opts.DB.Append(store.AuditEvent{Type: typ, Actor: "fleet", Terminal: a.opts.Terminal, Detail: detail}); err != nil {
		a.opts.Log.Error("fleet: audit", "event", typ, "err", err)
	}
}
