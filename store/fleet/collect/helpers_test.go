package collect_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk/auditfile"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/audittest"
	"passkiosk/store/fleet/collect"
	"passkiosk/store/fleet/ship"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// runner runs something with a Run(ctx) until stopped.
type runner struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t testing.TB, run func(context.Context) error) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *runner) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	<-r.done
}

func shipper(t testing.TB, tm *audittest.Terminal, cl *clientv3.Client) *runner {
	s, err := ship.New(tm.DB, cl, ship.Options{Name: tm.Name, Logger: quiet, Timeout: 2 * time.Second, RetryMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return start(t, s.Run)
}

// alarms collects a collector's alarms.
type alarms struct {
	mu  sync.Mutex
	all []collect.Alarm
}

func (a *alarms) add(x collect.Alarm) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all = append(a.all, x)
}

func (a *alarms) list() []collect.Alarm {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]collect.Alarm(nil), a.all...)
}

func collector(t testing.TB, cl *clientv3.Client, dir string, o collect.Options) (*collect.Collector, *runner) {
	o.Dir = dir
	if o.Logger == nil {
		o.Logger = quiet
	}
	if o.Rescan == 0 {
		o.Rescan = 2 * time.Second
	}
	if o.Retry == 0 {
		o.Retry = 200 * time.Millisecond
	}
	c, err := collect.New(cl, o)
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, c.Run)
	t.Cleanup(func() { r.stop(); c.Close() })
	return c, r
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// archived reports whether the archive holds terminal name up to seq.
func archived(c *collect.Collector, name string, seq uint64) bool {
	return c.Status()[name].Last >= seq
}

// verifyFile checks an archive file with auditfile.Verify and returns
// what it proved.
func verifyFile(t testing.TB, dir, name string) auditfile.Check {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := auditfile.Verify(f)
	if err != nil {
		t.Fatalf("archive of %s: %v", name, err)
	}
	return c
}

// shippedLeft counts the entries etcd still holds for name.
func shippedLeft(t testing.TB, cl *clientv3.Client, name string) int64 {
	t.Helper()
	r, err := cl.Get(context.Background(), fleet.AuditPrefix(name), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return r.Count
}
