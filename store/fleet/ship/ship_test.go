package ship_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/audittest"
	"passkiosk/store/fleet/fleettest"
	"passkiosk/store/fleet/ship"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// run starts a shipper and returns it with a function that stops it.
func run(t *testing.T, tm *audittest.Terminal, cl *clientv3.Client, o ship.Options) (*ship.Shipper, func()) {
	t.Helper()
	if o.Name == "" {
		o.Name = tm.Name
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	s, err := ship.New(tm.DB, cl, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return s, stop
}

// waitShipped waits until the cluster's head for name is seq.
func waitShipped(t *testing.T, cl *clientv3.Client, name string, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := cl.Get(context.Background(), fleet.AuditHeadKey(name))
		if err == nil && len(r.Kvs) == 1 {
			h, err := fleet.DecodeAuditHead(r.Kvs[0].Value)
			if err != nil {
				t.Fatal(err)
			}
			if h.Seq == seq {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("head of %s did not reach %d: %v %v", name, seq, r, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkShipped insists that the cluster holds exactly entries 1..n of
// tm, each the bytes the store keeps.
func checkShipped(t *testing.T, cl *clientv3.Client, tm *audittest.Terminal, n uint64) {
	t.Helper()
	r, err := cl.Get(context.Background(), fleet.AuditPrefix(tm.Name), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(r.Kvs)) != n {
		t.Fatalf("%d entries in the cluster, want %d", len(r.Kvs), n)
	}
	local, err := tm.DB.Events(1, int(n))
	if err != nil {
		t.Fatal(err)
	}
	for i, kv := range r.Kvs {
		want, _ := cbor.Marshal(local[i].Wire())
		if string(kv.Key) != fleet.AuditKey(tm.Name, local[i].Seq) || !bytes.Equal(kv.Value, want) {
			t.Fatalf("entry %d: key %s, value differs %v", i+1, kv.Key, !bytes.Equal(kv.Value, want))
		}
		if kv.Version != 1 {
			t.Fatalf("entry %s written %d times", kv.Key, kv.Version)
		}
	}
}

func TestBatchLimitIsWhatEtcdAccepts(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := audittest.Client(t, c.Endpoints())
	defer cl.Close()
	// A batch of n entries is n+1 comparisons and n+1 puts, as the
	// shipper builds it.
	try := func(n int) error {
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(fmt.Sprintf("limit%d/head", n)), "=", 0)}
		ops := []clientv3.Op{clientv3.OpPut(fmt.Sprintf("limit%d/head", n), "h")}
		for i := range n {
			k := fmt.Sprintf("limit%d/%020d", n, i)
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
			ops = append(ops, clientv3.OpPut(k, "v"))
		}
		_, err := cl.Txn(context.Background()).If(cmps...).Then(ops...).Commit()
		return err
	}
	if err := try(ship.DefaultBatch); err != nil {
		t.Fatalf("a batch of %d entries: %v", ship.DefaultBatch, err)
	}
	if err := try(ship.DefaultBatch + 1); !errors.Is(err, rpctypes.ErrTooManyOps) {
		t.Fatalf("a batch of %d entries: %v, want %v", ship.DefaultBatch+1, err, rpctypes.ErrTooManyOps)
	}
}

func TestShipsEveryEntryOnceInOrderAndWakesOnWrites(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := audittest.Client(t, c.Endpoints())
	defer cl.Close()
	tm := audittest.Open(t, t.TempDir(), "t1")
	last := tm.Append(t, 300)
	run(t, tm, cl, ship.Options{})
	waitShipped(t, cl, "t1", last)
	// A second shipper under the same name changes nothing: every put
	// is conditional on the head it read.
	run(t, tm, cl, ship.Options{Batch: 7})
	start := time.Now()
	last = tm.Append(t, 1)
	waitShipped(t, cl, "t1", last)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("one entry took %s to ship: the shipper should wake on the write", d)
	}
	last = tm.Append(t, 250)
	waitShipped(t, cl, "t1", last)
	checkShipped(t, cl, tm, last)
}

func TestResumesAfterTheClusterWasGone(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := audittest.Client(t, c.Endpoints())
	defer cl.Close()
	tm := audittest.Open(t, t.TempDir(), "t1")
	shipped := tm.Append(t, 40)
	s, _ := run(t, tm, cl, ship.Options{Timeout: time.Second, RetryMax: 200 * time.Millisecond})
	waitShipped(t, cl, "t1", shipped)
	c.StopAll()
	tm.Append(t, 60)
	time.Sleep(1500 * time.Millisecond)
	if st := s.Status(); st.Online || st.Shipped != shipped {
		t.Errorf("with the cluster gone: %+v", st)
	}
	last := tm.Append(t, 100)
	c.RestartAll()
	waitShipped(t, cl, "t1", last)
	checkShipped(t, cl, tm, last)
}

func TestARestoredStoreIsAForkAndStopsShipping(t *testing.T) {
	for _, tc := range []struct {
		name   string
		after  int // entries written after the restore
		reason string
	}{
		{"behind", 0, "behind"},
		{"fewer new entries than were shipped", 5, "behind"},
		{"more new entries than were shipped", 25, "differs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fleettest.Start(t, fleettest.Options{})
			cl := c.Client()
			tm := audittest.Open(t, t.TempDir(), "t1")
			tm.Append(t, 20)
			tm.Close(t)
			backup, err := os.ReadFile(tm.Path)
			if err != nil {
				t.Fatal(err)
			}
			tm.Reopen(t)
			shipped := tm.Append(t, 10)
			_, stop := run(t, tm, cl, ship.Options{})
			waitShipped(t, cl, "t1", shipped)
			stop()
			tm.Close(t)
			if err := os.WriteFile(tm.Path, backup, 0o600); err != nil {
				t.Fatal(err)
			}
			tm.Reopen(t)
			if tc.after > 0 {
				tm.Append(t, tc.after)
			}
			s, _ := run(t, tm, cl, ship.Options{})
			deadline := time.Now().Add(10 * time.Second)
			for s.Status().Fork == nil && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			st := s.Status()
			if st.Fork == nil || st.Fork.Reason != tc.reason || st.Fork.ShippedSeq != shipped {
				t.Fatalf("status %+v fork %v, want a fork (%s) at shipped entry %d", st, st.Fork, tc.reason, shipped)
			}
			tm.Append(t, 3)
			time.Sleep(200 * time.Millisecond)
			forks := 0
			events, err := tm.DB.Events(1, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				if e.Type == kiosk.EventAuditFork {
					forks++
					if e.Detail["shipped-seq"] != fmt.Sprint(shipped) || e.Detail["reason"] == "" {
						t.Errorf("fork entry's detail: %v", e.Detail)
					}
				}
			}
			if forks != 1 {
				t.Errorf("%d audit-fork entries, want 1", forks)
			}
			waitShipped(t, cl, "t1", shipped) // nothing of the fork was shipped
			checkAllOnce(t, cl, "t1", int(shipped))
		})
	}
}

// checkAllOnce insists the cluster holds entries 1..n of name, each
// written once.
func checkAllOnce(t *testing.T, cl *clientv3.Client, name string, n int) {
	t.Helper()
	r, err := cl.Get(context.Background(), fleet.AuditPrefix(name), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Kvs) != n {
		t.Fatalf("%d entries, want %d", len(r.Kvs), n)
	}
	for i, kv := range r.Kvs {
		if string(kv.Key) != fleet.AuditKey(name, uint64(i+1)) || kv.Version != 1 {
			t.Fatalf("entry %d: %s version %d", i+1, kv.Key, kv.Version)
		}
	}
}

func TestAnEntryAlreadyThereOrPrunedUnshippedStopsShipping(t *testing.T) {
	for _, tc := range []struct {
		name   string
		meddle func(t *testing.T, cl *clientv3.Client, tm *audittest.Terminal, shipped uint64)
		reason string
	}{
		{"another terminal's entry under this name", func(t *testing.T, cl *clientv3.Client, tm *audittest.Terminal, shipped uint64) {
			if _, err := cl.Put(context.Background(), fleet.AuditKey(tm.Name, shipped+2), "someone else's"); err != nil {
				t.Fatal(err)
			}
			tm.Append(t, 5)
		}, "exists"},
		{"entries pruned before they were shipped", func(t *testing.T, cl *clientv3.Client, tm *audittest.Terminal, shipped uint64) {
			tm.Append(t, 20)
			if _, err := tm.DB.Prune(store.Retention{MaxEntries: 5}, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}, "pruned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fleettest.Start(t, fleettest.Options{})
			cl := audittest.Client(t, c.Endpoints())
			defer cl.Close()
			tm := audittest.Open(t, t.TempDir(), "t1")
			shipped := tm.Append(t, 10)
			_, stop := run(t, tm, cl, ship.Options{})
			waitShipped(t, cl, "t1", shipped)
			stop()
			tc.meddle(t, cl, tm, shipped)
			s, _ := run(t, tm, cl, ship.Options{})
			deadline := time.Now().Add(10 * time.Second)
			for s.Status().Fork == nil && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if f := s.Status().Fork; f == nil || f.Reason != tc.reason {
				t.Fatalf("fork %v, want %s", f, tc.reason)
			}
			waitShipped(t, cl, "t1", shipped)
		})
	}
}
