package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/auditfile"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

func TestAuditThroughTheCLI(t *testing.T) {
	a := newAppliance(t)
	a.ok("users", "add", "alice")
	a.ok("users", "add", "bob")
	a.ok("users", "disable", "bob")

	// --json is JSON lines, as follow prints them; each entry names the
	// person by sign-in name and readable ID.
	tail := decodeLines[admin.AuditEntry](t, a.ok("audit", "tail", "-n", "2", "--json"))
	if len(tail) != 2 || tail[0].Type != kiosk.EventUserCreated.String() || tail[1].Type != kiosk.EventUserChanged.String() || !rootActor.MatchString(tail[1].Actor) {
		t.Fatalf("tail: %+v", tail)
	}
	if tail[1].User != "bob" || !strings.HasPrefix(tail[1].UserID, "u-") || tail[1].Terminal != terminal {
		t.Fatalf("tail does not name bob: %+v", tail[1])
	}
	r := a.ok("audit", "tail")
	if !strings.Contains(r.out, "user-changed") || !strings.Contains(r.out, me.Username+" (uid "+me.Uid+", pid ") || !strings.Contains(r.out, "name=bob state=disabled") {
		t.Fatalf("tail table: %s", r)
	}
	checkAuditTable(t, r.out, "bob ("+tail[1].UserID+")")

	// Export: a header, then JSON lines, each with its chain hash, as
	// many as the log.
	r = a.ok("audit", "export")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	var header auditfile.Header
	if err := json.Unmarshal([]byte(lines[0]), &header); err != nil || header.Terminal != terminal || header.Format != auditfile.Format {
		t.Fatalf("export header %q: %v", lines[0], err)
	}
	lines = lines[1:]
	chain, err := a.db.VerifyChain()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != chain.Entries {
		t.Fatalf("exported %d lines for %d entries", len(lines), chain.Entries)
	}
	// Each line names the hash of the one before: the export can be
	// checked on its own.
	prev := ""
	for i, l := range lines {
		var m struct {
			Seq        uint64
			Prev, Hash string
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Hash == "" || m.Seq != uint64(i+1) || (i > 0 && m.Prev != prev) {
			t.Fatalf("export line %d %q: %v", i, l, err)
		}
		prev = m.Hash
	}
	if want := hex.EncodeToString(chain.Hash); prev != want {
		t.Fatalf("last exported hash %s, chain head %s", prev, want)
	}
	// Status names the same head, read without walking the log.
	if st := decode[admin.Status](t, a.ok("status", "--json")); st.AuditHead != chain.Head || st.AuditHash != prev {
		t.Fatalf("status audit head %d %s; the export ends at %d %s", st.AuditHead, st.AuditHash, len(lines), prev)
	}
	file := a.dir + "/audit.jsonl"
	if r := a.ok("audit", "export", "-o", file, "--from", "2"); !strings.Contains(r.err, fmt.Sprintf("exported %d entries to %s", len(lines)-1, file)) {
		t.Fatalf("export to file: %s", r)
	}
	if b, err := os.ReadFile(file); err != nil || strings.Count(string(b), "\n") != len(lines) {
		t.Fatalf("exported file: %v\n%s", err, b)
	}
	if partial, _ := filepath.Glob(a.dir + "/.audit.jsonl.partial-*"); len(partial) != 0 {
		t.Fatalf("export left %v", partial)
	}
	a.fails(admin.ExitFailed, "file exists", "audit", "export", "-o", file)

	v := decode[admin.Chain](t, a.ok("audit", "verify", "--json"))
	if v.Head != chain.Head || v.Entries != chain.Entries || len(v.Hash) != 64 {
		t.Fatalf("verify: %+v, store says %+v", v, chain)
	}
	if r := a.ok("audit", "verify"); !strings.Contains(r.out, "audit chain intact") {
		t.Fatalf("verify: %s", r)
	}

	// Follow: a second passkioskctl process sees changes made while it
	// runs, then stops after the count it was given.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctlBin, "audit", "follow", "--count", "2", "--json", "--socket", a.sock)
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Changes count once the server has the follow request: its log
	// says so.
	go func() { bufio.NewReader(stderr).ReadString('\n') }()
	a.waitLog("command=audit.follow")
	a.ok("users", "add", "carol")
	a.ok("users", "disable", "carol")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("follow: %v\n%s", err, out.String())
	}
	var got []admin.AuditEntry
	dec := json.NewDecoder(&out)
	for dec.More() {
		var e admin.AuditEntry
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if len(got) != 2 || got[0].Type != kiosk.EventUserCreated.String() || got[1].Type != kiosk.EventUserChanged.String() {
		t.Fatalf("followed: %+v", got)
	}
	// Bounded by time instead of count: ends by itself with nothing new.
	if r := a.ok("audit", "follow", "--for", "300ms"); r.out != "" {
		t.Fatalf("follow with nothing new printed %q", r.out)
	}
}

// waitLog waits until the appliance's log shows s.
func (a *appliance) waitLog(s string) {
	a.t.Helper()
	guard := time.Now().Add(10 * time.Second)
	for !strings.Contains(a.logs.String(), s) {
		if time.Now().After(guard) {
			a.t.Fatalf("the appliance never logged %q:\n%s", s, a.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stalledExport is a Store whose export sends what the log holds and then,
// as an export of a long log would still be going, waits (release closes
// at the end of the test), or fails with fail.
type stalledExport struct {
	admin.Store
	sent    chan struct{}
	release chan struct{}
	fail    error
}

func (s stalledExport) ExportAudit(w io.Writer, from uint64) (int, error) {
	n, err := s.Store.ExportAudit(w, from)
	close(s.sent)
	if err != nil || s.fail != nil {
		return n, errors.Join(err, s.fail)
	}
	<-s.release
	return n, nil
}

func TestUnfinishedExportFailsAndLeavesNoFile(t *testing.T) {
	cases := []struct {
		name   string
		file   bool
		fail   error // nil: Ctrl-C while the export runs
		code   int
		stderr string
	}{
		{"interrupted to a file", true, nil, admin.ExitFailed, "audit export interrupted after "},
		{"interrupted to stdout", false, nil, admin.ExitFailed, "audit export interrupted after "},
		{"appliance fails midway", true, kiosk.Errorf(kiosk.KindStoreCorrupt, "export audit log", "entry 9 does not decode"), admin.ExitFailed, "entry 9 does not decode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hook := stalledExport{sent: make(chan struct{}), release: make(chan struct{}), fail: tc.fail}
			a := newAppliance(t, func(o *admin.Options) { hook.Store = o.Store; o.Store = hook })
			t.Cleanup(func() { close(hook.release) })
			a.ok("users", "add", "alice")
			a.ok("users", "add", "bob")

			file := filepath.Join(a.dir, "audit.jsonl")
			args := []string{"--socket", a.sock, "audit", "export"}
			if tc.file {
				args = append(args, "-o", file)
			}
			cmd := exec.Command(ctlBin, args...)
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-hook.sent:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the export never started")
			}
			if tc.fail == nil {
				// The entries so far are on their way; the last part,
				// which says the export is complete, never comes.
				if tc.file {
					a.waitFiles(a.dir+"/.audit.jsonl.partial-*", 1)
				}
				if err := cmd.Process.Signal(os.Interrupt); err != nil {
					t.Fatal(err)
				}
			}
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			r := result{out: out.String(), err: stderr.String(), code: code}
			if r.code != tc.code || !strings.Contains(r.err, tc.stderr) {
				t.Fatalf("want exit %d and %q on stderr; got %s", tc.code, tc.stderr, r)
			}
			if tc.file {
				if !strings.Contains(r.err, "nothing was written to "+file) || strings.Contains(r.err, "exported ") {
					t.Fatalf("stderr does not say the file was not written: %s", r)
				}
				if _, err := os.Lstat(file); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("an unfinished export left %s: %v", file, err)
				}
				a.waitFiles(a.dir+"/.audit.jsonl.partial-*", 0)
			}
		})
	}
}

// waitFiles waits until as many files match pattern. The bound guards
// against a hung test; it measures nothing.
func (a *appliance) waitFiles(pattern string, n int) {
	a.t.Helper()
	guard := time.Now().Add(10 * time.Second)
	for {
		got, _ := filepath.Glob(pattern)
		if len(got) == n {
			return
		}
		if time.Now().After(guard) {
			a.t.Fatalf("%d files match %s, want %d: %v", len(got), pattern, n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAuditVerifyOnATamperedChain(t *testing.T) {
	var edited uint64
	a := newAppliance(t, storeFile(func(t testing.TB, path string) {
		// Changes made while the appliance ran, then an entry edited
		// in the file by someone who knows the format: its CBOR is
		// re-encoded and its CRC seal recomputed, so only the chain can
		// tell.
		db, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"alice", "bob", "carol"} {
			if err := db.PutUser(store.User{ID: []byte(name), Name: name, State: store.UserActive}, store.Change{Actor: "root (uid 0, pid 1)", Terminal: terminal}); err != nil {
				t.Fatal(err)
			}
		}
		bob, err := db.User([]byte("bob"))
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := db.Events(0, 100)
		for _, e := range evs {
			if e.Type == kiosk.EventUserCreated && bytes.Equal(e.UserID, bob.ID) {
				edited = e.Seq
			}
		}
		db.Close()
		storetest.RewriteAuditEntry(t, path, edited, func(m map[uint64]any) { m[4] = "nobody (uid 65534, pid 1)" })
	}))
	want := fmt.Sprintf("the audit log does not verify: entry %d was modified: hash does not match", edited)
	r := a.fails(admin.ExitFailed, want, "audit", "verify")
	if r.out != "" || !strings.Contains(r.err, "keep the database file as it is") {
		t.Fatalf("verify of a tampered chain: %s", r)
	}
	r = a.ctl("audit", "verify", "--json")
	var e struct {
		Error string
		Code  int
	}
	if err := json.Unmarshal([]byte(r.err), &e); err != nil || r.code != admin.ExitFailed || e.Code != admin.ExitFailed || !strings.Contains(e.Error, want) || r.out != "" {
		t.Fatalf("verify --json of a tampered chain: %v %s", err, r)
	}
}

// A negative count is a mistake, not "the default": passkioskctl refuses
// it, and so does the appliance when a client sends one.
func TestAuditTailRefusesANegativeCount(t *testing.T) {
	a := newAppliance(t)
	a.fails(admin.ExitUsage, "audit tail: -n must be 1..10000, got -5", "audit", "tail", "-n", "-5")
	a.fails(admin.ExitUsage, "audit tail: -n must be 1..10000, got 0", "audit", "tail", "-n", "0")
	r := raw(t, a.sock, []byte(`{"command":"audit.tail","args":{"n":-5}}`+"\n"))
	if r.Error == nil || r.Error.Code != admin.ExitInvalid || !strings.Contains(r.Error.Message, "must be positive") {
		t.Fatalf("audit tail with n=-5 on the wire: %+v", r)
	}
	a.ok("audit", "tail", "-n", "1")
}

// checkAuditTable checks the audit table's shape: a header, no line wider
// than 100 columns, times in RFC 3339 with their zone, and who.
func checkAuditTable(t *testing.T, out, who string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !regexp.MustCompile(`^\s+SEQ TIME\s+EVENT\s+USER \(ID\)\s+TERMINAL$`).MatchString(lines[0]) {
		t.Fatalf("table header %q", lines[0])
	}
	rows := 0
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 100 {
			t.Errorf("line of %d columns: %q", n, l)
		}
		if regexp.MustCompile(`^\s+\d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) `).MatchString(l) {
			rows++
		}
	}
	if rows == 0 || !strings.Contains(out, who) || !strings.Contains(out, terminal) {
		t.Fatalf("table rows %d, want %q and %q in:\n%s", rows, who, terminal, out)
	}
}
