package fleetadmin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

// rig serves the admin API over TLS on an embedded cluster.
type rig struct {
	c   *fleettest.Cluster
	dir *fleet.Directory
	url string
	s   *server
}

func startRig(t testing.TB) *rig {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	r := &rig{c: c, dir: &fleet.Directory{Client: c.Client()}}
	pem, err := os.ReadFile(c.CA.File)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	h := Handler(Options{Dir: r.dir, AdminCAs: pool, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewUnstartedServer(h)
	sc, sk := c.CA.Issue("fleetd", true)
	cert, err := tls.LoadX509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r.url, r.s = srv.URL, &server{}
	r.s.commands = r.s.table()
	return r
}

// as is a client with name's certificate, given role ("" for none).
func (r *rig) as(t testing.TB, name string, role fleetapi.Role) *fleetapi.Client {
	if role != "" {
		rec, err := adminRecord(name, role)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.dir.Client.Put(context.Background(), fleetapi.AdminKey(name), string(rec)); err != nil {
			t.Fatal(err)
		}
	}
	cert, key := r.c.CA.Issue(name, false)
	cl, err := fleetapi.NewClient(r.url, cert, key, r.c.CA.File)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func adminRecord(name string, role fleetapi.Role) ([]byte, error) {
	return fleetapi.EncodeAdmin(fleetapi.Admin{Name: name, Role: role, Added: time.Now()})
}

func refusedErr(err error) bool {
	we, ok := err.(*admin.Error)
	return ok && we.Code == admin.ExitRefused
}

// Every command that changes a record is refused to an auditor before
// its arguments are read, and to a certificate without a role; every
// command that reads is served to an auditor.
func TestEveryChangeNeedsTheAdminRole(t *testing.T) {
	r := startRig(t)
	auditor, stranger := r.as(t, "carol", fleetapi.RoleAuditor), r.as(t, "mallory", "")
	ctx := context.Background()
	for _, name := range slices.Sorted(maps.Keys(r.s.commands)) {
		cmd := r.s.commands[name]
		if cmd.stream != nil {
			continue // audit export and follow read the archive; this rig has none
		}
		err := auditor.Call(ctx, name, nil, nil)
		if got := refusedErr(err); got != (cmd.role == fleetapi.RoleAdmin) {
			t.Errorf("%s as an auditor: %v (refused %v, the command needs %s)", name, err, got, cmd.role)
		}
		if err := stranger.Call(ctx, name, nil, nil); !refusedErr(err) {
			t.Errorf("%s without a role: %v, want refused", name, err)
		}
	}
}
