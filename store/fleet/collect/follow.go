package collect

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store/fleet"
)

// follow finds the terminals with news until ctx ends: a scan of term/
// and dir/terminals/ at one revision, then watches from the revision after
// it. A watch that ends (a member gone, no leader, a compacted revision)
// is followed by a new scan; every o.Rescan every terminal is looked at
// again whatever the watches said.
func (c *Collector) follow(ctx context.Context) {
	retry := time.Duration(0)
	for ctx.Err() == nil {
		if retry > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
		}
		rev, err := c.scan(ctx)
		if err != nil {
			c.log.Debug("fleet audit: scanning the cluster failed; retrying", "err", err)
			retry = min(max(2*retry, 100*time.Millisecond), 5*time.Second)
			continue
		}
		retry = 0
		c.watch(ctx, rev+1)
	}
}

// scan marks every terminal that has shipped entries (and every one with
// an archive) and reads every terminal's site. It returns the revision
// it read at.
func (c *Collector) scan(ctx context.Context) (int64, error) {
	sites, err := c.get(ctx, fleet.TerminalKey(""), clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	rev := sites.Header.Revision
	for _, kv := range sites.Kvs {
		c.sites.set(string(kv.Key), kv.Value)
	}
	// Keys only, a page at a time, all at the sites' revision.
	key, end := fleet.TermPrefix, clientv3.GetPrefixRangeEnd(fleet.TermPrefix)
	seen := map[string]bool{}
	for {
		r, err := c.get(ctx, key, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(2000), clientv3.WithRev(rev))
		if err != nil {
			return 0, err
		}
		for _, kv := range r.Kvs {
			if name, _, ok := fleet.ParseAuditKey(string(kv.Key)); ok && !seen[name] {
				seen[name] = true
				c.q.mark(name)
			}
			if _, ok := fleet.ParseAuditForkKey(string(kv.Key)); ok {
				f, err := c.get(ctx, string(kv.Key), clientv3.WithRev(rev))
				if err != nil {
					return 0, err
				}
				for _, kv := range f.Kvs {
					c.forkReported(string(kv.Key), kv.Value, kv.ModRevision)
				}
			}
		}
		if !r.More || len(r.Kvs) == 0 {
			break
		}
		key = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
	for _, t := range c.snapshot() {
		c.q.mark(t.name)
	}
	return rev, nil
}

// watch marks terminals as their entries arrive until the watch ends,
// and scans again every o.Rescan.
func (c *Collector) watch(ctx context.Context, from int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	terms := c.cl.Watch(wctx, fleet.TermPrefix, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithFilterDelete())
	places := c.cl.Watch(wctx, fleet.TerminalKey(""), clientv3.WithPrefix(), clientv3.WithRev(from))
	rescan := time.NewTimer(c.o.Rescan)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-rescan.C:
			if _, err := c.scan(ctx); err != nil {
				return
			}
			rescan.Reset(c.o.Rescan)
		case r, ok := <-terms:
			if !ok || r.Err() != nil {
				return
			}
			for _, ev := range r.Events {
				if name, _, ok := fleet.ParseAuditKey(string(ev.Kv.Key)); ok {
					c.q.mark(name)
				}
				c.forkReported(string(ev.Kv.Key), ev.Kv.Value, ev.Kv.ModRevision)
			}
		case r, ok := <-places:
			if !ok || r.Err() != nil {
				return
			}
			for _, ev := range r.Events {
				var v []byte
				if ev.Type == clientv3.EventTypePut {
					v = ev.Kv.Value
				}
				c.sites.set(string(ev.Kv.Key), v)
			}
		}
	}
}

// forkReported raises the alarm for a fork a terminal's shipper reported
// under term/<name>/audit-fork, once per version of that key.
func (c *Collector) forkReported(key string, value []byte, rev int64) {
	name, ok := fleet.ParseAuditForkKey(key)
	if !ok {
		return
	}
	c.mu.Lock()
	seen := c.forks[name] == rev
	c.forks[name] = rev
	c.mu.Unlock()
	if seen {
		return
	}
	a := Alarm{Event: kiosk.EventAuditFork, Terminal: name, Reason: "fork"}
	f, err := fleet.DecodeAuditFork(value)
	if err != nil {
		a.Message = fmt.Sprintf("the terminal reported a fork that does not decode: %v", err)
	} else {
		a.Seq, a.Reason = f.LocalSeq, f.Reason
		a.Message = fmt.Sprintf("the terminal stopped shipping at %s: its chain does not continue the shipped head %d (%x); local entry %d (%x)",
			f.At.Format(time.RFC3339), f.ShippedSeq, f.ShippedHash, f.LocalSeq, f.LocalHash)
	}
	c.alarm(a)
}
