package collect_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/audittest"
	"passkiosk/store/fleet/collect"
	"passkiosk/store/fleet/fleettest"
)

func TestArchivesEveryTerminalThenEmptiesEtcdAndSearches(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := audittest.Client(t, c.Endpoints())
	defer cl.Close()
	dir, arc := t.TempDir(), t.TempDir()
	heads := map[string]uint64{}
	var tms []*audittest.Terminal
	for i := range 3 {
		tm := audittest.Open(t, dir, fmt.Sprintf("ward%d-t%d", i, i))
		heads[tm.Name] = tm.Append(t, 150)
		tms = append(tms, tm)
		shipper(t, tm, cl)
	}
	col, _ := collector(t, cl, arc, collect.Options{Batch: 40})
	for _, tm := range tms {
		heads[tm.Name] = tm.Append(t, 30) // arrive while it runs
	}
	for name, seq := range heads {
		waitFor(t, 20*time.Second, name+" archived", func() bool { return archived(col, name, seq) })
		ch := verifyFile(t, arc, name)
		if !ch.StartsChain || ch.First != 1 || ch.Last != seq || ch.Entries != int(seq) {
			t.Errorf("%s: archive %+v, want entries 1 to %d from the chain's start", name, ch, seq)
		}
		waitFor(t, 10*time.Second, name+" deleted from etcd", func() bool { return shippedLeft(t, cl, name) == 0 })
	}

	id, who := audittest.Person(4)
	hits, err := col.Search(collect.Query{Person: who})
	if err != nil || len(hits) == 0 {
		t.Fatalf("search by name: %d hits, %v", len(hits), err)
	}
	for _, h := range hits {
		if h.Entry.User != who {
			t.Fatalf("hit for %s: %+v", who, h.Entry)
		}
	}
	byID, _ := col.Search(collect.Query{Person: kiosk.ReadableID(id)})
	if len(byID) != len(hits) {
		t.Errorf("search by ID: %d hits, by name %d", len(byID), len(hits))
	}
	failed, _ := col.Search(collect.Query{Terminal: "ward1-t1", Types: []kiosk.Event{kiosk.EventSignInFailed}})
	if len(failed) == 0 {
		t.Fatal("no failed sign-ins at ward1-t1")
	}
	for _, h := range failed {
		if h.Terminal != "ward1-t1" || h.Entry.Type != "sign-in-failed" {
			t.Fatalf("hit %+v", h)
		}
	}
	all, _ := col.Search(collect.Query{Limit: 1 << 20})
	mid, _ := time.Parse(time.RFC3339Nano, all[len(all)/2].Entry.Time)
	late, _ := col.Search(collect.Query{From: mid, Limit: 1 << 20})
	if len(late) == 0 || len(late) >= len(all) {
		t.Errorf("from the middle: %d of %d", len(late), len(all))
	}
	for _, h := range late {
		if at, _ := time.Parse(time.RFC3339Nano, h.Entry.Time); at.Before(mid) {
			t.Fatalf("hit at %s before %s", at, mid)
		}
	}
}

func TestATamperedEntryInEtcdIsRefused(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := audittest.Client(t, c.Endpoints())
	defer cl.Close()
	tm := audittest.Open(t, t.TempDir(), "t1")
	last := tm.Append(t, 60)
	sh := shipper(t, tm, cl)
	waitFor(t, 20*time.Second, "shipped", func() bool {
		r, _ := cl.Get(context.Background(), fleet.AuditHeadKey("t1"))
		return len(r.Kvs) == 1 && mustHead(t, r.Kvs[0].Value) == last
	})
	sh.stop()
	// Entry 30 says another person signed in, its hash left as it was.
	const bad = 30
	key := fleet.AuditKey("t1", bad)
	r, err := cl.Get(context.Background(), key)
	if err != nil || len(r.Kvs) != 1 {
		t.Fatal(err)
	}
	var w auditfile.Wire
	if err := cbor.Unmarshal(r.Kvs[0].Value, &w); err != nil {
		t.Fatal(err)
	}
	w.UserName = "someone-else"
	v, _ := cbor.Marshal(w)
	if _, err := cl.Put(context.Background(), key, string(v)); err != nil {
		t.Fatal(err)
	}
	var al alarms
	arc := t.TempDir()
	col, _ := collector(t, cl, arc, collect.Options{Alarm: al.add, Batch: 7})
	waitFor(t, 20*time.Second, "an alarm", func() bool { return len(al.list()) > 0 })
	a := al.list()[0]
	if a.Event != kiosk.EventAuditChainBroken || a.Terminal != "t1" || a.Seq != bad || a.Reason != "hash" {
		t.Fatalf("alarm %+v", a)
	}
	st := col.Status()["t1"]
	if st.Stopped == nil || st.Last != bad-1 {
		t.Fatalf("status %+v, want stopped after entry %d", st, bad-1)
	}
	if ch := verifyFile(t, arc, "t1"); ch.Last != bad-1 {
		t.Fatalf("archive ends at %d", ch.Last)
	}
	waitFor(t, 10*time.Second, "the archived entries deleted from etcd, the refused ones kept", func() bool {
		return shippedLeft(t, cl, "t1") == int64(last-bad+1)
	})
}

func mustHead(t testing.TB, v []byte) uint64 {
	h, err := fleet.DecodeAuditHead(v)
	if err != nil {
		t.Fatal(err)
	}
	return h.Seq
}

func TestARestartResumesFromTheArchiveCutsATornLineAndDeletesLeftovers(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := audittest.Client(t, c.Endpoints())
	defer cl.Close()
	tm := audittest.Open(t, t.TempDir(), "t1")
	first := tm.Append(t, 50)
	shipper(t, tm, cl)
	waitFor(t, 20*time.Second, "shipped", func() bool { return shippedLeft(t, cl, "t1") == int64(first) })
	kept, err := cl.Get(context.Background(), fleet.AuditKey("t1", 10))
	if err != nil || len(kept.Kvs) != 1 {
		t.Fatal(err)
	}
	arc := t.TempDir()
	var al alarms
	col, r := collector(t, cl, arc, collect.Options{Alarm: al.add})
	waitFor(t, 20*time.Second, "archived", func() bool { return archived(col, "t1", first) })
	waitFor(t, 10*time.Second, "deleted from etcd", func() bool { return shippedLeft(t, cl, "t1") == 0 })
	r.stop()
	col.Close()
	// A delete that never happened: entry 10 is in etcd again, as
	// archived.
	if _, err := cl.Put(context.Background(), string(kept.Kvs[0].Key), string(kept.Kvs[0].Value)); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(arc, "t1.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":999,"time":"20`) // a crash in mid-write
	f.Close()
	last := tm.Append(t, 70)
	col2, _ := collector(t, cl, arc, collect.Options{Alarm: al.add})
	waitFor(t, 20*time.Second, "archived after the restart", func() bool { return archived(col2, "t1", last) })
	if ch := verifyFile(t, arc, "t1"); ch.First != 1 || ch.Last != last || ch.Entries != int(last) {
		t.Fatalf("archive %+v", ch)
	}
	waitFor(t, 10*time.Second, "etcd emptied, the leftover entry 10 included", func() bool { return shippedLeft(t, cl, "t1") == 0 })
	if a := al.list(); len(a) > 0 {
		t.Errorf("alarms: %+v", a)
	}
}

func TestAForkIsRefusedByTheCollector(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := audittest.Client(t, c.Endpoints())
	defer cl.Close()
	tm := audittest.Open(t, t.TempDir(), "t1")
	tm.Append(t, 20)
	tm.Close(t)
	backup, err := os.ReadFile(tm.Path)
	if err != nil {
		t.Fatal(err)
	}
	tm.Reopen(t)
	last := tm.Append(t, 20)
	sh := shipper(t, tm, cl)
	var al alarms
	arc := t.TempDir()
	col, _ := collector(t, cl, arc, collect.Options{Alarm: al.add})
	waitFor(t, 20*time.Second, "archived", func() bool { return archived(col, "t1", last) })
	waitFor(t, 10*time.Second, "deleted from etcd", func() bool { return shippedLeft(t, cl, "t1") == 0 })
	sh.stop()
	// The terminal comes back from its backup, and its shipped head is
	// gone from the cluster (a careless fix), so its shipper starts over
	// with entries the archive already holds in another version.
	tm.Close(t)
	if err := os.WriteFile(tm.Path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	tm.Reopen(t)
	tm.Append(t, 30)
	if _, err := cl.Delete(context.Background(), fleet.AuditHeadKey("t1")); err != nil {
		t.Fatal(err)
	}
	shipper(t, tm, cl)
	waitFor(t, 20*time.Second, "an alarm", func() bool { return len(al.list()) > 0 })
	a := al.list()[0]
	if a.Event != kiosk.EventAuditChainBroken || a.Reason != "fork" {
		t.Fatalf("alarm %+v", a)
	}
	if ch := verifyFile(t, arc, "t1"); ch.Last != last {
		t.Fatalf("archive ends at %d, want %d", ch.Last, last)
	}
}

func TestAForkATerminalReportsIsAlarmedAtTheCollector(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := audittest.Client(t, c.Endpoints())
	defer cl.Close()
	tm := audittest.Open(t, t.TempDir(), "t1")
	tm.Append(t, 20)
	tm.Close(t)
	backup, err := os.ReadFile(tm.Path)
	if err != nil {
		t.Fatal(err)
	}
	tm.Reopen(t)
	last := tm.Append(t, 20)
	sh := shipper(t, tm, cl)
	var al alarms
	arc := t.TempDir()
	col, _ := collector(t, cl, arc, collect.Options{Alarm: al.add})
	waitFor(t, 20*time.Second, "archived", func() bool { return archived(col, "t1", last) })
	sh.stop()
	tm.Close(t)
	if err := os.WriteFile(tm.Path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	tm.Reopen(t)
	tm.Append(t, 30)
	shipper(t, tm, cl)
	waitFor(t, 20*time.Second, "an alarm", func() bool { return len(al.list()) > 0 })
	a := al.list()[0]
	if a.Event != kiosk.EventAuditFork || a.Terminal != "t1" || a.Reason != "differs" {
		t.Fatalf("alarm %+v", a)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(al.list()); n != 1 {
		t.Errorf("%d alarms for one fork", n)
	}
	if ch := verifyFile(t, arc, "t1"); ch.Last != last {
		t.Fatalf("archive ends at %d, want %d", ch.Last, last)
	}
}
