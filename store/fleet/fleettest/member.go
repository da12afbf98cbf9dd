package fleettest

import (
	"fmt"
	"net/url"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// memberConfig is what a member needs to start, in a form that crosses to
// a child process (JSON in its environment).
type memberConfig struct {
	Name           string
	Dir            string
	Peer, Client   string // URLs
	InitialCluster string
	// Existing: the member joins the cluster it already belongs to (a
	// restart) rather than forming a new one.
	Existing                            bool
	ProgressNotify, Heartbeat, Election time.Duration
	// TLS files, empty without TLS.
	CertFile, KeyFile, CAFile, CRLFile string
}

// embedConfig is the member's embed.Config.
func (mc memberConfig) embedConfig() (*embed.Config, error) {
	peer, err := url.Parse(mc.Peer)
	if err != nil {
		return nil, fmt.Errorf("member %s: peer URL: %w", mc.Name, err)
	}
	client, err := url.Parse(mc.Client)
	if err != nil {
		return nil, fmt.Errorf("member %s: client URL: %w", mc.Name, err)
	}
	cfg := embed.NewConfig()
	cfg.Name = mc.Name
	cfg.Dir = mc.Dir
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.TickMs, cfg.ElectionMs = uint(mc.Heartbeat.Milliseconds()), uint(mc.Election.Milliseconds())
	// Nothing waits for a disk.
	cfg.UnsafeNoFsync = true
	cfg.WatchProgressNotifyInterval = mc.ProgressNotify
	cfg.InitialClusterToken = "passkiosk-test"
	cfg.InitialCluster = mc.InitialCluster
	if mc.Existing {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	if mc.CertFile != "" {
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: mc.CertFile, KeyFile: mc.KeyFile, TrustedCAFile: mc.CAFile,
			ClientCertAuth: true, CRLFile: mc.CRLFile}
	}
	// A member stopping logs its closed listeners as errors; only what
	// ends a member matters in a test's output.
	cfg.LogLevel = "fatal"
	cfg.Logger = "zap"
	cfg.LogOutputs = []string{"stderr"}
	return cfg, nil
}

// startEmbedded starts a member in this process and waits until it is
// ready.
func startEmbedded(mc memberConfig) (*embed.Etcd, error) {
	cfg, err := mc.embedConfig()
	if err != nil {
		return nil, err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("member %s: %w", mc.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-time.After(20 * time.Second):
		e.Close()
		return nil, fmt.Errorf("member %s: not ready after 20 s", mc.Name)
	}
}

// member is one member of a Cluster: embedded in the test's process, or
// in a child process of its own (proc).
type member struct {
	cfg       memberConfig
	processes bool

	mu   sync.Mutex
	etcd *embed.Etcd // in this process; nil while stopped
	proc *child      // in a child process; nil while stopped
}

func (m *member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.etcd != nil || m.proc != nil {
		return nil
	}
	var err error
	if m.processes {
		m.proc, err = startChild(m.cfg)
	} else {
		m.etcd, err = startEmbedded(m.cfg)
	}
	return err
}

// stop stops the member once (embed.Etcd.Close panics when called
// twice). crash is a SIGKILL of a member's process; in this process it
// skips handing leadership over, as a killed process would. With
// UnsafeNoFsync a member crashed in this process also loses its last
// writes (a killed process does not: they are in the kernel's page
// cache), so the whole cluster is only ever stopped gracefully.
func (m *member) stop(crash bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.proc != nil:
		m.proc.stop(crash)
		m.proc = nil
	case m.etcd != nil:
		if crash {
			m.etcd.Server.HardStop()
		}
		m.etcd.Close()
		m.etcd = nil
	}
	// A restarted member joins the cluster it already belongs to.
	m.cfg.Existing = true
}

// leads reports whether the member runs in this process and leads (a
// member in a child process is asked by Cluster.Leader instead).
func (m *member) leads() (embedded, leads bool) {
	m.mu.Lock()
	e := m.etcd
	m.mu.Unlock()
	if e == nil {
		return false, false
	}
	return true, e.Server.Leader() == e.Server.MemberID()
}

func (m *member) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.etcd != nil || m.proc != nil
}

// pid is the member's process, or 0 (embedded, or stopped).
func (m *member) pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return 0
	}
	return m.proc.cmd.Process.Pid
}
