package collect

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/store/fleet"
)

// deleteBatch is the most ranges one delete transaction carries: each is
// one comparison and one delete, within etcd's default --max-txn-ops
// (128).
const deleteBatch = 100

// archived is a range of a terminal's entries that is on disk and may go
// from etcd: first to last, as read at rev.
type archived struct {
	t     *term
	first string
	last  uint64
	rev   int64
}

// deleter empties etcd of archived ranges, many terminals' in one
// transaction, so that the cluster's writes are the terminals' batches
// and not one delete for each of them too.
type deleter struct {
	mu      sync.Mutex
	pending []archived
	kick    chan struct{}
}

func newDeleter() *deleter { return &deleter{kick: make(chan struct{}, 1)} }

func (d *deleter) add(a archived) {
	d.mu.Lock()
	d.pending = append(d.pending, a)
	n := len(d.pending)
	d.mu.Unlock()
	if n >= deleteBatch {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
}

func (d *deleter) take() []archived {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := min(len(d.pending), deleteBatch)
	out := append([]archived(nil), d.pending[:n]...)
	d.pending = d.pending[n:]
	return out
}

func (d *deleter) putBack(as []archived) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = append(as, d.pending...)
}

// deletes runs the deleter until ctx ends, every o.DeleteEvery or as
// soon as a full transaction's worth is waiting.
func (c *Collector) deletes(ctx context.Context) {
	tick := time.NewTicker(c.o.DeleteEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-c.del.kick:
		}
		for {
			batch := c.del.take()
			if len(batch) == 0 {
				break
			}
			if err := c.deleteRanges(ctx, batch); err != nil {
				c.del.putBack(batch)
				c.log.Debug("fleet audit: deleting archived entries failed; retrying", "err", err)
				break
			}
		}
	}
}

// deleteRanges deletes archived ranges in one transaction, each only if
// none of its keys changed after it was read: what is deleted is exactly
// what was archived. When a comparison fails, each range is tried on its
// own, and a terminal whose range changed is looked at again (cleanup).
func (c *Collector) deleteRanges(ctx context.Context, batch []archived) error {
	cmps := make([]clientv3.Cmp, 0, len(batch))
	ops := make([]clientv3.Op, 0, len(batch))
	for _, a := range batch {
		end := fleet.AuditKey(a.t.name, a.last+1)
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(a.first), "<", a.rev+1).WithRange(end))
		ops = append(ops, clientv3.OpDelete(a.first, clientv3.WithRange(end)))
	}
	tctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), c.o.Timeout)
	defer cancel()
	resp, err := c.cl.Txn(tctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("delete archived entries: %w", err)
	}
	if resp.Succeeded {
		return nil
	}
	for i, a := range batch {
		r, err := c.cl.Txn(tctx).If(cmps[i]).Then(ops[i]).Commit()
		if err != nil {
			// The caller puts the whole batch back; deleting a range
			// again that is already gone changes nothing.
			return fmt.Errorf("delete archived entries of %s: %w", a.t.name, err)
		}
		if !r.Succeeded {
			a.t.recheck.Store(true)
			c.q.mark(a.t.name)
		}
	}
	return nil
}
