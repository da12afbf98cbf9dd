package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

// The demo's two terminals: fleet name (etcd user, certificate common
// name) and the name on their screens.
var terminals = []struct{ name, title string }{
	{"ward-3a", "Ward 3A"},
	{"ward-3b", "Ward 3B"},
}

// The people the directory starts with.
var people = []store.User{
	{ID: []byte("alice"), Name: "alice", DisplayName: "Alice Moreau", Groups: []string{"nurses"}, State: store.UserActive},
	{ID: []byte("bob"), Name: "bob", DisplayName: "Bob Okafor", Groups: []string{"porters"}, State: store.UserActive},
}

// IT's name in the directory's records.
const it = "it@demo"

// demoFleet is the running directory: members, the administrator's
// client, the fleet service.
type demoFleet struct {
	dir     string
	cluster *fleettest.Cluster
	root    *clientv3.Client
	d       *fleet.Directory
	service *http.Server
	url     string            // the service's address
	codes   map[string]string // each person's first enrollment code
}

// startFleet brings the directory up; fleettest's calls end in a panic
// of fatal on failure, which run recovers.
func startFleet(ctx context.Context, tb *programTB, dir, ctl string) (*demoFleet, error) {
	start := time.Now()
	c := fleettest.Start(tb, fleettest.Options{TLS: true})
	f := &demoFleet{dir: dir, cluster: c, root: c.Client(), codes: map[string]string{}}
	f.d = &fleet.Directory{Client: f.root}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := enableAuth(ctx, f.root); err != nil {
		return nil, err
	}
	if err := f.serveService(); err != nil {
		return nil, err
	}
	adminCert, adminKey := c.CA.Issue("root", false)
	for _, t := range terminals {
		if err := f.join(ctx, ctl, t.name, t.title, adminCert, adminKey); err != nil {
			f.close()
			return nil, err
		}
	}
	if err := f.seed(ctx); err != nil {
		f.close()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "demo cluster ready in %s\n", time.Since(start).Round(time.Millisecond))
	return f, nil
}

// enableAuth makes the root user (it signs in with its certificate) and
// turns authentication on, as a fleet's cluster is set up once: from
// then on each client's certificate common name is its etcd user.
func enableAuth(ctx context.Context, root *clientv3.Client) error {
	if _, err := root.UserAddWithOptions(ctx, "root", "", &clientv3.UserAddOptions{NoPassword: true}); err != nil {
		return fmt.Errorf("etcd user root: %w", err)
	}
	if _, err := root.UserGrantRole(ctx, "root", "root"); err != nil {
		return fmt.Errorf("etcd user root: %w", err)
	}
	if _, err := root.AuthEnable(ctx); err != nil {
		return fmt.Errorf("etcd authentication: %w", err)
	}
	return nil
}

// serveService serves the fleet service's API on a free port of
// 127.0.0.1, as passkiosk-fleetd does: HTTPS, terminals' client
// certificates required. It writes the directory with the
// administrator's client (passkiosk-fleetd has a user of its own with
// the directory's write role).
func (f *demoFleet) serveService() error {
	ca, err := os.ReadFile(f.cluster.CA.File)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	certFile, keyFile := f.cluster.CA.Issue("fleet-service", true)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("part", "fleet service")
	f.service = &http.Server{Handler: fleet.Handler(f.d, log), ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs: pool, MinVersion: tls.VersionTLS12}}
	f.url = "https://" + l.Addr().String()
	go func() {
		if err := f.service.ServeTLS(l, "", ""); !errors.Is(err, http.ErrServerClosed) {
			log.Error("fleet service stopped", "err", err)
		}
	}()
	return nil
}

// join provisions a terminal with `passkioskctl fleet join`, a real run
// of the command IT uses, and writes the terminal's configuration: its
// name and the [fleet] section the command printed, with the service.
func (f *demoFleet) join(ctx context.Context, ctl, name, title, adminCert, adminKey string) error {
	cert, key := f.cluster.CA.Issue(name, false)
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, ctl, "fleet", "join", "--endpoints", strings.Join(f.cluster.Endpoints(), ","),
		"--admin-cert", adminCert, "--admin-key", adminKey, "--ca", f.cluster.CA.File, "--cert", cert, "--key", key)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s fleet join %s: %w: %s", ctl, name, err, strings.TrimSpace(errOut.String()))
	}
	_, section, ok := strings.Cut(out.String(), "[fleet]")
	if !ok {
		return fmt.Errorf("%s fleet join %s printed no [fleet] section:\n%s", ctl, name, out.String())
	}
	conf := fmt.Sprintf("# Terminal %s of make demo-fleet, joined with passkioskctl fleet join.\nterminal = %q\n\n[fleet]%sservice = %q\n",
		name, title, section, f.url)
	if err := os.MkdirAll(filepath.Join(f.dir, "terminals"), 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(f.dir, "terminals", name+".toml"), []byte(conf), 0o600)
}

// seed puts the people in the directory, each with an enrollment code.
func (f *demoFleet) seed(ctx context.Context) error {
	for _, u := range people {
		if _, err := f.d.PutUser(ctx, u); err != nil {
			return fmt.Errorf("person %s: %w", u.Name, err)
		}
		code, err := f.d.IssueCode(ctx, u.ID, store.PurposeEnroll, 24*time.Hour, it)
		if err != nil {
			return fmt.Errorf("code for %s: %w", u.Name, err)
		}
		f.codes[u.Name] = code
	}
	return nil
}

// introduce says what runs and how to walk through the demo.
func (f *demoFleet) introduce(w io.Writer) {
	fmt.Fprintf(w, "passkiosk demo fleet — three etcd members: %s\n", strings.Join(f.cluster.Endpoints(), " "))
	fmt.Fprintf(w, "  fleet service: %s\n", f.url)
	for _, t := range terminals {
		fmt.Fprintf(w, "  terminal %s (%s): %s\n", t.title, t.name, filepath.Join(f.dir, "terminals", t.name+".toml"))
	}
	fmt.Fprintln(w, "People in the directory and their one-time enrollment codes:")
	for _, u := range people {
		fmt.Fprintf(w, "  %-14s %s\n", u.DisplayName, f.codes[u.Name])
	}
	fmt.Fprintln(w, "Enroll the virtual key at one terminal with a code, then plug it into the other and sign in.")
	fmt.Fprint(w, consoleHelp)
	fmt.Fprintf(w, "ready: %s\n", f.dir)
}

// close stops the service; the members stop with the program's cleanups.
func (f *demoFleet) close() {
	if f.service == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.service.Shutdown(ctx)
	f.service = nil
}
