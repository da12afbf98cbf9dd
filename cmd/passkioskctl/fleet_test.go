package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

func TestFleetPrefixesAgreeWithTheStore(t *testing.T) {
	if fleetPrefix != fleet.Prefix || fleetTerm+"t1/" != fleet.TerminalPrefix("t1") {
		t.Fatalf("passkioskctl's prefixes %q %q differ from store/fleet's %q %q", fleetPrefix, fleetTerm, fleet.Prefix, fleet.TerminalPrefix("t1"))
	}
}

// enableAuth makes the root user and role and turns authentication on,
// as a fleet's cluster is set up once.
func enableAuth(t *testing.T, root *clientv3.Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := root.UserAddWithOptions(ctx, "root", "", &clientv3.UserAddOptions{NoPassword: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
}

// A terminal's certificate reads the directory and writes its own
// prefix only; after it leaves, it reads nothing.
func TestFleetJoinGivesATerminalItsOwnPrefixOnly(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	root := c.Client()
	enableAuth(t, root)
	ctx := context.Background()
	if _, err := root.Put(ctx, fleet.UserKey([]byte("u1")), "x"); err != nil {
		t.Fatal(err)
	}

	// passkioskctl fleet join, as IT runs it on the terminal.
	cert, key := c.CA.Issue("ward7-bay2", false)
	adminCert, adminKey := c.CA.Issue("root", false)
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out, ctx: ctx}
	start := time.Now()
	err := e.dispatch([]string{"fleet", "join", "--endpoints", strings.Join(c.Endpoints(), ","), "--admin-cert", adminCert,
		"--admin-key", adminKey, "--ca", c.CA.File, "--cert", cert, "--key", key})
	if err != nil {
		t.Fatalf("fleet join: %v\n%s", err, out.String())
	}
	t.Logf("fleet join took %s", time.Since(start))
	if !strings.Contains(out.String(), `name = "ward7-bay2"`) {
		t.Fatalf("join printed no [fleet] section:\n%s", out.String())
	}

	term := c.ClientAs("ward7-bay2")
	if r, err := term.Get(ctx, fleet.DirPrefix, clientv3.WithPrefix()); err != nil || len(r.Kvs) != 1 {
		t.Fatalf("terminal reads the directory: %v", err)
	}
	if _, err := term.Put(ctx, fleet.HeartbeatKey("ward7-bay2"), "up"); err != nil {
		t.Fatalf("terminal writes its own heartbeat: %v", err)
	}
	for _, k := range []string{fleet.UserKey([]byte("u-evil")), fleet.HeartbeatKey("theatre2"), fleet.CodeKey([]byte{1}), fleet.TerminalKey("ward7-bay2")} {
		if _, err := term.Put(ctx, k, "x"); !isDenied(err) {
			t.Errorf("terminal wrote %s: %v, want permission denied", k, err)
		}
	}
	// A certificate of a terminal that never joined gets nothing.
	stranger := c.ClientAs("theatre2")
	if _, err := stranger.Get(ctx, fleet.DirPrefix, clientv3.WithPrefix()); !isDenied(err) && !isUserEmpty(err) {
		t.Errorf("a terminal that never joined read the directory: %v", err)
	}

	// passkioskctl fleet leave: the user and its records go; a new
	// request of that certificate is refused.
	out.Reset()
	if err := e.dispatch([]string{"fleet", "leave", "ward7-bay2", "--endpoints", strings.Join(c.Endpoints(), ","), "--admin-cert", adminCert,
		"--admin-key", adminKey, "--ca", c.CA.File}); err != nil {
		t.Fatalf("fleet leave: %v\n%s", err, out.String())
	}
	if _, err := term.Get(ctx, fleet.DirPrefix, clientv3.WithPrefix()); err == nil {
		t.Error("a terminal that left still reads the directory")
	}
}

func isDenied(err error) bool {
	return err != nil && strings.Contains(err.Error(), rpctypes.ErrPermissionDenied.Error())
}
func isUserEmpty(err error) bool { return err != nil && strings.Contains(err.Error(), "user name") }

func TestFleetJoinRefusesAKeyOthersCanRead(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "t.key")
	if err := os.WriteFile(key, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out, ctx: context.Background()}
	err := e.dispatch([]string{"fleet", "join", "--endpoints", "https://127.0.0.1:1", "--admin-cert", key, "--admin-key", key,
		"--ca", key, "--cert", filepath.Join(dir, "t.crt"), "--key", key})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("join with a world-readable key: %v", err)
	}
}

// Leaving the fleet deletes the terminal's user, but etcd keeps a watch
// it already has open; revoking its certificate refuses its next
// connection, and restarting the members one by one closes the ones it
// has: only then does its watch stop.
func TestALeftTerminalsWatchStopsOnlyWithItsCertificateRevoked(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	root := c.Client()
	enableAuth(t, root)
	ctx := context.Background()
	if err := provision(ctx, root, "ward7"); err != nil {
		t.Fatal(err)
	}
	term := c.ClientAs("ward7")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := term.Watch(wctx, fleet.DirPrefix, clientv3.WithPrefix())
	got := func() bool {
		t.Helper()
		for {
			select {
			case r, ok := <-wch:
				if !ok || r.Err() != nil {
					return false
				}
				if len(r.Events) > 0 {
					return true
				}
			case <-time.After(2 * time.Second):
				return false
			}
		}
	}
	put := func(v string) {
		t.Helper()
		if _, err := root.Put(ctx, fleet.UserKey([]byte("u1")), v); err != nil {
			t.Fatal(err)
		}
	}
	put("1")
	if !got() {
		t.Fatal("the joined terminal's watch saw nothing")
	}
	if err := decommission(ctx, root, "ward7"); err != nil {
		t.Fatal(err)
	}
	put("2")
	if !got() {
		t.Log("etcd stopped the deleted user's watch by itself")
	} else {
		t.Log("the deleted user's open watch still receives, as expected of etcd")
	}
	c.CA.Revoke("ward7")
	for i := range 3 {
		c.Stop(i)
		c.Restart(i)
	}
	put("3")
	if got() {
		t.Fatal("a terminal whose certificate was revoked still receives the directory after the members restarted")
	}
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	if _, err := term.Get(rctx, fleet.DirPrefix, clientv3.WithPrefix()); err == nil {
		t.Fatal("a revoked certificate still reads the directory")
	}
}
