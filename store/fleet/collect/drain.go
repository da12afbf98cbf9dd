package collect

import (
	"bytes"
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
	"passkiosk/store/fleet"
)

// drain archives every entry terminal t has in etcd after its archive's
// last, a batch at a time: read, verify, append and fsync, then delete
// the batch from etcd. The first entry that fails verification stops the
// terminal there with an alarm; what came before it is archived.
func (c *Collector) drain(ctx context.Context, t *term) error {
	if t.stopped != nil {
		return nil
	}
	if t.recheck.Swap(false) {
		t.clean = false
	}
	if !t.clean {
		if err := c.cleanup(ctx, t); err != nil || t.stopped != nil {
			return err
		}
	}
	for {
		last, lastHash, n := t.arc.head()
		from := last + 1
		var prev []byte
		if n > 0 {
			prev = lastHash
		}
		resp, err := c.get(ctx, fleet.AuditKey(t.name, from), clientv3.WithRange(clientv3.GetPrefixRangeEnd(fleet.AuditPrefix(t.name))),
			clientv3.WithLimit(int64(c.o.Batch)))
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		var good []checked
		var bad *Alarm
		for _, kv := range resp.Kvs {
			_, seq, ok := fleet.ParseAuditKey(string(kv.Key))
			switch {
			case !ok:
				bad = &Alarm{Reason: "decode", Message: fmt.Sprintf("key %q is not an audit entry's", kv.Key)}
			case n > 0 && seq != from:
				bad = &Alarm{Seq: from, Reason: "gap", Message: fmt.Sprintf("entry %d is missing: the next shipped entry is %d", from, seq)}
			}
			if bad != nil {
				break
			}
			e, reason, err := verify(seq, kv.Value, prev)
			if err != nil {
				bad = &Alarm{Seq: seq, Reason: reason, Message: err.Error()}
				break
			}
			good = append(good, e)
			prev, from, n = e.wire.Hash, seq+1, n+1
		}
		if len(good) > 0 {
			if err := c.archive(t, good); err != nil {
				c.stop(t, Alarm{Seq: good[0].wire.Seq, Reason: "archive", Message: fmt.Sprintf("writing the archive: %v", err)})
				return nil
			}
			c.del.add(archived{t: t, first: string(resp.Kvs[0].Key), last: good[len(good)-1].wire.Seq, rev: resp.Header.Revision})
		}
		if bad != nil {
			c.stop(t, *bad)
			return nil
		}
		if !resp.More {
			return nil
		}
	}
}

// archive appends verified entries and reports them on.
func (c *Collector) archive(t *term, good []checked) error {
	lines := make([]auditfile.Entry, len(good))
	for i := range good {
		lines[i] = good[i].line
	}
	if err := t.arc.append(lines); err != nil {
		return err
	}
	site := c.sites.of(t.name)
	for i := range good {
		for _, sp := range c.spk.add(t.name, site, &good[i].wire) {
			c.alarm(Alarm{Event: kiosk.EventFailureSpike, Terminal: t.name, Spike: &sp,
				Message: fmt.Sprintf("%d failed sign-ins by %s %s", sp.Failures, sp.By, sp.Key)})
		}
	}
	if c.o.Archived != nil {
		c.o.Archived(t.name, lines)
	}
	return nil
}

// stop ends archiving for t and raises the alarm.
func (c *Collector) stop(t *term, a Alarm) {
	a.Event, a.Terminal = kiosk.EventAuditChainBroken, t.name
	c.mu.Lock()
	t.stopped = &a
	c.mu.Unlock()
	c.alarm(a)
}

// cleanup looks at what etcd still holds at or before the archive's
// last entry (left when a delete failed or the collector stopped between
// its fsync and its delete): entries the archive holds byte for byte are
// deleted; any other is a fork and stops the terminal.
func (c *Collector) cleanup(ctx context.Context, t *term) error {
	last, _, _ := t.arc.head()
	resp, err := c.get(ctx, fleet.AuditKey(t.name, 0), clientv3.WithRange(fleet.AuditKey(t.name, last+1)))
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 {
		t.clean = true
		return nil
	}
	want := map[uint64]bool{}
	for _, kv := range resp.Kvs {
		if _, seq, ok := fleet.ParseAuditKey(string(kv.Key)); ok {
			want[seq] = true
		}
	}
	have, err := t.arc.values(want)
	if err != nil {
		c.stop(t, Alarm{Reason: "archive", Message: fmt.Sprintf("reading the archive: %v", err)})
		return nil
	}
	for _, kv := range resp.Kvs {
		_, seq, _ := fleet.ParseAuditKey(string(kv.Key))
		if v, ok := have[seq]; !ok || !bytes.Equal(v, kv.Value) {
			c.stop(t, Alarm{Seq: seq, Reason: "fork", Message: fmt.Sprintf(
				"etcd holds an entry %d that is not the archived one (archived: %v): a fork, or an edit", seq, ok)})
			return nil
		}
	}
	c.del.add(archived{t: t, first: string(resp.Kvs[0].Key), last: last, rev: resp.Header.Revision})
	t.clean = true
	return nil
}

func (c *Collector) get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	tctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), c.o.Timeout)
	defer cancel()
	return c.cl.Get(tctx, key, opts...)
}
