// Package fleettest starts a real etcd cluster inside a test: three
// embedded members on 127.0.0.1 with short election timing and no fsync,
// ready in a fraction of a second. It is test support only, and with
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

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Cluster is a running embedded etcd cluster.
type Cluster struct {
	t       testing.TB
	members []*member
	// CA is the cluster's certificate authority when started with TLS.
	CA *CA
}

type member struct {
	name   string
	cfg    *embed.Config
	mu     sync.Mutex
	etcd   *embed.Etcd // nil while stopped
	client string      // the client URL
}

// Options tune Start.
type Options struct {
	// Members is how many members run; 0 means 3.
	Members int
	// ProgressNotify is how often idle watches get progress
	// notifications; 0 means 100 ms.
	ProgressNotify time.Duration
	// TLS serves clients over TLS with client certificates required
	// (--client-cert-auth), as a fleet runs: a client's certificate
	// common name is its etcd user once auth is enabled. Clients come
	// from ClientAs; Client is then the user "root".
	TLS bool
}

// Start runs a cluster for the length of the test and stops it when the
// test ends. Every member listens on free ports of 127.0.0.1 only.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	n := opts.Members
	if n == 0 {
		n = 3
	}
	if opts.ProgressNotify == 0 {
		opts.ProgressNotify = 100 * time.Millisecond
	}
	dir := t.TempDir()
	c := &Cluster{t: t}
	var server transport.TLSInfo
	if opts.TLS {
		c.CA = newCA(t, dir)
		certFile, keyFile := c.CA.Issue("member", true)
		server = transport.TLSInfo{CertFile: certFile, KeyFile: keyFile, TrustedCAFile: c.CA.File, ClientCertAuth: true, CRLFile: c.CA.CRL}
	}
	var initial []string
	for i := range n {
		name := fmt.Sprintf("m%d", i)
		peer, client := freeURL(t), freeURL(t)
		if opts.TLS {
			client.Scheme = "https"
		}
		cfg := embed.NewConfig()
		cfg.Name = name
		cfg.Dir = filepath.Join(dir, name)
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
		// Timing for a test on a loaded machine: a leader is found within
		// a few hundred milliseconds, and nothing waits for a disk.
		cfg.TickMs, cfg.ElectionMs = 10, 100
		cfg.UnsafeNoFsync = true
		cfg.WatchProgressNotifyInterval = opts.ProgressNotify
		cfg.InitialClusterToken = "passkiosk-test"
		cfg.ClientTLSInfo = server
		// A member stopping logs its closed listeners as errors; only
		// what ends a member matters in a test's output.
		cfg.LogLevel = "fatal"
		cfg.Logger = "zap"
		cfg.LogOutputs = []string{"stderr"}
		initial = append(initial, name+"="+peer.String())
		c.members = append(c.members, &member{name: name, cfg: cfg, client: client.String()})
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

func (m *member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.etcd != nil {
		return nil
	}
	e, err := embed.StartEtcd(m.cfg)
	if err != nil {
		return fmt.Errorf("member %s: %w", m.name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		return fmt.Errorf("member %s: not ready after 20 s", m.name)
	}
	m.etcd = e
	return nil
}

// stop closes the member once; embed.Etcd.Close panics when called twice.
// crash skips handing leadership over, as a killed process would; with
// UnsafeNoFsync a crashed member also loses its last writes, so the whole
// cluster is only ever stopped gracefully.
func (m *member) stop(crash bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.etcd != nil {
		if crash {
			m.etcd.Server.HardStop()
		}
		m.etcd.Close()
		m.etcd = nil
	}
	// A restarted member joins the cluster it already belongs to.
	m.cfg.ClusterState = embed.ClusterStateFlagExisting
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
		out[i] = m.client
	}
	return out
}

// Stop stops member i (as a crash would look to clients: its connections
// drop). Restart brings it back with its data.
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
		m.mu.Lock()
		e := m.etcd
		m.mu.Unlock()
		if e != nil && e.Server.Leader() == e.Server.MemberID() {
			return i
		}
	}
	return -1
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
