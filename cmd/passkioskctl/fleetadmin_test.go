package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/collect"
	"passkiosk/store/fleet/fleetadmin"
	"passkiosk/store/fleet/fleettest"
)

// fleetRig is an embedded cluster, the fleet service's admin API over
// TLS with client certificates, and the real passkioskctl binary.
type fleetRig struct {
	t        *testing.T
	c        *fleettest.Cluster
	root     *clientv3.Client
	dir      *fleet.Directory
	url, bin string
	log      *syncBuffer
	col      *collect.Collector
}

// syncBuffer is the service's log, written by its handlers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// ctlBinary builds passkioskctl once for the package's tests.
func ctlBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "passkioskctl-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "passkioskctl")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build passkioskctl: %v", buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// startFleetRig starts the rig; with archive, the fleet's audit
// collector runs too, archiving in a temporary directory.
func startFleetRig(t *testing.T, archive bool) *fleetRig {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	r := &fleetRig{t: t, c: c, root: c.Client(), log: &syncBuffer{}, bin: ctlBinary(t)}
	enableAuth(t, r.root)
	r.dir = &fleet.Directory{Client: r.root}
	pem, err := os.ReadFile(c.CA.File)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	log := slog.New(slog.NewTextHandler(r.log, nil))
	o := fleetadmin.Options{Dir: r.dir, AdminCAs: pool, Log: log}
	if archive {
		o.Feed, o.ArchiveDir = fleetadmin.NewFeed(), t.TempDir()
		col, err := collect.New(r.root, collect.Options{Dir: o.ArchiveDir, Archived: o.Feed.Publish, Rescan: time.Second, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		o.Archive, r.col = col, col
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = col.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done; col.Close() })
	}
	srv := httptest.NewUnstartedServer(fleetadmin.Handler(o))
	certFile, keyFile := c.CA.Issue("fleetd", true)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// run runs passkioskctl with args and returns its output and exit code.
func (r *fleetRig) run(args ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = append(os.Environ(), "PASSKIOSK_SOCKET=/nonexistent/admin.sock")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.t.Fatalf("passkioskctl %v: %v", args, err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// as runs a fleet command with the certificate of administrator name.
func (r *fleetRig) as(name string, args ...string) (stdout, stderr string, code int) {
	cert, key := r.c.CA.Issue(name, false)
	return r.run(append(args, "--fleet", r.url, "--fleet-cert", cert, "--fleet-key", key, "--fleet-ca", r.c.CA.File)...)
}

// mustAs is as, failing the test unless the command succeeds.
func (r *fleetRig) mustAs(name string, args ...string) string {
	r.t.Helper()
	out, errOut, code := r.as(name, args...)
	if code != 0 {
		r.t.Fatalf("passkioskctl %v as %s: exit %d\n%s%s", args, name, code, out, errOut)
	}
	return out
}

// grant gives name a role with the cluster's root certificate, as IT
// does once per administrator.
func (r *fleetRig) grant(name, role string) {
	r.t.Helper()
	cert, key := r.c.CA.Issue("root", false)
	out, errOut, code := r.run("fleet", "admin", "add", name, "--role", role, "--endpoints", strings.Join(r.c.Endpoints(), ","),
		"--admin-cert", cert, "--admin-key", key, "--ca", r.c.CA.File)
	if code != 0 {
		r.t.Fatalf("fleet admin add %s: exit %d\n%s%s", name, code, out, errOut)
	}
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v in %q", err, s)
	}
	return v
}

// A certificate without a role, and an auditor asking for a change, are
// refused with exit code 3 and a message that says who can grant the
// role; nothing changes.
func TestFleetAdminRefusesCertificatesWithoutTheRole(t *testing.T) {
	r := startFleetRig(t, false)
	r.grant("carol", "auditor")

	out, errOut, code := r.as("mallory", "users", "list")
	if code != admin.ExitRefused || !strings.Contains(errOut, `"mallory" has no role in the fleet`) || !strings.Contains(errOut, "fleet admin add mallory --role") {
		t.Fatalf("no role: exit %d, want %d with what to do\n%s%s", code, admin.ExitRefused, out, errOut)
	}
	if out := r.mustAs("carol", "users", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("auditor reads: %q", out)
	}
	out, errOut, code = r.as("carol", "users", "add", "ann")
	if code != admin.ExitRefused || !strings.Contains(errOut, "carol is an auditor") || !strings.Contains(errOut, "needs the admin role") {
		t.Fatalf("auditor changes: exit %d\n%s%s", code, out, errOut)
	}
	if us, err := r.dir.Users(context.Background()); err != nil || len(us) != 0 {
		t.Fatalf("after refusals the directory holds %d users (%v)", len(us), err)
	}
	// Removing the role takes effect at the next command.
	r.grant("dave", "admin")
	r.mustAs("dave", "whoami")
	cert, key := r.c.CA.Issue("root", false)
	if _, e, code := r.run("fleet", "admin", "remove", "dave", "--endpoints", strings.Join(r.c.Endpoints(), ","),
		"--admin-cert", cert, "--admin-key", key, "--ca", r.c.CA.File); code != 0 {
		t.Fatalf("fleet admin remove: %s", e)
	}
	if _, errOut, code := r.as("dave", "whoami"); code != admin.ExitRefused {
		t.Fatalf("removed admin: exit %d %s", code, errOut)
	}
	if !strings.Contains(r.log.String(), "fleet admin: refused") || !strings.Contains(r.log.String(), "admin=mallory") {
		t.Errorf("the service's log has no refusal of mallory:\n%s", r.log.String())
	}
	// A terminal's name cannot be made an administrator.
	if _, err := r.root.UserAddWithOptions(context.Background(), "ward1", "", &clientv3.UserAddOptions{NoPassword: true}); err != nil {
		t.Fatal(err)
	}
	if err := provision(context.Background(), r.root, "ward1"); err != nil {
		t.Fatal(err)
	}
	if _, e, code := r.run("fleet", "admin", "add", "ward1", "--role", "admin", "--endpoints", strings.Join(r.c.Endpoints(), ","),
		"--admin-cert", cert, "--admin-key", key, "--ca", r.c.CA.File); code != admin.ExitConflict || !strings.Contains(e, "is a terminal") {
		t.Fatalf("terminal as admin: exit %d %s", code, e)
	}
}

// An administrator manages people, passkeys, codes, the policy and the
// terminals of the whole fleet with the real passkioskctl, and every
// change carries their name in its directory record and in the service's
// log.
func TestFleetAdminChangesRecordWhoMadeThem(t *testing.T) {
	r := startFleetRig(t, false)
	r.grant("alice", "admin")
	if out := r.mustAs("alice", "whoami"); !strings.Contains(out, "alice (admin)") {
		t.Fatalf("whoami: %q", out)
	}

	id := adminPeople(t, r)
	adminCredentials(t, r, id)
	adminCodesAndPolicy(t, r, id)
	adminTerminals(t, r)
	adminRemoval(t, r, id)
	for _, want := range []string{"admin=alice command=users.add", "admin=alice command=credentials.revoke", "admin=alice command=policy.apply",
		"admin=alice command=codes.issue", "admin=alice command=terminals.set"} {
		if !strings.Contains(r.log.String(), want) {
			t.Errorf("the service's log has no %q", want)
		}
	}
	// A command the fleet does not have is a usage error, not a crash.
	if _, e, code := r.as("alice", "tpm", "lockout"); code != admin.ExitUsage || !strings.Contains(e, "no command") {
		t.Errorf("tpm lockout on the fleet: exit %d %s", code, e)
	}
}

// adminPeople adds, disables and enables ann; it returns her ID.
func adminPeople(t *testing.T, r *fleetRig) []byte {
	ctx := context.Background()
	added := decodeJSON[admin.User](t, r.mustAs("alice", "users", "add", "ann", "--display-name", "Ann Smith", "--json"))
	if _, _, code := r.as("alice", "users", "add", "ann"); code != admin.ExitConflict {
		t.Errorf("a second ann: exit %d, want %d", code, admin.ExitConflict)
	}
	r.mustAs("alice", "users", "disable", "ann")
	id, _ := hex.DecodeString(added.ID)
	resp, err := r.root.Get(ctx, fleet.UserKey(id))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("ann in the directory: %v", err)
	}
	u, by, err := fleet.DecodeUserBy(resp.Kvs[0].Value)
	if err != nil || u.State != store.UserDisabled || by != "alice" || u.DisplayName != "Ann Smith" {
		t.Fatalf("ann's record: %+v by %q (%v), want disabled by alice", u, by, err)
	}
	r.mustAs("alice", "users", "enable", "ann")
	if out := r.mustAs("alice", "users", "list"); !strings.Contains(out, "ann") || !strings.Contains(out, "active") {
		t.Errorf("users list:\n%s", out)
	}

	return id
}

// adminCredentials revokes a credential of ann's with a reason.
func adminCredentials(t *testing.T, r *fleetRig, id []byte) {
	ctx := context.Background()
	// A roaming credential as a terminal registers it; alice revokes it.
	cred := store.Credential{ID: []byte("cred-of-ann-0001"), UserID: id, Kind: store.KindRoaming, PublicKey: []byte{1, 2, 3}, Label: "blue key"}
	if _, err := r.dir.PutCredential(ctx, cred); err != nil {
		t.Fatal(err)
	}
	creds := decodeJSON[[]admin.Credential](t, r.mustAs("alice", "credentials", "list", "ann", "--json"))
	if len(creds) != 1 || creds[0].UserName != "ann" {
		t.Fatalf("ann's credentials: %+v", creds)
	}
	r.mustAs("alice", "credentials", "revoke", creds[0].ID[:8], "--yes", "--reason", "key lost")
	revs := decodeJSON[[]fleetapi.Revocation](t, r.mustAs("alice", "revocations", "list", "--json"))
	if len(revs) != 1 || revs[0].By != "alice" || revs[0].Reason != "key lost" || revs[0].UserName != "ann" {
		t.Fatalf("revocations: %+v", revs)
	}

}

// adminCodesAndPolicy issues a code for ann and applies a policy.
func adminCodesAndPolicy(t *testing.T, r *fleetRig, id []byte) {
	ctx := context.Background()
	issued := decodeJSON[admin.IssuedCode](t, r.mustAs("alice", "codes", "issue", "ann", "--ttl", "2h", "--json"))
	k, err := r.dir.LookupCode(ctx, issued.Code)
	if err != nil || k.IssuedBy != "alice" || string(k.UserID) != string(id) {
		t.Fatalf("the issued code in the directory: %+v (%v)", k, err)
	}

	policyFile := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policyFile, []byte("show_tiles = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	applied := decodeJSON[admin.PolicyApplied](t, r.mustAs("alice", "policy", "apply", policyFile, "--yes", "--json"))
	if applied.Version != 1 || !applied.Changed {
		t.Fatalf("policy apply: %+v", applied)
	}
	if _, _, code := r.as("alice", "policy", "apply", policyFile, "--yes", "--base", "7"); code != admin.ExitConflict {
		t.Errorf("apply against a stale base: exit %d, want %d", code, admin.ExitConflict)
	}
	p, err := r.dir.Policy(ctx)
	if err != nil || p.Version != 1 || p.ChangedBy != "alice" {
		t.Fatalf("fleet policy: %+v (%v)", p, err)
	}
	if out := r.mustAs("alice", "policy", "show"); !strings.Contains(out, "version 1") || !strings.Contains(out, "by alice") {
		t.Errorf("policy show:\n%s", out)
	}

}

// adminTerminals sets a terminal's inventory record and lists it with
// its agent's heartbeat.
func adminTerminals(t *testing.T, r *fleetRig) {
	r.mustAs("alice", "terminals", "set", "ward7-bay2", "--site", "North", "--ward", "7", "--label", "floor=2")
	runAgent(t, r, "ward7-bay2")
	var term fleetapi.Terminal
	waitFor(t, 10*time.Second, "ward7-bay2 to report a current copy", func() bool {
		l := decodeJSON[fleetapi.TerminalList](t, r.mustAs("alice", "terminals", "list", "--json"))
		if len(l.Terminals) != 1 {
			return false
		}
		term = l.Terminals[0]
		return term.Health == "ok" && term.Applied >= l.Revision
	})
	if term.Site != "North" || term.Ward != "7" || term.Labels["floor"] != "2" || term.UpdatedBy != "alice" || term.LastHeartbeat.IsZero() {
		t.Fatalf("terminal: %+v", term)
	}
	t.Logf("terminals list:\n%s", r.mustAs("alice", "terminals", "list"))

}

// adminRemoval edits ann, cancels a code of hers and removes her: her
// remaining credential is revoked by alice and her unused codes go.
func adminRemoval(t *testing.T, r *fleetRig, id []byte) {
	ctx := context.Background()
	r.mustAs("alice", "users", "edit", "ann", "--display-name", "Ann Jones")
	if u := decodeJSON[admin.UserDetail](t, r.mustAs("alice", "users", "show", "ann", "--json")); u.User.DisplayName != "Ann Jones" {
		t.Fatalf("after users edit: %+v", u.User)
	}
	issued := decodeJSON[admin.IssuedCode](t, r.mustAs("alice", "codes", "issue", "ann", "--json"))
	r.mustAs("alice", "codes", "cancel", issued.Info.ID[:8])
	if _, err := r.dir.LookupCode(ctx, issued.Code); err == nil {
		t.Fatal("a cancelled code is still valid")
	}
	cred := store.Credential{ID: []byte("cred-of-ann-0002"), UserID: id, Kind: store.KindRoaming, PublicKey: []byte{4}, Label: "red key"}
	if _, err := r.dir.PutCredential(ctx, cred); err != nil {
		t.Fatal(err)
	}
	r.mustAs("alice", "users", "remove", "ann", "--yes")
	if _, _, code := r.as("alice", "users", "show", "ann"); code != admin.ExitNotFound {
		t.Fatalf("ann after removal: exit %d", code)
	}
	revs := decodeJSON[[]fleetapi.Revocation](t, r.mustAs("alice", "revocations", "list", "--json"))
	found := false
	for _, rv := range revs {
		found = found || rv.CredentialID == hex.EncodeToString(cred.ID) && rv.By == "alice" && rv.Reason == "user removed"
	}
	if !found {
		t.Fatalf("ann's red key was not revoked by alice: %+v", revs)
	}
	if codes := decodeJSON[[]admin.Code](t, r.mustAs("alice", "codes", "list", "--json")); slices.ContainsFunc(codes, func(c admin.Code) bool { return c.UsedAt.IsZero() }) {
		t.Fatalf("ann's unused codes remain: %+v", codes)
	}
}

// runAgent runs terminal name's agent, heartbeats included, on its own
// store until the test ends.
func runAgent(t *testing.T, r *fleetRig, name string) {
	db, err := store.Open(filepath.Join(t.TempDir(), name+".db"), store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a, err := fleet.NewAgent(fleet.Options{Client: r.root, DB: db, Terminal: name, Probe: 100 * time.Millisecond, Heartbeat: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the agent did not stop within 10 s")
		}
		db.Close()
	})
}

// waitFor polls ok every 100 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !ok() {
		if time.Now().After(end) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
