package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/audittest"
	"passkiosk/store/fleet/fleetadmin"
	"passkiosk/store/fleet/fleettest"
	"passkiosk/store/fleet/ship"
)

// adminCA is a second certificate authority, for administrators.
type adminCA struct {
	file string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

func newAdminCA(t *testing.T) *adminCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "admins CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &adminCA{cert: cert, key: key, dir: t.TempDir()}
	ca.file = writePEM(t, ca.dir, "ca.crt", "CERTIFICATE", der)
	return ca
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// issue signs a client certificate for name.
func (ca *adminCA) issue(t *testing.T, name string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, ca.dir, name+".crt", "CERTIFICATE", der), writePEM(t, ca.dir, name+".key", "EC PRIVATE KEY", kder)
}

// One listener serves terminals and administrators, each from its own
// CA: a certificate of the terminals' CA does not reach the admin API,
// even with an administrator's name, and an administrator's does not
// reach the terminals' API.
func TestTerminalsAndAdministratorsStayOnTheirOwnAPI(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	root := c.Client()
	rec, _ := fleetapi.EncodeAdmin(fleetapi.Admin{Name: "alice", Role: fleetapi.RoleAdmin, Added: time.Now()})
	if _, err := root.Put(context.Background(), fleetapi.AdminKey("alice"), string(rec)); err != nil {
		t.Fatal(err)
	}
	admins := newAdminCA(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, clients, err := handlers(fleetadmin.Options{Dir: &fleet.Directory{Client: root}, Log: log}, c.CA.File, admins.file)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	sc, sk := c.CA.Issue("fleetd", true)
	cert, err := tls.LoadX509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	ac, ak := admins.issue(t, "alice")
	alice, err := fleetapi.NewClient(srv.URL, ac, ak, c.CA.File)
	if err != nil {
		t.Fatal(err)
	}
	var who fleetapi.WhoAmI
	if err := alice.Call(context.Background(), fleetapi.CmdWhoAmI, nil, &who); err != nil || who.Name != "alice" {
		t.Fatalf("alice's admin certificate: %+v %v", who, err)
	}
	tc, tk := c.CA.Issue("alice", false)
	fake, err := fleetapi.NewClient(srv.URL, tc, tk, c.CA.File)
	if err != nil {
		t.Fatal(err)
	}
	err = fake.Call(context.Background(), fleetapi.CmdWhoAmI, nil, nil)
	if we, ok := err.(*admin.Error); !ok || we.Code != admin.ExitRefused || !strings.Contains(we.Message, "not an administrator's") {
		t.Fatalf("a terminal CA's certificate named alice: %v", err)
	}
	post := func(cl *http.Client) int {
		resp, err := cl.Post(srv.URL+"/v1/codes/lookup", "application/json", strings.NewReader(`{"code":"ABCD-EFGH"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(alice.HTTP); code != http.StatusForbidden {
		t.Errorf("an administrator's certificate on the terminals' API: %d, want 403", code)
	}
	if code := post(fake.HTTP); code == http.StatusForbidden {
		t.Errorf("a terminal's certificate on the terminals' API: %d", code)
	}
}

// The service's wiring carries the collector's archived entries to an
// administrator's audit follow (collector → feed → admin API), here with
// a server write timeout shorter than the wait for the entry.
func TestAuditFollowGetsEntriesAsTheServiceArchivesThem(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	root := c.Client()
	rec, _ := fleetapi.EncodeAdmin(fleetapi.Admin{Name: "carol", Role: fleetapi.RoleAuditor, Added: time.Now()})
	if _, err := root.Put(context.Background(), fleetapi.AdminKey("carol"), string(rec)); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	feed := fleetadmin.NewFeed()
	col, err := collector(root, dir, feed, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = col.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; col.Close() })
	admins := newAdminCA(t)
	opts := fleetadmin.Options{Dir: &fleet.Directory{Client: root}, Archive: col, ArchiveDir: dir, Feed: feed, Log: log}
	h, clients, err := handlers(opts, c.CA.File, admins.file)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	sc, sk := c.CA.Issue("fleetd", true)
	cert, err := tls.LoadX509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ac, ak := admins.issue(t, "carol")
	carol, err := fleetapi.NewClient(srv.URL, ac, ak, c.CA.File)
	if err != nil {
		t.Fatal(err)
	}
	followOne(t, ctx, root, carol, log)
}

// followOne starts a follow, writes and ships one entry on a terminal a
// second later, and expects it.
func followOne(t *testing.T, ctx context.Context, root *clientv3.Client, carol *fleetapi.Client, log *slog.Logger) {
	tm := audittest.Open(t, t.TempDir(), "t1")
	t.Cleanup(func() { tm.Close(t) })
	s, err := ship.New(tm.DB, root, ship.Options{Name: "t1", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(ctx)
	shipped := make(chan struct{})
	go func() { defer close(shipped); _ = s.Run(sctx) }()
	t.Cleanup(func() { scancel(); <-shipped })
	fctx, fcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer fcancel()
	var got *fleetapi.AuditHit
	_, err = carol.Stream(fctx, admin.CmdAuditFollow, fleetapi.AuditQuery{}, func(raw json.RawMessage) bool {
		var p fleetapi.FollowPart
		if json.Unmarshal(raw, &p) != nil {
			return false
		}
		if p.Hit == nil {
			// Longer than the write timeout before anything is written.
			time.Sleep(time.Second)
			tm.Append(t, 1)
			return true
		}
		got = p.Hit
		return false
	})
	if err != nil || got == nil || got.FleetName != "t1" {
		t.Fatalf("follow: %+v, %v", got, err)
	}
}
