package admin_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/store"
)

// decodeLines reads JSON lines, one T each.
func decodeLines[T any](t *testing.T, r result) []T {
	t.Helper()
	var out []T
	dec := json.NewDecoder(strings.NewReader(r.out))
	for dec.More() {
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("output is not the JSON lines expected: %v\n%s", err, r)
		}
		out = append(out, v)
	}
	return out
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.out), &v); err != nil {
		t.Fatalf("output is not the JSON expected: %v\n%s", err, r)
	}
	return v
}

// lastAudit returns the newest audit entry of the given type.
func lastAudit(t *testing.T, db *store.DB, typ kiosk.Event) store.AuditEvent {
	t.Helper()
	evs, err := db.Events(0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ {
			return evs[i]
		}
	}
	t.Fatalf("no %v entry in the audit log", typ)
	return store.AuditEvent{}
}

// rootActor is how changes by this test's user (root on CI and the
// build machines) are audited.
var rootActor = regexp.MustCompile(`^` + regexp.QuoteMeta(me.Username) + ` \(uid ` + me.Uid + `, pid [0-9]+\)$`)

func checkAdminAudit(t *testing.T, e store.AuditEvent) {
	t.Helper()
	if !rootActor.MatchString(e.Actor) || e.Detail["admin-uid"] != me.Uid || e.Detail["admin-user"] != me.Username || e.Detail["admin-pid"] == "" || e.Terminal != terminal {
		t.Fatalf("audit entry does not say who made the change: %+v", e)
	}
}

func TestUsersThroughTheCLI(t *testing.T) {
	a := newAppliance(t)
	// The built-in policy names no group: groups are refused unless
	// forced (TestUsersEditKeepsCredentialsAndChecksGroups checks them
	// against a policy that names some).
	a.fails(admin.ExitInvalid, `the policy's groups: none`, "users", "add", "alice", "--groups", "nurses,ward7")
	r := a.ok("users", "add", "alice", "--display-name", "Alice Nurse", "--groups", "nurses,ward7", "--force")
	if !strings.Contains(r.out, "added alice (Alice Nurse)") {
		t.Fatalf("add: %s", r)
	}
	created := lastAudit(t, a.db, kiosk.EventUserCreated)
	checkAdminAudit(t, created)
	bob := decode[admin.User](t, a.ok("users", "add", "bob", "--json"))
	// A readable, random ID: "u-" and ten base32 symbols, which the API
	// carries as hex like every ID.
	if bob.Name != "bob" || bob.DisplayName != "bob" || bob.State != "active" || !regexp.MustCompile(`^u-[0-9a-z]{10}$`).MatchString(admin.ReadableUserID(bob.ID)) {
		t.Fatalf("added bob: %+v", bob)
	}
	a.fails(admin.ExitConflict, `user "alice" already exists`, "users", "add", "alice")
	a.fails(admin.ExitInvalid, "use 1 to 64 of a-z", "users", "add", "Alice Smith")
	a.fails(admin.ExitUsage, "usage: passkioskctl users add NAME", "users", "add")

	r = a.ok("users", "list")
	if !regexp.MustCompile(`(?m)^alice\s+Alice Nurse\s+nurses,ward7\s+active`).MatchString(r.out) || !strings.Contains(r.out, "NAME") {
		t.Fatalf("list table: %s", r)
	}
	users := decode[[]admin.User](t, a.ok("users", "list", "--json"))
	if len(users) != 2 {
		t.Fatalf("users: %+v", users)
	}

	r = a.ok("users", "disable", "bob")
	if r.out != "disabled bob\n" {
		t.Fatalf("disable: %s", r)
	}
	checkAdminAudit(t, lastAudit(t, a.db, kiosk.EventUserChanged))
	u, err := a.db.User(mustHex(t, bob.ID))
	if err != nil || u.State != store.UserDisabled {
		t.Fatalf("bob in the store after disable: %+v %v", u, err)
	}
	a.fails(admin.ExitConflict, "bob is disabled: enable them first", "codes", "issue", "bob")
	if got := decode[admin.User](t, a.ok("users", "enable", bob.ID, "--json")); got.State != "active" {
		t.Fatalf("enable by ID: %+v", got)
	}

	d := decode[admin.UserDetail](t, a.ok("users", "show", "alice", "--json"))
	if d.User.Name != "alice" || len(d.Credentials) != 0 {
		t.Fatalf("show: %+v", d)
	}
	a.fails(admin.ExitNotFound, `no user "carol"`, "users", "show", "carol")

	r = a.ctl("users", "remove", "bob", "--yes")
	if r.code != 0 || r.out != "removed bob\n" {
		t.Fatalf("remove: %s", r)
	}
	a.fails(admin.ExitNotFound, `no user "bob"`, "users", "show", "bob")
}

func TestConcurrentAddsOfOneNameMakeOneUser(t *testing.T) {
	a := newAppliance(t)
	// Two administrators add the same name at the same moment, several
	// times over: the store decides in the transaction that adds, so
	// exactly one of each pair wins and the other is told why.
	names := []string{"dana", "eli", "fay", "gus", "hal", "ivy"}
	for _, name := range names {
		var wg sync.WaitGroup
		results := make([]result, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = a.ctl("users", "add", name, "--json")
			}()
		}
		wg.Wait()
		slices.SortFunc(results, func(x, y result) int { return x.code - y.code })
		if results[0].code != admin.ExitOK || results[1].code != admin.ExitConflict ||
			!strings.Contains(results[1].err, `user \"`+name+`\" already exists`) || !strings.Contains(results[1].err, `"code":6`) {
			t.Fatalf("two adds of %s:\n%s\n%s", name, results[0], results[1])
		}
	}
	users, err := a.db.Users()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, u := range users {
		count[u.Name]++
	}
	for _, name := range names {
		if count[name] != 1 {
			t.Errorf("%d users named %s", count[name], name)
		}
	}
	if len(users) != len(names) {
		t.Errorf("%d users for %d names", len(users), len(names))
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hexDecode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCredentialsThroughTheCLI(t *testing.T) {
	a := newAppliance(t)
	alice := decode[admin.User](t, a.ok("users", "add", "alice", "--json"))
	aaguid := [16]byte{0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13, 0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97, 0x07, 0x2a}
	id1 := a.addCredential(alice.ID, aaguid)
	id2 := a.addCredential(alice.ID, [16]byte{})

	// The table names the key model (the full AAGUID is in --json) and
	// fits 100 columns.
	r := a.ok("credentials", "list", "alice")
	if !strings.Contains(r.out, "YubiKey 5") || !strings.Contains(r.out, "roaming") || !strings.Contains(r.out, "LAST USED") {
		t.Fatalf("list: %s", r)
	}
	for _, l := range strings.Split(r.out, "\n") {
		if len([]rune(l)) > 100 {
			t.Fatalf("line wider than 100 columns: %q", l)
		}
	}
	creds := decode[[]admin.Credential](t, a.ok("credentials", "list", "--json"))
	if len(creds) != 2 {
		t.Fatalf("creds: %+v", creds)
	}
	for _, c := range creds {
		if c.UserName != "alice" || c.Kind != "roaming" || c.LastUsed.IsZero() || c.Counter != 7 || c.Format != "packed" || !strings.HasSuffix(c.Name, " "+c.ID[:6]) {
			t.Fatalf("credential as listed: %+v", c)
		}
	}
	a.fails(admin.ExitInvalid, "at least its first 6 digits", "credentials", "revoke", "abc", "--yes")
	a.fails(admin.ExitNotFound, "no credential with ID", "credentials", "revoke", "000000000000", "--yes")
	r = a.ok("credentials", "revoke", id1[:10], "--yes")
	if !strings.Contains(r.out, "revoked roaming credential "+id1+" of alice") {
		t.Fatalf("revoke: %s", r)
	}
	if _, err := a.db.CredentialByID(mustHex(t, id1)); kiosk.KindOf(err) != kiosk.KindNotFound {
		t.Fatalf("revoked credential still stored: %v", err)
	}
	checkAdminAudit(t, lastAudit(t, a.db, kiosk.EventCredentialRemoved))
	d := decode[admin.UserDetail](t, a.ok("users", "show", "alice", "--json"))
	if len(d.Credentials) != 1 || d.Credentials[0].ID != id2 {
		t.Fatalf("after revoke: %+v", d.Credentials)
	}
}

func TestEnrollmentCodesThroughTheCLI(t *testing.T) {
	a := newAppliance(t)
	a.ok("users", "add", "alice")
	r := a.ok("codes", "issue", "alice", "--ttl", "2h")
	code := strings.SplitN(r.out, "\n", 2)[0]
	if !regexp.MustCompile(`^[0-9A-Z]{4}(-[0-9A-Z]{4})+$`).MatchString(code) || !strings.Contains(r.out, "shown only now") {
		t.Fatalf("issue: %s", r)
	}
	checkAdminAudit(t, lastAudit(t, a.db, kiosk.EventEnrollCodeIssued))
	// The code works at the terminal: the store redeems it.
	if rec, err := a.db.RedeemEnrollmentCode(code, terminal, time.Time{}); err != nil || rec.Purpose != store.PurposeEnroll {
		t.Fatalf("redeem the issued code: %+v %v", rec, err)
	}
	// There are no administrator accounts, so no bootstrap codes.
	a.fails(admin.ExitUsage, "flag provided but not defined: -bootstrap", "codes", "issue", "--bootstrap")
	a.fails(admin.ExitInvalid, "there are no bootstrap codes", "codes", "issue", "alice", "--purpose", "bootstrap")
	boot := decode[admin.IssuedCode](t, a.ok("codes", "issue", "alice", "--purpose", "recovery", "--ttl", "30m", "--json"))
	if boot.Info.Purpose != "recovery" || boot.Code == "" || boot.Info.ExpiresAt.Sub(boot.Info.IssuedAt) != 30*time.Minute {
		t.Fatalf("recovery: %+v", boot)
	}
	a.fails(admin.ExitInvalid, "a code must be valid for more than 0", "codes", "issue", "alice", "--ttl", "0s")
	a.fails(admin.ExitInvalid, "at most 168h0m0s", "codes", "issue", "alice", "--ttl", "200h")
	a.fails(admin.ExitUsage, "codes issue USER", "codes", "issue")
	a.fails(admin.ExitNotFound, `no user "zed"`, "codes", "issue", "zed")

	codes := decode[[]admin.Code](t, a.ok("codes", "list", "--json"))
	if len(codes) != 2 || codes[0].UserName != "alice" || codes[0].UsedAt.IsZero() || !codes[1].UsedAt.IsZero() || !rootActor.MatchString(codes[0].IssuedBy) {
		t.Fatalf("codes: %+v", codes)
	}
	r = a.ok("codes", "list")
	if !strings.Contains(r.out, "used ") || !strings.Contains(r.out, "unused") || strings.Contains(r.out, code) {
		t.Fatalf("codes table must show states and never a code: %s", r)
	}
	r = a.ctl("codes", "cancel", boot.Info.ID[:8])
	if r.code != 0 {
		t.Fatalf("cancel: %s", r)
	}
	if _, err := a.db.RedeemEnrollmentCode(boot.Code, terminal, time.Time{}); err == nil {
		t.Fatalf("a cancelled code still works")
	}
	a.fails(admin.ExitNotFound, "no code with ID", "codes", "cancel", "ffffffffff")
}

const goodPolicy = `# ward policy
rp_id = "ward7.example.org"
origin = "https://ward7.example.org"

[default]
program = ["/usr/bin/chromium", "--kiosk"]

[groups.nurses]
idle_timeout = "2m"
idle_warning = "30s"
hours = ["mon-fri 07:00-19:00", "22:00-06:00"]
`

func TestPolicyThroughTheCLI(t *testing.T) {
	a := newAppliance(t)
	write := func(name, text string) string {
		p := filepath.Join(a.dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shown := decode[admin.PolicyShown](t, a.ok("policy", "show", "--json"))
	if shown.Version != 0 || !strings.Contains(shown.Text, `rp_id = "passkiosk.local"`) {
		t.Fatalf("default policy: %+v", shown)
	}
	if r := a.ok("policy", "show"); !strings.HasPrefix(r.out, "# built-in default policy") {
		t.Fatalf("show: %s", r)
	}

	good := write("policy.toml", goodPolicy)
	if r := a.ok("policy", "validate", good); !strings.Contains(r.out, "valid (1 groups") {
		t.Fatalf("validate: %s", r)
	}
	typo := write("typo.toml", strings.Replace(goodPolicy, `idle_timeout = "2m"`, `idle_timout = "2m"`, 1))
	want := `typo.toml:9: unknown key "idle_timout" in [groups.nurses] (did you mean idle_timeout?)`
	a.fails(admin.ExitInvalid, want, "policy", "validate", typo)
	a.fails(admin.ExitInvalid, want, "policy", "apply", typo)
	bad := write("bad.toml", goodPolicy+"\n[lockout]\nwindow = \"soon\"\n")
	a.fails(admin.ExitInvalid, `bad.toml:14: lockout.window: "soon" is not a duration`, "policy", "validate", bad)
	a.fails(admin.ExitInvalid, "no such file", "policy", "validate", filepath.Join(a.dir, "missing.toml"))

	r := a.ok("policy", "apply", good, "--dry-run")
	if !strings.Contains(r.out, `+ rp_id = "ward7.example.org"`) || !strings.Contains(r.out, "dry run: nothing applied") {
		t.Fatalf("dry run: %s", r)
	}
	if _, err := a.db.CurrentPolicy(); kiosk.KindOf(err) != kiosk.KindNotFound {
		t.Fatalf("a dry run stored a policy: %v", err)
	}
	r = a.ok("policy", "apply", good, "--yes")
	for _, want := range []string{`- rp_id = "passkiosk.local"`, `+ rp_id = "ward7.example.org"`, `+ [groups.nurses]`, `+ idle_timeout = "2m"`, "applied as version 1 (was 0)"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("apply output lacks %q: %s", want, r)
		}
	}
	sp, err := a.db.CurrentPolicy()
	if err != nil || sp.Version != 1 || !rootActor.MatchString(sp.ChangedBy) {
		t.Fatalf("stored policy: %+v %v", sp, err)
	}
	checkAdminAudit(t, lastAudit(t, a.db, kiosk.EventPolicyChanged))
	a.mu.Lock()
	handed := a.policies
	a.mu.Unlock()
	if len(handed) != 1 || handed[0].RPID != "ward7.example.org" || handed[0].Version != 1 ||
		handed[0].RulesFor([]string{"nurses"}).IdleTimeout != 2*time.Minute || len(handed[0].Groups[0].Rules.Hours) != 2 {
		t.Fatalf("policy handed to the engine: %+v", handed)
	}
	if r := a.ok("policy", "apply", good, "--yes"); !strings.Contains(r.out, "no change") {
		t.Fatalf("apply again: %s", r)
	}
	shown = decode[admin.PolicyShown](t, a.ok("policy", "show", "--json"))
	if shown.Version != 1 || !strings.Contains(shown.Text, `hours = ["mon-fri 07:00-19:00", "22:00-06:00"]`) {
		t.Fatalf("show after apply: %+v", shown)
	}
	changed := write("v2.toml", strings.Replace(goodPolicy, `"2m"`, `"3m"`, 1))
	a.fails(admin.ExitConflict, "the policy is at version 1, not 7", "policy", "apply", changed, "--base", "7", "--yes")
	res := decode[admin.PolicyApplied](t, a.ok("policy", "apply", changed, "--base", "1", "--json", "--yes"))
	if res.Version != 2 || res.Previous != 1 || !strings.Contains(res.Diff, "- idle_timeout = \"2m\"\n+ idle_timeout = \"3m\"") {
		t.Fatalf("apply v2: %+v", res)
	}
}

func TestSessionsThroughTheCLI(t *testing.T) {
	a := newAppliance(t)
	alice := decode[admin.User](t, a.ok("users", "add", "alice", "--display-name", "Alice Nurse", "--json"))
	a.fails(admin.ExitNotFound, "no session is in progress", "sessions", "end")
	if r := a.ok("sessions", "list"); !strings.Contains(r.out, "no session in progress") {
		t.Fatalf("list: %s", r)
	}

	// The engine knows people by the store's user ID bytes, as the
	// appliance's storeport.Records hands them over; the admin API by
	// their hex.
	a.signIn(kiosk.User{ID: kiosk.UserID(mustHex(t, alice.ID)), Name: "alice", DisplayName: "Alice Nurse"}, "135790")
	// The journal entry the appliance writes when a session opens.
	journal, err := a.db.OpenSession(store.Session{UserID: mustHex(t, alice.ID), Terminal: terminal, Workspace: "/run/passkiosk/s/1"})
	if err != nil {
		t.Fatal(err)
	}
	l := decode[admin.SessionsList](t, a.ok("sessions", "list", "--json"))
	if l.Current == nil || l.Current.DisplayName != "Alice Nurse" || l.Current.User != alice.ID || len(l.Journal) != 1 || l.Journal[0].UserName != "alice" || !l.Journal[0].EndedAt.IsZero() {
		t.Fatalf("sessions: %+v", l)
	}
	if r := a.ok("sessions", "list", "--open"); !strings.Contains(r.out, "in progress: Alice Nurse") || !strings.Contains(r.out, "open") {
		t.Fatalf("list table: %s", r)
	}
	a.fails(admin.ExitConflict, "alice is signed in: end the session first", "users", "remove", "alice", "--yes")

	r := a.ok("sessions", "end")
	if !strings.Contains(r.out, "session ended") {
		t.Fatalf("end: %s", r)
	}
	a.waitState(kiosk.StateLocked)
	if got := a.sessions.Last().Ended(); got == kiosk.EndUnknown {
		t.Fatalf("the engine did not end its session")
	}
	// The administrator's request is audited as a request: who asked,
	// for which session, and that the engine took it. The end itself is
	// the engine's entry (here in its fake store), not the admin API's.
	req := lastAudit(t, a.db, kiosk.EventSessionEndRequested)
	checkAdminAudit(t, req)
	if req.Detail["accepted"] != "true" || !bytes.Equal(req.UserID, mustHex(t, alice.ID)) || req.SessionID != journal.ID || req.Detail["session-started"] == "" || req.Cause != kiosk.EndUnknown {
		t.Fatalf("end request audit: %+v", req)
	}
	if evs, _ := a.db.Events(0, 1000); slices.ContainsFunc(evs, func(e store.AuditEvent) bool { return e.Type == kiosk.EventSessionEnded }) {
		t.Fatalf("the admin API wrote a session end of its own: %+v", evs)
	}
	// The engine writes its entries just after it lets go of its lock.
	ended := false
	for guard := time.Now().Add(5 * time.Second); !ended && time.Now().Before(guard); time.Sleep(5 * time.Millisecond) {
		ended = slices.ContainsFunc(a.kstore.AuditLog(), func(e kiosk.AuditEvent) bool { return e.Type == kiosk.EventSessionEnded && e.Outcome == "admin" })
	}
	if !ended {
		t.Fatalf("the engine did not audit the end: %+v", a.kstore.AuditLog())
	}
	a.fails(admin.ExitNotFound, "no session is in progress", "sessions", "end")
}

// endRefused is an engine whose session ends on its own just as an
// administrator asks to end it: EndSession finds none.
type endRefused struct{ admin.Appliance }

func (endRefused) EndSession(kiosk.EndCause) bool { return false }

func TestRefusedEndIsAuditedAsNotAccepted(t *testing.T) {
	a := newAppliance(t, func(o *admin.Options) { o.Appliance = endRefused{o.Appliance} })
	alice := decode[admin.User](t, a.ok("users", "add", "alice", "--json"))
	a.signIn(kiosk.User{ID: kiosk.UserID(mustHex(t, alice.ID)), Name: "alice", DisplayName: "Alice"}, "135790")
	a.fails(admin.ExitNotFound, "the session ended on its own meanwhile", "sessions", "end")
	req := lastAudit(t, a.db, kiosk.EventSessionEndRequested)
	checkAdminAudit(t, req)
	if req.Detail["accepted"] != "false" || !bytes.Equal(req.UserID, mustHex(t, alice.ID)) {
		t.Fatalf("refused end request audit: %+v", req)
	}
	evs, err := a.db.Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == kiosk.EventSessionEnded {
			t.Fatalf("the log shows an end that never happened: %+v", e)
		}
	}
	if a.eng.View().State != kiosk.StateInSession {
		t.Fatalf("the session ended: %+v", a.eng.View())
	}
}

func TestStatusThroughTheCLI(t *testing.T) {
	a := newAppliance(t)
	st := decode[admin.Status](t, a.ok("status", "--json"))
	if st.Health != "ok" || st.State != kiosk.StateLocked.String() || !st.TPM.Available || len(st.Keys) != 0 || st.Version != "1.0.0-test" || st.Terminal != terminal {
		t.Fatalf("status: %+v", st)
	}
	k := kiosktest.NewKey("key-1", "1234", true)
	a.keys.Plug(k)
	a.waitFor("key plugged", func(v kiosk.View) bool { return v.KeyPresent })
	st = decode[admin.Status](t, a.ok("status", "--json"))
	if len(st.Keys) != 1 || st.Keys[0].ID != k.Info.ID || !st.Keys[0].Fingerprint {
		t.Fatalf("status with a key: %+v", st)
	}
	r := a.ok("status")
	if iso := st.Isolation; iso == nil || iso.Sandbox != "bubblewrap" || len(iso.Idle) != 1 {
		t.Fatalf("status isolation: %+v", st.Isolation)
	}
	for _, want := range []string{"health:    ok", "tpm:       available", "keys:      1 plugged", "version:   1.0.0-test",
		"sandbox:   bubblewrap (bwrap works here)", "idle from: input devices"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("status lacks %q: %s", want, r)
		}
	}
	if r := a.ok("version"); !strings.HasPrefix(r.out, "passkioskctl ") {
		t.Fatalf("version: %s", r)
	}
}

// Sessions confined less than the configuration asked make the health
// degraded, with the reason, not only a line further down.
func TestStatusIsDegradedWhenTheSandboxFellBack(t *testing.T) {
	a := newAppliance(t, func(o *admin.Options) {
		o.Isolation = func() admin.Isolation {
			return admin.Isolation{Sandbox: "none", Reason: "plain process group; no sandbox works here", Idle: []string{},
				Fallback: "sessions run without a sandbox: bubblewrap: not found"}
		}
	})
	st := decode[admin.Status](t, a.ok("status", "--json"))
	if st.Health != "degraded" || !strings.Contains(st.OutOfService, "sessions run without a sandbox") || st.Isolation.Fallback == "" {
		t.Fatalf("status with a fallen-back sandbox: %+v", st)
	}
	if r := a.ok("status"); !strings.Contains(r.out, "health:    degraded") || !strings.Contains(r.out, "reason:    sessions: sessions run without a sandbox: bubblewrap: not found") {
		t.Fatalf("status: %s", r)
	}
}
