// Package fleettest starts a real etcd cluster inside a test: three
// embedded members on 127.0.0.1 with short election timing and no fsync,
// ready in a fraction of a second. The members run in the test's process,
// or each in a child process of its own (Options.Processes: the test
// binary started again, which this package's init turns into the member),
// where stopping one is a real SIGKILL. It is test support only, and with
// cmd/passkiosk-fleetd the only importer of the etcd server module
// (kiosk/imports_test.go keeps it so): that module's cold build takes
// minutes and has no place in the appliance.
package fleettest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"passkiosk/kiosk"
)

// Cluster is a running embedded etcd cluster.
type Cluster struct {
	t       testing.TB
	members []*member
	// CA is the cluster's certificate authority when started with TLS.
	CA *CA

	adminOnce sync.Once
	admin     *clientv3.Client // for Leader with member processes
}

// Options tune Start.
type Options struct {
	// Members is how many members run; 0 means 3.
	Members int
	// ProgressNotify is how often idle watches get progress
	// notifications; 0 means 100 ms.
	ProgressNotify time.Duration
	// Heartbeat and Election are raft's heartbeat interval and election
	// timeout; 0 means 10 ms and 100 ms, which find a new leader within a
	// few hundred milliseconds of a kill. etcd's own defaults are 100 ms
	// and 1 s.
	Heartbeat, Election time.Duration
	// TLS serves clients over TLS with client certificates required
	// (--client-cert-auth), as a fleet runs: a client's certificate
	// common name is its etcd user once auth is enabled. Clients come
	// from ClientAs; Client is then the user "root".
	TLS bool
	// Processes runs each member in a child process of its own (this
	// test binary, started again as the member): Stop is then a SIGKILL
	// of a real process, and the members do not share the test's Go
	// scheduler and collector with what it runs against them.
	Processes bool
}

// Start runs a cluster for the length of the test and stops it when the
// test ends. Every member listens on free ports of 127.0.0.1 only.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	n := kiosk.OrDefault(opts.Members, 3)
	opts.ProgressNotify = kiosk.OrDefault(opts.ProgressNotify, 100*time.Millisecond)
	opts.Heartbeat = kiosk.OrDefault(opts.Heartbeat, 10*time.Millisecond)
	opts.Election = kiosk.OrDefault(opts.Election, 10*opts.Heartbeat)
	dir := t.TempDir()
	c := &Cluster{t: t}
	var certFile, keyFile string
	if opts.TLS {
		c.CA = newCA(t, dir)
		certFile, keyFile = c.CA.Issue("member", true)
	}
	var initial []string
	for i := range n {
		name := fmt.Sprintf("m%d", i)
		peer, client := freeURL(t), freeURL(t)
		if opts.TLS {
			client.Scheme = "https"
		}
		mc := memberConfig{Name: name, Dir: filepath.Join(dir, name), Peer: peer.String(), Client: client.String(),
			ProgressNotify: opts.ProgressNotify, Heartbeat: opts.Heartbeat, Election: opts.Election}
		if opts.TLS {
			mc.CertFile, mc.KeyFile, mc.CAFile, mc.CRLFile = certFile, keyFile, c.CA.File, c.CA.CRL
		}
		initial = append(initial, name+"="+peer.String())
		c.members = append(c.members, &member{cfg: mc, processes: opts.Processes})
	}
	for _, m := range c.members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
	}
	t.Cleanup(c.stopAll)
	errs := make(chan error, n)
	for _, m := range c.members {
		go func() { errs <- m.start() }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("starting etcd: %v", err)
		}
	}
	return c
}

// freeURL is a free port on 127.0.0.1. The port is free when asked; the
// member binds it moments later.
func freeURL(t testing.TB) url.URL {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

func (c *Cluster) stopAll() {
	for _, m := range c.members {
		m.stop(false)
	}
}

// Endpoints are every member's client URL.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.cfg.Client
	}
	return out
}

// Stop stops member i as a crash would: its connections drop, and
// with Options.Processes its process is killed with SIGKILL. Restart
// brings it back with its data.
func (c *Cluster) Stop(i int) { c.members[i].stop(true) }

// Restart starts a stopped member again.
func (c *Cluster) Restart(i int) {
	if err := c.members[i].start(); err != nil {
		c.t.Fatal(err)
	}
}

// StopAll stops every member: the cluster is gone, as for a terminal
// whose network is down.
func (c *Cluster) StopAll() { c.stopAll() }

// RestartAll starts every member again.
func (c *Cluster) RestartAll() {
	errs := make(chan error, len(c.members))
	for _, m := range c.members {
		go func() { errs <- m.start() }()
	}
	for range c.members {
		if err := <-errs; err != nil {
			c.t.Fatal(err)
		}
	}
}

// Leader is the index of the member that leads, or -1.
func (c *Cluster) Leader() int {
	for i, m := range c.members {
		embedded, leads := m.leads()
		if leads {
			return i
		}
		if !embedded && m.running() && c.askLeads(m) {
			return i
		}
	}
	return -1
}

// PIDs are the members' processes (Options.Processes), 0 for a member
// that is stopped or runs in this process: for measuring what the members
// themselves cost.
func (c *Cluster) PIDs() []int {
	out := make([]int, len(c.members))
	for i, m := range c.members {
		out[i] = m.pid()
	}
	return out
}

// askLeads asks a member in a child process whether it leads.
func (c *Cluster) askLeads(m *member) bool {
	c.adminOnce.Do(func() { c.admin = c.Client() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.admin.Status(ctx, m.cfg.Client)
	return err == nil && st.Leader == st.Header.MemberId
}

// Client is an etcd client on every endpoint, closed when the test ends
// (with TLS: the user "root").
func (c *Cluster) Client() *clientv3.Client {
	if c.CA != nil {
		return c.ClientAs("root")
	}
	cl, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second,
		// Keepalives as a terminal's, but patient: hundreds of agents on
		// two cores delay pings by seconds.
		DialKeepAliveTime: 10 * time.Second, DialKeepAliveTimeout: 10 * time.Second, DialOptions: []grpc.DialOption{reconnect}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// reconnect retries a member that went away from 100 ms up to 2 s, as
// fleet.ClientConfig does; gRPC's default grows to two minutes.
var reconnect = grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
	MinConnectTimeout: 2 * time.Second,
})

// Compact compacts the key space up to the current revision, so a watch
// from any older one fails with ErrCompacted.
func (c *Cluster) Compact(ctx context.Context, cl *clientv3.Client) int64 {
	r, err := cl.Get(ctx, "compact-probe")
	if err != nil {
		c.t.Fatal(err)
	}
	rev := r.Header.Revision
	if _, err := cl.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		c.t.Fatal(err)
	}
	return rev
}
