package fleet_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

// saveSnapshot writes a member's snapshot to path, as etcdctl snapshot
// save does, and returns its size.
func saveSnapshot(ctx context.Context, t *testing.T, cl *clientv3.Client, path string) int64 {
	t.Helper()
	rc, err := cl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := io.Copy(f, rc)
	if err == nil {
		err = f.Sync()
	}
	if err != nil || n == 0 {
		t.Fatalf("snapshot: %d bytes, %v", n, err)
	}
	return n
}

// The operations the README's "Running the fleet" describes, on a
// directory of 10,000 people and 20,000 keys rewritten once (so half the
// history is old): a snapshot through one member, a compaction, a
// defragmentation of each member in turn. The directory reads the same
// after each, a watch from before the compaction is refused as compacted
// (a terminal that far behind reloads in full), and the times and sizes
// are logged for the README.
func TestSnapshotCompactDefragmentOnALoadedDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 30,000 keys twice")
	}
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	old := seed(t, dir, 10000)
	rev := seed(t, dir, 10000) // every key again: the first values are history
	t.Logf("seeded 10,000 people and 20,000 keys twice in %v", time.Since(t0).Round(time.Millisecond))
	count := func() int64 {
		r, err := cl.Get(ctx, fleet.DirPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return r.Count
	}
	want := count()

	t1 := time.Now()
	n := saveSnapshot(ctx, t, cl, filepath.Join(t.TempDir(), "fleet.snapshot"))
	t.Logf("snapshot of one member: %.1f MB in %v", float64(n)/1e6, time.Since(t1).Round(time.Millisecond))

	t2 := time.Now()
	if _, err := cl.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	t.Logf("compaction to revision %d: %v", rev, time.Since(t2).Round(time.Millisecond))
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	resp := <-cl.Watch(wctx, fleet.DirPrefix, clientv3.WithPrefix(), clientv3.WithRev(old))
	if !errors.Is(resp.Err(), rpctypes.ErrCompacted) {
		t.Fatalf("a watch from before the compaction: %v", resp.Err())
	}

	for i, ep := range c.Endpoints() {
		st, err := cl.Status(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		t3 := time.Now()
		if _, err := cl.Defragment(ctx, ep); err != nil {
			t.Fatal(err)
		}
		took := time.Since(t3)
		after, err := cl.Status(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		if after.DbSize > st.DbSize {
			t.Errorf("member %d grew from %d to %d bytes in defragmentation", i, st.DbSize, after.DbSize)
		}
		t.Logf("member %d defragmented in %v: %.1f → %.1f MB on disk (%.1f MB in use)", i, took.Round(time.Millisecond),
			float64(st.DbSize)/1e6, float64(after.DbSize)/1e6, float64(after.DbSizeInUse)/1e6)
	}
	if got := count(); got != want {
		t.Fatalf("the directory holds %d keys after compaction and defragmentation, %d before", got, want)
	}
}
