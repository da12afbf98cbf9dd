package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

// freePort is a free port on 127.0.0.1 when asked.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// parseMember reads member flags as the command line would.
func parseMember(t *testing.T, args ...string) *memberOptions {
	t.Helper()
	fs := flag.NewFlagSet("fleetd", flag.ContinueOnError)
	m := memberFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMemberConfigNamesEveryBadFlag(t *testing.T) {
	m := parseMember(t, "--embed", "--data-dir", "etcd", "--listen-peer-urls", "http://127.0.0.1:2380",
		"--listen-client-urls", "https://127.0.0.1", "--initial-cluster", "a=https://127.0.0.1:2380",
		"--initial-cluster-state", "fresh", "--cert-file", "/nonexistent/m.crt", "--auto-compaction-retention", "5")
	_, err := m.config()
	for _, want := range []string{
		"--name: the embedded member needs a name",
		`--data-dir: must be an absolute path, got "etcd"`,
		`--listen-peer-urls: "http://127.0.0.1:2380" must use https`,
		`--listen-client-urls: "https://127.0.0.1" must be a URL with a port`,
		`--initial-cluster-state: must be new or existing, got "fresh"`,
		"--cert-file: stat /nonexistent/m.crt",
		"--key-file: must name a PEM file",
		"--trusted-ca-file: must name a PEM file",
		`--auto-compaction-retention: must be a duration of a minute or more like 1h, got "5"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

// A good set of flags makes the configuration etcd itself accepts: TLS
// with client certificates both ways, the CRL, periodic compaction.
func TestMemberConfigIsWhatEtcdAccepts(t *testing.T) {
	dir := t.TempDir()
	ca := fleettest.NewCA(t, dir)
	cert, key := ca.Issue("m1", true)
	m := parseMember(t, "--embed", "--name", "m1", "--data-dir", filepath.Join(dir, "m1"),
		"--listen-peer-urls", "https://127.0.0.1:12380", "--listen-client-urls", "https://127.0.0.1:12379",
		"--initial-cluster", "m1=https://127.0.0.1:12380,m2=https://127.0.0.2:12380,m3=https://127.0.0.3:12380",
		"--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca.File, "--client-crl-file", ca.CRL)
	cfg, err := m.config()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ClientTLSInfo.ClientCertAuth || !cfg.PeerTLSInfo.ClientCertAuth || cfg.ClientTLSInfo.CRLFile != ca.CRL ||
		cfg.PeerTLSInfo.CertFile != cert || cfg.AdvertiseClientUrls[0].String() != "https://127.0.0.1:12379" ||
		cfg.AutoCompactionMode != "periodic" || cfg.AutoCompactionRetention != "1h" || cfg.ClusterState != "new" {
		t.Errorf("config %+v", cfg)
	}
	m.initialCluster = "m2=https://127.0.0.2:12380"
	if _, err := m.config(); err == nil || !strings.Contains(err.Error(), "does not list this member as m1=https://127.0.0.1:12380") {
		t.Errorf("a member missing from --initial-cluster: %v", err)
	}
}

// syncBuffer is a process's output, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Three passkiosk-fleetd processes, each embedding one member, form one
// cluster on 127.0.0.1 with mTLS: each serves terminals once a quorum is
// there, the cluster has three members and takes writes through any of
// them, keeps taking them with one member killed, and the others stop
// cleanly on SIGTERM.
func TestThreeEmbeddedMembersFormACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds passkiosk-fleetd and starts three processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "passkiosk-fleetd")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ca := fleettest.NewCA(t, dir)
	start := time.Now()
	ps, endpoints := startFleetds(t, bin, dir, ca)
	t.Logf("three fleetd processes with embedded members serving after %v", time.Since(start).Round(time.Millisecond))

	cert, key := ca.Issue("it-admin", false)
	cc, err := fleet.ClientConfig(endpoints, cert, key, ca.File)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := clientv3.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ml, err := cl.MemberList(ctx)
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list: %v %v", ml, err)
	}
	if _, err := cl.Put(ctx, "/passkiosk/v1/dir/probe", "1"); err != nil {
		t.Fatal(err)
	}

	// One member killed: the other two still make a quorum.
	_ = ps[0].cmd.Process.Kill()
	_ = ps[0].cmd.Wait()
	killed := time.Now()
	waitFor(t, "a write with m0 killed", 30*time.Second, func() bool {
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
		defer wcancel()
		_, err := cl.Put(wctx, "/passkiosk/v1/dir/probe", "2")
		return err == nil
	}, func() string { return ps[1].out.String() })
	t.Logf("writes with one member killed after %v", time.Since(killed).Round(time.Millisecond))

	terminate(t, ps[1:])
	if _, err := os.Stat(filepath.Join(dir, "m1", "member")); err != nil {
		t.Errorf("m1's data directory: %v", err)
	}
}

// fleetdProc is one passkiosk-fleetd process of the cluster test.
type fleetdProc struct {
	name, client string
	cmd          *exec.Cmd
	out          *syncBuffer
}

// startFleetds starts three fleetd processes, each embedding one member
// of one cluster on 127.0.0.1, and waits until each serves terminals.
func startFleetds(t *testing.T, bin, dir string, ca *fleettest.CA) ([]*fleetdProc, []string) {
	t.Helper()
	svcCert, svcKey := ca.Issue("service", true)
	var ps []*fleetdProc
	var initial, endpoints []string
	peers := map[string]string{}
	for i := range 3 {
		p := &fleetdProc{name: fmt.Sprintf("m%d", i), client: "https://" + freePort(t), out: &syncBuffer{}}
		peers[p.name] = "https://" + freePort(t)
		initial = append(initial, p.name+"="+peers[p.name])
		endpoints = append(endpoints, p.client)
		ps = append(ps, p)
	}
	for _, p := range ps {
		cert, key := ca.Issue("member-"+p.name, true)
		etcdCert, etcdKey := ca.Issue("fleetd-"+p.name, false)
		p.cmd = exec.Command(bin, "--embed", "--name", p.name, "--data-dir", filepath.Join(dir, p.name),
			"--listen-peer-urls", peers[p.name], "--listen-client-urls", p.client, "--initial-cluster", strings.Join(initial, ","),
			"--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca.File, "--client-crl-file", ca.CRL,
			"--embed-ready-timeout", "60s",
			"--etcd-cert", etcdCert, "--etcd-key", etcdKey, "--ca", ca.File, "--endpoints", strings.Join(endpoints, ","),
			"--listen", freePort(t), "--tls-cert", svcCert, "--tls-key", svcKey, "--terminal-ca", ca.File,
			"--archive", filepath.Join(dir, p.name+"-audit"))
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		})
	}
	for _, p := range ps {
		waitFor(t, p.name+" serving terminals", 60*time.Second, func() bool { return strings.Contains(p.out.String(), "serving terminals") },
			func() string { return p.out.String() })
	}
	return ps, endpoints
}

// terminate stops the processes with SIGTERM and expects each to exit
// cleanly within 20 s.
func terminate(t *testing.T, ps []*fleetdProc) {
	t.Helper()
	for _, p := range ps {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range ps {
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s after SIGTERM: %v\n%s", p.name, err, p.out.String())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20 s of SIGTERM", p.name)
		}
	}
}

// waitFor polls cond every 50 ms for at most limit; out is shown on
// failure.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool, out func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s\n%s", what, out())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
