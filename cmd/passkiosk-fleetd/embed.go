package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// memberOptions are the flags of an etcd member embedded in the fleet
// service (--embed): the same names and meanings as etcd's own flags, so
// a cluster of embedded members and one of etcd 3.7 processes are set up
// alike. Without --embed the service names an existing cluster with
// --endpoints and these flags are not used.
type memberOptions struct {
	embed           bool
	name, dataDir   string
	listenPeer      string
	advertisePeer   string
	listenClient    string
	advertiseClient string
	initialCluster  string
	clusterState    string
	token           string
	// The member's certificate serves both clients and peers; clients
	// must show a certificate signed by trustedCA (etcd's
	// --client-cert-auth) that is not in crl.
	cert, key, trustedCA, crl string
	peerCert, peerKey, peerCA string
	compaction                string
	ready                     time.Duration
}

// memberFlags registers the embedded member's flags on fs.
func memberFlags(fs *flag.FlagSet) *memberOptions {
	m := &memberOptions{}
	fs.BoolVar(&m.embed, "embed", false, "run an etcd member of the fleet's cluster inside this service (else name an existing cluster with --endpoints)")
	fs.StringVar(&m.name, "name", "", "the embedded member's name, as in --initial-cluster")
	fs.StringVar(&m.dataDir, "data-dir", "/var/lib/passkiosk-fleetd/etcd", "the embedded member's data directory (back it up with etcdctl snapshot save, not by copying)")
	fs.StringVar(&m.listenPeer, "listen-peer-urls", "", "where the member listens for its peers, https://ip:2380")
	fs.StringVar(&m.advertisePeer, "initial-advertise-peer-urls", "", "where its peers reach it (default: --listen-peer-urls)")
	fs.StringVar(&m.listenClient, "listen-client-urls", "", "where the member listens for clients, https://ip:2379")
	fs.StringVar(&m.advertiseClient, "advertise-client-urls", "", "where clients reach it (default: --listen-client-urls)")
	fs.StringVar(&m.initialCluster, "initial-cluster", "", "every member at the cluster's start, name=https://host:2380,…")
	fs.StringVar(&m.clusterState, "initial-cluster-state", embed.ClusterStateFlagNew, "new (the cluster's first start) or existing (a member added later)")
	fs.StringVar(&m.token, "initial-cluster-token", "passkiosk-fleet", "the cluster's token at its first start")
	fs.StringVar(&m.cert, "cert-file", "", "the member's certificate (for clients and peers, PEM)")
	fs.StringVar(&m.key, "key-file", "", "its private key")
	fs.StringVar(&m.trustedCA, "trusted-ca-file", "", "the certificates that sign clients' certificates (terminals, administrators, this service)")
	fs.StringVar(&m.crl, "client-crl-file", "", "revoked client certificates (DER), read at every handshake: put a retired terminal here")
	fs.StringVar(&m.peerCert, "peer-cert-file", "", "the member's certificate for its peers (default: --cert-file)")
	fs.StringVar(&m.peerKey, "peer-key-file", "", "its private key (default: --key-file)")
	fs.StringVar(&m.peerCA, "peer-trusted-ca-file", "", "the certificates that sign the members' (default: --trusted-ca-file)")
	fs.StringVar(&m.compaction, "auto-compaction-retention", "1h", "keep this much history; older revisions are compacted (a terminal further behind reloads in full)")
	fs.DurationVar(&m.ready, "embed-ready-timeout", 5*time.Minute, "how long the member may wait for a quorum at start before the service gives up")
	return m
}

// config checks the options and makes the member's etcd configuration.
// Every problem is reported at once, each naming its flag.
func (m *memberOptions) config() (*embed.Config, error) {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = m.name, m.dataDir
	if m.name == "" {
		bad("name", "the embedded member needs a name, the one --initial-cluster gives it")
	}
	if !filepath.IsAbs(m.dataDir) {
		bad("data-dir", "must be an absolute path, got %q", m.dataDir)
	}
	cfg.ListenPeerUrls = m.urls(bad, "listen-peer-urls", m.listenPeer, "")
	cfg.AdvertisePeerUrls = m.urls(bad, "initial-advertise-peer-urls", m.advertisePeer, m.listenPeer)
	cfg.ListenClientUrls = m.urls(bad, "listen-client-urls", m.listenClient, "")
	cfg.AdvertiseClientUrls = m.urls(bad, "advertise-client-urls", m.advertiseClient, m.listenClient)
	cfg.InitialCluster, cfg.ClusterState, cfg.InitialClusterToken = m.initialCluster, m.clusterState, m.token
	if m.clusterState != embed.ClusterStateFlagNew && m.clusterState != embed.ClusterStateFlagExisting {
		bad("initial-cluster-state", "must be new or existing, got %q", m.clusterState)
	}
	m.checkInitialCluster(bad, cfg.AdvertisePeerUrls)
	cfg.ClientTLSInfo = m.tls(bad, "", m.cert, m.key, m.trustedCA)
	cfg.ClientTLSInfo.CRLFile = m.crl
	cfg.PeerTLSInfo = m.tls(bad, "peer-", or(m.peerCert, m.cert), or(m.peerKey, m.key), or(m.peerCA, m.trustedCA))
	cfg.AutoCompactionMode, cfg.AutoCompactionRetention = embed.CompactorModePeriodic, m.compaction
	if d, err := time.ParseDuration(m.compaction); err != nil || d < time.Minute {
		bad("auto-compaction-retention", "must be a duration of a minute or more like 1h, got %q", m.compaction)
	}
	cfg.Logger, cfg.LogLevel, cfg.LogOutputs = "zap", "warn", []string{"stderr"}
	if len(errs) == 0 {
		if err := cfg.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("etcd refuses the member's configuration: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// urls reads a comma-separated list of https URLs; fallback stands in for
// an empty v.
func (m *memberOptions) urls(bad func(string, string, ...any), flag, v, fallback string) []url.URL {
	v = or(v, fallback)
	if v == "" {
		bad(flag, "must be given, like https://10.0.0.11:2379 (clients) or https://10.0.0.11:2380 (peers)")
		return nil
	}
	var us []url.URL
	for _, s := range strings.Split(v, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		switch {
		case err != nil || u.Host == "" || u.Port() == "":
			bad(flag, "%q must be a URL with a port, like https://10.0.0.11:2379", s)
		case u.Scheme != "https":
			bad(flag, "%q must use https: every member and client proves who it is with a certificate", s)
		default:
			us = append(us, *u)
		}
	}
	return us
}

// checkInitialCluster checks that the member is in the initial cluster
// with the peer URLs it advertises.
func (m *memberOptions) checkInitialCluster(bad func(string, string, ...any), advertised []url.URL) {
	if m.initialCluster == "" {
		bad("initial-cluster", "must list every member, like a=https://10.0.0.11:2380,b=https://10.0.0.12:2380,c=https://10.0.0.13:2380")
		return
	}
	found := false
	for _, part := range strings.Split(m.initialCluster, ",") {
		name, u, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" {
			bad("initial-cluster", "%q must be name=https://host:port", part)
			continue
		}
		if name == m.name {
			found = found || containsURL(advertised, u)
		}
	}
	if !found && m.name != "" {
		bad("initial-cluster", "does not list this member as %s=%s", m.name, or(m.advertisePeer, m.listenPeer))
	}
}

func containsURL(us []url.URL, s string) bool {
	for _, u := range us {
		if u.String() == s {
			return true
		}
	}
	return false
}

// tls is one side's TLS: certificate, key and the CA that signs the other
// side's, all readable files; the other side must show a certificate.
func (m *memberOptions) tls(bad func(string, string, ...any), prefix, cert, key, ca string) transport.TLSInfo {
	for flag, f := range map[string]string{prefix + "cert-file": cert, prefix + "key-file": key, prefix + "trusted-ca-file": ca} {
		if f == "" {
			bad(flag, "must name a PEM file: the fleet's members speak only TLS with client certificates")
		} else if _, err := os.Stat(f); err != nil {
			bad(flag, "%v", err)
		}
	}
	return transport.TLSInfo{CertFile: cert, KeyFile: key, TrustedCAFile: ca, ClientCertAuth: true}
}

func or(v, fallback string) string {
	if v != "" {
		return v
	}
	return fallback
}

// member is an etcd member running in this process.
type member struct {
	etcd *embed.Etcd
}

// startMember starts the embedded member and waits, at most opts.ready,
// until it has joined a quorum and serves clients. It returns nil, nil
// without --embed.
func startMember(opts *memberOptions, log *slog.Logger) (*member, error) {
	if !opts.embed {
		return nil, nil
	}
	cfg, err := opts.config()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the embedded etcd member %s: %w", cfg.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd member %s: %w", cfg.Name, err)
	case <-time.After(opts.ready):
		e.Close()
		return nil, fmt.Errorf("embedded etcd member %s found no quorum within %s: start the other members of --initial-cluster, or check their peer URLs and certificates", cfg.Name, opts.ready)
	}
	log.Info("embedded etcd member ready", "name", cfg.Name, "clients", opts.listenClient, "peers", opts.listenPeer)
	return &member{etcd: e}, nil
}

// endpoints are the member's advertised client URLs: the service's own
// client uses them when --endpoints is not given.
func (m *member) endpoints() string {
	var s []string
	for _, u := range m.etcd.Config().AdvertiseClientUrls {
		s = append(s, u.String())
	}
	return strings.Join(s, ",")
}

// close stops the member, handing leadership over first. A nil member
// (no --embed) does nothing.
func (m *member) close() {
	if m != nil {
		m.etcd.Close()
	}
}
