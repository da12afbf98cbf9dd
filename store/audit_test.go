package store_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

// openAt opens the store at path for a test that closes and reopens it.
func openAt(t *testing.T, path string, clock *storetest.Clock) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{Now: clock.Now, LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return db
}

// openUnchecked opens without Open's full check, to reach VerifyChain and
// Prune on a file that Open would refuse.
func openUnchecked(t *testing.T, path string, clock *storetest.Clock) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{Now: clock.Now, LockTimeout: time.Second, SkipCheck: true})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return db
}

// tamper edits the closed file at path with bbolt directly, as someone with
// write access to the disk could.
func tamper(t *testing.T, path string, fn func(audit, meta *bolt.Bucket) error) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(func(tx *bolt.Tx) error {
		return fn(tx.Bucket([]byte("audit")), tx.Bucket([]byte("meta")))
	}); err != nil {
		t.Fatal(err)
	}
}

// sealed appends the CRC-32C seal every stored value carries (see
// store/doc.go), as someone editing the file on purpose would.
func sealed(k, body []byte) []byte {
	tab := crc32.MakeTable(crc32.Castagnoli)
	sum := crc32.Update(crc32.Checksum(k, tab), tab, body)
	return binary.BigEndian.AppendUint32(bytes.Clone(body), sum)
}

func key(seq uint64) []byte {
	return []byte{byte(seq >> 56), byte(seq >> 48), byte(seq >> 40), byte(seq >> 32), byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq)}
}

// logWith makes a store holding n appended wipe events after the
// migrations' own entries and returns its path and the last sequence number.
func logWith(t *testing.T, n int) (string, *storetest.Clock, uint64) {
	t.Helper()
	clock := storetest.NewClock(storetest.Epoch)
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openAt(t, path, clock)
	defer db.Close()
	var last uint64
	for i := 0; i < n; i++ {
		clock.Advance(time.Minute)
		seq, err := db.Append(store.AuditEvent{Type: kiosk.EventWipe, Terminal: "t1", SessionID: uint64(i + 1), Items: []string{fmt.Sprintf("/run/passkiosk/s%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		if seq != last+1 && last != 0 {
			t.Fatalf("sequence %d after %d", seq, last)
		}
		last = seq
	}
	st, err := db.VerifyChain()
	if err != nil || st.Head != last || st.Entries != int(last) {
		t.Fatalf("fresh chain: %+v, %v (last %d)", st, err, last)
	}
	return path, clock, last
}

func TestVerifyChainDetectsTampering(t *testing.T) {
	// A deliberate editor knows the format: it rewrites the CBOR and
	// recomputes the CRC seal, so only the chain can catch it.
	rewrite := func(v []byte, edit func(m map[uint64]any)) []byte {
		var m map[uint64]any
		if err := cbor.Unmarshal(v[:len(v)-4], &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		out, err := cbor.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	put := func(a *bolt.Bucket, seq uint64, body []byte) error { return a.Put(key(seq), sealed(key(seq), body)) }
	cases := []struct {
		name  string
		edit  func(audit, meta *bolt.Bucket) error
		wants string
	}{
		{"modified field", func(a, _ *bolt.Bucket) error {
			return put(a, 4, rewrite(a.Get(key(4)), func(m map[uint64]any) { m[5] = "elsewhere" }))
		}, "entry 4 was modified"},
		{"modified and rehashed alone", func(a, _ *bolt.Bucket) error {
			// Changing an entry and its stored hash still breaks the
			// link to the entry after it.
			return put(a, 4, rewrite(a.Get(key(4)), func(m map[uint64]any) { m[14] = bytes.Repeat([]byte{1}, 32) }))
		}, "entry 4 was modified"},
		{"flipped byte", func(a, _ *bolt.Bucket) error {
			v := append([]byte(nil), a.Get(key(6))...)
			v[len(v)-40] ^= 0x01
			return a.Put(key(6), v)
		}, "entry 6: decode audit event: store-corrupt: value under key 0000000000000006 is damaged"},
		{"deleted middle", func(a, _ *bolt.Bucket) error { return a.Delete(key(5)) }, "entry 5 missing"},
		{"deleted first", func(a, _ *bolt.Bucket) error { return a.Delete(key(1)) }, "entry 1 missing"},
		{"deleted tail", func(a, _ *bolt.Bucket) error { return a.Delete(key(8)) }, "entries after 7 are missing"},
		{"reordered", func(a, _ *bolt.Bucket) error {
			v3, v4 := rewrite(a.Get(key(3)), func(map[uint64]any) {}), rewrite(a.Get(key(4)), func(map[uint64]any) {})
			if err := put(a, 3, v4); err != nil {
				return err
			}
			return put(a, 4, v3)
		}, "entry 3 holds entry 4"},
		{"reordered without resealing", func(a, _ *bolt.Bucket) error {
			v3, v4 := bytes.Clone(a.Get(key(3))), bytes.Clone(a.Get(key(4)))
			if err := a.Put(key(3), v4); err != nil {
				return err
			}
			return a.Put(key(4), v3)
		}, "entry 3: decode audit event: store-corrupt: value under key 0000000000000003 is damaged"},
		{"reordered with sequence rewritten", func(a, _ *bolt.Bucket) error {
			v3 := rewrite(a.Get(key(4)), func(m map[uint64]any) { m[1] = uint64(3) })
			v4 := rewrite(a.Get(key(3)), func(m map[uint64]any) { m[1] = uint64(4) })
			if err := put(a, 3, v3); err != nil {
				return err
			}
			return put(a, 4, v4)
		}, "entry 3 does not follow entry 2"},
		{"anchor moved", func(_, m *bolt.Bucket) error {
			p, _ := cbor.Marshal(map[uint64]any{1: uint64(2), 2: make([]byte, 32)})
			return m.Put([]byte("audit-anchor"), sealed([]byte("audit-anchor"), p))
		}, "entry 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, clock, last := logWith(t, 5) // after the three migrations
			if last != 8 {
				t.Fatalf("log ends at %d, cases assume 8", last)
			}
			tamper(t, path, tc.edit)
			db := openUnchecked(t, path, clock)
			_, err := db.VerifyChain()
			db.Close()
			mustKind(t, err, kiosk.KindStoreCorrupt)
			if !strings.Contains(err.Error(), tc.wants) {
				t.Errorf("error %q does not say %q", err, tc.wants)
			}
			// Open runs the same verification and refuses the file.
			_, err = store.Open(path, store.Options{Now: clock.Now})
			mustKind(t, err, kiosk.KindStoreCorrupt)
		})
	}
}

func TestPruneByCountKeepsChainVerifiable(t *testing.T) {
	path, clock, last := logWith(t, 40)
	db := openAt(t, path, clock)
	n, err := db.Prune(store.Retention{MaxEntries: 10}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := int(last) - 10; n != want {
		t.Errorf("pruned %d, want %d", n, want)
	}
	st, err := db.VerifyChain()
	if err != nil {
		t.Fatal(err)
	}
	// Ten kept entries and the audit-pruned entry after them.
	if st.Anchor != last-10 || st.Head != last+1 || st.Entries != 11 {
		t.Errorf("chain after prune = %+v", st)
	}
	evs, _ := db.Events(st.Head, 1)
	if len(evs) != 1 || evs[0].Type != kiosk.EventAuditPruned || evs[0].Detail["anchor-seq"] != fmt.Sprint(st.Anchor) {
		t.Errorf("prune entry = %+v", evs)
	}
	// Pruning again keeps the chain whole, and deleting the first kept
	// entry is still caught against the anchor.
	if _, err := db.Prune(store.Retention{MaxEntries: 5}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	st, err = db.VerifyChain()
	if err != nil || st.Entries != 6 {
		t.Fatalf("second prune: %+v, %v", st, err)
	}
	db.Close()
	tamper(t, path, func(a, _ *bolt.Bucket) error { return a.Delete(key(st.Anchor + 1)) })
	db = openUnchecked(t, path, clock)
	defer db.Close()
	_, err = db.VerifyChain()
	mustKind(t, err, kiosk.KindStoreCorrupt)
}

func TestPruneByAge(t *testing.T) {
	path, clock, last := logWith(t, 30) // one entry a minute
	db := openAt(t, path, clock)
	defer db.Close()
	n, err := db.Prune(store.Retention{MaxAge: 10*time.Minute + time.Second}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := db.Events(0, 1000)
	for _, e := range evs[:len(evs)-1] {
		if clock.Now().Sub(e.Time) > 10*time.Minute+time.Second {
			t.Errorf("entry %d from %s kept", e.Seq, e.Time)
		}
	}
	if n == 0 || uint64(n) >= last {
		t.Errorf("pruned %d of %d", n, last)
	}
	if _, err := db.VerifyChain(); err != nil {
		t.Fatal(err)
	}
}

// Entries a fleet terminal has not shipped stay, whatever the limits:
// pruning stops at KeepFrom, and the chain still verifies.
func TestPruneKeepsWhatIsNotShipped(t *testing.T) {
	path, clock, last := logWith(t, 40)
	db := openAt(t, path, clock)
	defer db.Close()
	n, err := db.Prune(store.Retention{MaxEntries: 5, KeepFrom: 21}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 {
		t.Errorf("pruned %d, want the 20 before entry 21", n)
	}
	evs, _ := db.Events(0, 1000)
	if len(evs) == 0 || evs[0].Seq != 21 || uint64(len(evs)) != last-20+1 {
		t.Fatalf("kept %d entries from %d; want every one from 21 and the prune entry", len(evs), evs[0].Seq)
	}
	if _, err := db.VerifyChain(); err != nil {
		t.Fatal(err)
	}
	// Nothing shipped yet (KeepFrom 1): nothing goes.
	if n, err := db.Prune(store.Retention{MaxEntries: 1, KeepFrom: 1}, time.Time{}); err != nil || n != 0 {
		t.Fatalf("with nothing shipped: pruned %d, %v", n, err)
	}
}

func TestPruneRefusesToHideTampering(t *testing.T) {
	path, clock, _ := logWith(t, 10)
	tamper(t, path, func(a, _ *bolt.Bucket) error { return a.Delete(key(3)) })
	db := openUnchecked(t, path, clock)
	defer db.Close()
	_, err := db.Prune(store.Retention{MaxEntries: 2}, time.Time{})
	mustKind(t, err, kiosk.KindStoreCorrupt)
}

func TestExportCarriesTheChain(t *testing.T) {
	path, clock, last := logWith(t, 1200) // more than one export batch
	db := openAt(t, path, clock)
	defer db.Close()
	if _, err := db.Append(store.AuditEvent{Type: kiosk.EventSignInFailed, Reason: kiosk.KindPINInvalid, UserID: []byte{0xff, 0xfe}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := db.Export(&buf, 0, "Ward 7", time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != int(last)+2 {
		t.Errorf("exported %d lines, want a header and %d entries", n, last+1)
	}
	sc := bufio.NewScanner(&buf)
	sc.Scan() // the header
	prev := hex.EncodeToString(make([]byte, 32))
	var seq uint64
	var line map[string]any
	for sc.Scan() {
		line = nil
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %d: %v", seq+1, err)
		}
		seq++
		if line["seq"] != float64(seq) || line["prev"] != prev {
			t.Fatalf("line %d: seq %v prev %v, want prev %s", seq, line["seq"], line["prev"], prev)
		}
		prev = line["hash"].(string)
	}
	if line["type"] != "sign-in-failed" || line["reason"] != "pin-invalid" || line["user_id"] != kiosk.ReadableID([]byte{0xff, 0xfe}) {
		t.Errorf("last line = %v", line)
	}
	// The export ends at the head AuditHead reads.
	seqHead, hash, err := db.AuditHead()
	if err != nil || seqHead != seq || hex.EncodeToString(hash) != prev {
		t.Errorf("head %d %x, %v; the export ends at %d %s", seqHead, hash, err, seq, prev)
	}
}

func TestAuditHeadReadsTheHeadWithoutWalkingTheLog(t *testing.T) {
	path, clock, last := logWith(t, 20)
	db := openAt(t, path, clock)
	check := func(when string) {
		t.Helper()
		seq, hash, err := db.AuditHead()
		st, verr := db.VerifyChain()
		if err != nil || verr != nil || seq != st.Head || !bytes.Equal(hash, st.Hash) {
			t.Fatalf("%s: head %d %x, %v; verified chain %+v, %v", when, seq, hash, err, st, verr)
		}
	}
	check("after appends")
	if _, err := db.Prune(store.Retention{MaxEntries: 1}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	check("after a prune")
	db.Close()

	// It reads meta/audit-head alone: a tampered entry is VerifyChain's
	// to find, and the head stays what the file names.
	storetest.RewriteAuditEntry(t, path, last+1, func(m map[uint64]any) { m[4] = "someone else" })
	db = openUnchecked(t, path, clock)
	defer db.Close()
	seq, _, err := db.AuditHead()
	if err != nil || seq != last+1 {
		t.Fatalf("head of the tampered log: %d, %v", seq, err)
	}
	_, err = db.VerifyChain()
	mustKind(t, err, kiosk.KindStoreCorrupt)
}

func TestAppendRefusesBadEvents(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	_, err := db.Append(store.AuditEvent{Type: 999})
	mustKind(t, err, kiosk.KindMalformed)
	_, err = db.Append(store.AuditEvent{Type: kiosk.EventWipe, Items: make([]string, store.MaxEventItems+1)})
	mustKind(t, err, kiosk.KindMalformed)
	_, err = db.Append(store.AuditEvent{Type: kiosk.EventWipe, Items: []string{strings.Repeat("x", store.MaxEventBytes)}})
	mustKind(t, err, kiosk.KindMalformed)
	if _, err := db.VerifyChain(); err != nil {
		t.Fatal(err)
	}
}
