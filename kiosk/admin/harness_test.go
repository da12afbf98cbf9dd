package admin_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"passkiosk/store/storeport"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"passkiosk/fido"
	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/engine"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/policy"
	"passkiosk/store"
)

// ctlBin is the passkioskctl binary, built once for every test.
var ctlBin string

// me is the user running the tests.
var me = func() *user.User {
	u, err := user.Current()
	if err != nil {
		panic(err)
	}
	return u
}()

// absentGroup is an admin group that does not exist: only root may in.
const absentGroup = "passkiosk-admin-test-absent"

// testAdminGroup lets this test's user in: root always is; anyone else
// through their primary group.
func testAdminGroup() string {
	if os.Geteuid() == 0 {
		return absentGroup
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	if err != nil {
		panic(err)
	}
	return g.Name
}

// needRoot skips tests that run passkioskctl as another user, which only
// root can do. CI and the build machines run the tests as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running passkioskctl as another user needs root")
	}
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(holdEnv); spec != "" {
		holdConnections(spec)
		return
	}
	if bin := os.Getenv("PASSKIOSKCTL"); bin != "" {
		// A prebuilt binary, for runs without a Go toolchain at hand
		// (as another user, in a container).
		ctlBin = bin
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "passkioskctl-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Reachable by the unprivileged user of the refusal test.
	os.Chmod(dir, 0o755)
	ctlBin = filepath.Join(dir, "passkioskctl")
	build := exec.Command("go", "build", "-o", ctlBin, "passkiosk/cmd/passkioskctl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building passkioskctl:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// appliance is the appliance's engine on fakes from kiosktest, the real
// store in a temp dir, and the admin server on a Unix socket.
type appliance struct {
	t        *testing.T
	dir      string
	sock     string
	db       *store.DB
	eng      *engine.Engine
	kstore   *kiosktest.Store
	keys     *kiosktest.Keys
	platform *kiosktest.Platform
	sessions *kiosktest.Sessions
	srv      *admin.Server
	logs     *syncBuffer

	mu       sync.Mutex
	policies []policy.Policy // what OnPolicy handed the engine
}

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

const terminal = "Ward 7 - bay 2"

// An option changes the admin server's options (func(*admin.Options)),
// the engine's configuration (func(*engine.Config)) or the database file
// before it opens (storeFile).
type option any

// storeFile prepares the database file before the appliance opens it;
// the appliance then opens it without Open's full check, as one already
// running when the file changed underneath would have.
type storeFile func(t testing.TB, path string)

func outOfService(reason string) func(*engine.Config) {
	return func(c *engine.Config) { c.OutOfService = reason }
}

func newAppliance(t *testing.T, mutate ...option) *appliance {
	t.Helper()
	a := startAppliance(t, mutate...)
	a.t = t
	return a
}

// newApplianceB starts the appliance for a benchmark.
func newApplianceB(b *testing.B) *appliance { return startAppliance(b) }

func startAppliance(t testing.TB, mutate ...option) *appliance {
	t.Helper()
	// A directory others can reach (t.TempDir's parents are private), so
	// the refusal test's unprivileged client reaches the socket and the
	// peer check, not a file-mode error.
	dir, err := os.MkdirTemp("", "passkiosk-admin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	a := &appliance{dir: dir, sock: filepath.Join(dir, "run", "admin.sock"), logs: &syncBuffer{},
		kstore: kiosktest.NewStore(), keys: kiosktest.NewKeys(), platform: kiosktest.NewPlatform(), sessions: &kiosktest.Sessions{}}
	path, sopts := filepath.Join(dir, "passkiosk.db"), store.Options{}
	for _, m := range mutate {
		if f, ok := m.(storeFile); ok {
			f(t, path)
			sopts.SkipCheck = true
		}
	}
	a.db, err = store.Open(path, sopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.db.Close() })
	p := policy.Default()
	p.Default.Program = []string{"/bin/true"}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ecfg := engine.Config{
		Terminal: terminal, Policy: p, Store: a.kstore, Keys: a.keys, Platform: a.platform,
		Sessions: a.sessions, Clock: kiosk.SystemClock{}, Timeouts: engine.DefaultTimeouts,
		Publish: func(kiosk.View) {}, Log: log,
	}
	for _, m := range mutate {
		if f, ok := m.(func(*engine.Config)); ok {
			f(&ecfg)
		}
	}
	a.eng = engine.New(ecfg)
	ctx, cancel := context.WithCancel(context.Background())
	go a.eng.Run(ctx)
	opts := admin.Options{
		Socket: a.sock, AdminGroup: testAdminGroup(), Store: storeport.NewAdmin(a.db, terminal),
		Appliance: a.eng, Keys: a.keys.Present, Version: "1.0.0-test", Terminal: terminal, Log: log,
		OnPolicy:   func(p policy.Policy) { a.mu.Lock(); a.policies = append(a.policies, p); a.mu.Unlock() },
		FollowPoll: 20 * time.Millisecond,
		Isolation: func() admin.Isolation {
			return admin.Isolation{Sandbox: "bubblewrap", Reason: "bwrap works here", Idle: []string{"input devices"}}
		},
	}
	for _, m := range mutate {
		if f, ok := m.(func(*admin.Options)); ok {
			f(&opts)
		}
	}
	a.srv, err = admin.Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("admin server did not stop")
		}
	})
	return a
}

// result is one run of passkioskctl.
type result struct {
	out, err string
	code     int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
}

// ctl runs passkioskctl as root against the appliance's socket.
func (a *appliance) ctl(args ...string) result {
	a.t.Helper()
	return a.run(nil, args...)
}

func (a *appliance) run(cred *syscall.Credential, args ...string) result {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctlBin, append([]string{"--socket", a.sock}, args...)...)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "TZ=UTC")
	cmd.Dir = a.dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{out: out.String(), err: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		a.t.Fatalf("passkioskctl %v: %v", args, err)
	}
	return r
}

// ok runs passkioskctl and fails the test unless it exits 0.
func (a *appliance) ok(args ...string) result {
	a.t.Helper()
	r := a.ctl(args...)
	if r.code != 0 {
		a.t.Fatalf("passkioskctl %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// fails runs passkioskctl and checks its exit code and that stderr says
// what it should.
func (a *appliance) fails(code int, want string, args ...string) result {
	a.t.Helper()
	r := a.ctl(args...)
	if r.code != code || !strings.Contains(r.err, want) {
		a.t.Fatalf("passkioskctl %s: want exit %d and %q on stderr; got %s", strings.Join(args, " "), code, want, r)
	}
	return r
}

// waitState polls the engine until it reaches s. The bound guards
// against a hung test; it measures nothing.
func (a *appliance) waitState(s kiosk.State) {
	a.t.Helper()
	a.waitFor(s.String(), func(v kiosk.View) bool { return v.State == s })
}

func (a *appliance) waitFor(what string, ok func(kiosk.View) bool) {
	a.t.Helper()
	guard := time.Now().Add(10 * time.Second)
	for !ok(a.eng.View()) {
		if time.Now().After(guard) {
			a.t.Fatalf("engine never reached %s; view %+v", what, a.eng.View())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// signIn enrolls a TPM passkey for u through the engine and signs them
// in, so a session is in progress.
func (a *appliance) signIn(u kiosk.User, pin string) {
	a.t.Helper()
	a.kstore.AddUser(u)
	a.kstore.IssueCode("CODE-"+string(u.ID), u.ID, time.Now().Add(time.Hour))
	a.eng.StartEnrollment("CODE-" + string(u.ID))
	a.waitFor("enrollment choice", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptEnrollChoose })
	a.eng.ChooseAttachment(kiosk.AttachPlatform)
	a.waitFor("new PIN", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptNewPIN })
	a.eng.EnterPIN([]byte(pin))
	a.waitFor("enrolled", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptEnrollDone })
	a.eng.Cancel()
	a.waitState(kiosk.StateLocked)
	a.eng.TypeUserName(u.Name)
	a.waitFor("PIN", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptPIN })
	a.eng.EnterPIN([]byte(pin))
	a.waitState(kiosk.StateInSession)
}

// addCredential registers a security-key credential for a user in the
// real store, with a real P-256 COSE key, and records one sign-in so it
// has a last-used time.
func (a *appliance) addCredential(userHex string, aaguid [16]byte) string {
	a.t.Helper()
	uid, _ := hex.DecodeString(userHex)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		a.t.Fatal(err)
	}
	pub, err := fido.NewPublicKey(&k.PublicKey)
	if err != nil {
		a.t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	err = a.db.AddCredential(store.Credential{ID: id, UserID: uid, Kind: store.KindRoaming, PublicKey: pub.Bytes(),
		AAGUID: aaguid, Transports: []string{"usb"}, Format: "packed", Label: "Security key"}, store.Change{Actor: "self", Terminal: terminal})
	if err != nil {
		a.t.Fatal(err)
	}
	if _, _, err := a.db.RecordSignIn(store.SignIn{CredentialID: id, Counter: 7, Terminal: terminal}); err != nil {
		a.t.Fatal(err)
	}
	return hex.EncodeToString(id)
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }
