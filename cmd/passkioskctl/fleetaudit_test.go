package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store/fleet/audittest"
	"passkiosk/store/fleet/ship"
)

// ship runs terminal tm's audit shipping until the test ends.
func (r *fleetRig) ship(tm *audittest.Terminal) {
	s, err := ship.New(tm.DB, r.root, ship.Options{Name: tm.Name, Timeout: 2 * time.Second, RetryMax: time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	r.t.Cleanup(func() { cancel(); <-done })
}

// archived waits until terminal name's archive reaches entry last.
func (r *fleetRig) archived(name string, last uint64) {
	r.t.Helper()
	waitFor(r.t, 20*time.Second, name+"'s entries in the archive", func() bool { return r.col.Status()[name].Last >= last })
}

func jsonLines[T any](t *testing.T, s string) []T {
	t.Helper()
	var out []T
	dec := json.NewDecoder(strings.NewReader(s))
	for dec.More() {
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%v in %q", err, s)
		}
		out = append(out, v)
	}
	return out
}

// An auditor reads the audit trail of every terminal from the fleet
// service's archive: the newest entries by person, terminal and event,
// an export of one terminal's chain that verifies on its own, the check
// of every archived chain, and new entries as they are archived.
func TestFleetAuditAcrossTerminals(t *testing.T) {
	r := startFleetRig(t, true)
	r.grant("carol", "auditor")
	t1 := audittest.Open(t, t.TempDir(), "t1")
	t2 := audittest.Open(t, t.TempDir(), "t2")
	t.Cleanup(func() { t1.Close(t); t2.Close(t) })
	last1, last2 := t1.Append(t, 30), t2.Append(t, 30)
	r.ship(t1)
	r.ship(t2)
	r.archived("t1", last1)
	r.archived("t2", last2)

	tail := jsonLines[fleetapi.AuditHit](t, r.mustAs("carol", "audit", "tail", "-n", "5", "--terminal", "t1", "--json"))
	if len(tail) != 5 || tail[4].FleetName != "t1" || tail[4].Entry.Seq != last1 {
		t.Fatalf("tail -n 5 of t1: %+v", tail)
	}
	_, person := audittest.Person(5)
	for _, h := range jsonLines[fleetapi.AuditHit](t, r.mustAs("carol", "audit", "tail", "-n", "100", "--person", person, "--json")) {
		if h.Entry.User != person {
			t.Errorf("--person %s gave %+v", person, h.Entry)
		}
	}
	failed := jsonLines[fleetapi.AuditHit](t, r.mustAs("carol", "audit", "tail", "-n", "100", "--event", "sign-in-failed", "--json"))
	if len(failed) != 12 {
		t.Errorf("--event sign-in-failed: %d entries, want 12 (6 per terminal)", len(failed))
	}
	if _, e, code := r.as("carol", "audit", "tail", "--event", "sign-on"); code != admin.ExitInvalid || !strings.Contains(e, `"sign-on"`) {
		t.Errorf("unknown event: exit %d %s", code, e)
	}

	file := filepath.Join(t.TempDir(), "t1.jsonl")
	r.mustAs("carol", "audit", "export", "--terminal", "t1", "-o", file)
	if out, e, code := r.run("audit", "verify", file); code != 0 {
		t.Fatalf("audit verify of the fleet export: exit %d\n%s%s", code, out, e)
	}
	v := decodeJSON[fleetapi.AuditVerified](t, r.mustAs("carol", "audit", "verify", "--json"))
	if v.Broken != 0 || len(v.Terminals) != 2 || v.Terminals[0].Last != last1 || !v.Terminals[0].StartsChain {
		t.Fatalf("audit verify on the fleet: %+v", v)
	}

	followAcrossTerminals(t, r, t1, t2, last2)
}

// followAcrossTerminals follows t2's entries: three written on t2 after
// the follow started arrive, and none of t1's.
func followAcrossTerminals(t *testing.T, r *fleetRig, t1, t2 *audittest.Terminal, last2 uint64) {
	cert, key := r.c.CA.Issue("carol", false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, "audit", "follow", "--terminal", "t2", "--count", "3", "--for", "50s",
		"--fleet", r.url, "--fleet-cert", cert, "--fleet-key", key, "--fleet-ca", r.c.CA.File)
	var out bytes.Buffer
	errOut := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the follow to start", func() bool { return strings.Contains(errOut.String(), "following") })
	start := time.Now()
	t1.Append(t, 2)
	t2.Append(t, 3)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("audit follow: %v\n%s", err, errOut.String())
	}
	t.Logf("follow: 3 entries written to the table %s after they were appended on the terminal", time.Since(start))
	if got := strings.Count(out.String(), " sign-in") + strings.Count(out.String(), " session-ended"); got != 3 || !strings.Contains(out.String(), fmt.Sprintf("%6d ", last2+3)) {
		t.Fatalf("follow printed %d entries, want entries %d..%d of t2:\n%s", got, last2+1, last2+3, out.String())
	}
	if strings.Contains(out.String(), "t1") {
		t.Errorf("follow --terminal t2 printed t1's entries:\n%s", out.String())
	}
}
