package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk/admin"
	"passkiosk/store"
)

func TestAuditThroughTheCLI(t *testing.T) {
	a := newAppliance(t)
	a.ok("users", "add", "alice")
	a.ok("users", "add", "bob")
	a.ok("users", "disable", "bob")

	tail := decode[[]admin.AuditEntry](t, a.ok("audit", "tail", "-n", "2", "--json"))
	if len(tail) != 2 || tail[0].Type != store.EventUserCreated.String() || tail[1].Type != store.EventUserChanged.String() || !rootActor.MatchString(tail[1].Actor) {
		t.Fatalf("tail: %+v", tail)
	}
	if r := a.ok("audit", "tail"); !strings.Contains(r.out, "user-changed") || !strings.Contains(r.out, me.Username+" (uid "+me.Uid+", pid ") || !strings.Contains(r.out, "name=bob state=disabled") {
		t.Fatalf("tail table: %s", r)
	}

	// Export: JSON lines, each with its chain hash, as many as the log.
	r := a.ok("audit", "export")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
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
	file := a.dir + "/audit.jsonl"
	if r := a.ok("audit", "export", "-o", file, "--from", "2"); !strings.Contains(r.err, "exported ") {
		t.Fatalf("export to file: %s", r)
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
	if len(got) != 2 || got[0].Type != store.EventUserCreated.String() || got[1].Type != store.EventUserChanged.String() {
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
