package store_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

// holdLock is the child that keeps the store open until its stdin closes.
func holdLock(path string) int {
	db, err := store.Open(path, store.Options{})
	if err != nil {
		os.Stderr.WriteString("hold-lock: " + err.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString("ready\n")
	var buf [1]byte
	os.Stdin.Read(buf[:])
	db.Close()
	return 0
}

func TestOpenWhileAnotherProcessHoldsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passkiosk.db")
	cmd, out, in := child(t, "hold-lock", path)
	if line, err := readLine(out, 20*time.Second); err != nil || line != "ready\n" {
		cmd.Process.Kill()
		t.Fatalf("child: %q, %v", line, err)
	}
	_, err := store.Open(path, store.Options{LockTimeout: 200 * time.Millisecond})
	mustKind(t, err, kiosk.KindStoreLocked)
	if !store.OutOfService(err) {
		t.Errorf("OutOfService(%v) = false", err)
	}
	// The isolated check meets the same lock and says so.
	_, err = store.Open(path, store.Options{LockTimeout: 200 * time.Millisecond, IsolateCheck: true})
	mustKind(t, err, kiosk.KindStoreLocked)
	if !errors.Is(err, kiosk.ErrStoreLocked) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	db, err := store.Open(path, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("after the child let go: %v", err)
	}
	db.Close()
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	fi, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(db.Path() + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
	if v, err := db.Schema(); err != nil || v != store.SchemaVersion() {
		t.Errorf("schema %d, %v", v, err)
	}
	_, err = store.Open(filepath.Join(t.TempDir(), "x.db"), store.Options{LockTimeout: -1})
	mustKind(t, err, kiosk.KindMalformed)
}

func TestOpenTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passkiosk.db")
	db := openAt(t, path, storetest.NewClock(storetest.Epoch))
	db.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, storetest.NewClock(storetest.Epoch))
	db.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after reopen", fi.Mode().Perm())
	}
}

// populated writes a store with users, credentials, a policy, sessions and a
// few hundred audit entries (several pages), closes it and returns its bytes.
func populated(t *testing.T) (string, []byte) {
	t.Helper()
	clock := storetest.NewClock(storetest.Epoch)
	path := filepath.Join(t.TempDir(), "passkiosk.db")
	db := openAt(t, path, clock)
	for i := 0; i < 20; i++ {
		u := storetest.User(string(rune('a'+i)) + "-user")
		u.DisplayName = "Zebra Unique " + u.Name
		if err := db.PutUser(u, store.Change{Actor: "admin"}); err != nil {
			t.Fatal(err)
		}
		if err := db.AddCredential(storetest.Roaming(u.Name+"-key", string(u.ID)), store.Change{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.PutPolicy(1, bytes.Repeat([]byte("p"), 300), 0, store.Change{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if _, _, err := db.RecordSignIn(store.SignIn{CredentialID: []byte("a-user-key"), Counter: uint32(i + 1), Terminal: "t1"}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	// Keep the state before the last transaction, for the test that
	// damages meta pages.
	prev, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".prev", prev, 0o600); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, clock)
	if _, _, err := db.RecordSignIn(store.SignIn{CredentialID: []byte("a-user-key"), Counter: 301, Terminal: "t1"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

func TestOpenRefusesTruncatedFile(t *testing.T) {
	path, orig := populated(t)
	want := mustContents(t, path)
	truncatedOK := 0
	for _, size := range []int{len(orig) - 4096, len(orig) / 2, 3 * 4096, 4096, 100, 0} {
		if err := os.WriteFile(path, orig[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(path, store.Options{})
		if err == nil {
			// Only the file's unused tail went (bbolt grows files in
			// steps): every record must still be there.
			db.Close()
			if got := mustContents(t, path); got != want {
				t.Errorf("truncated to %d of %d bytes: opened with changed records", size, len(orig))
			}
			truncatedOK++
			continue
		}
		if kiosk.KindOf(err) != kiosk.KindStoreCorrupt || !store.OutOfService(err) {
			t.Errorf("truncated to %d of %d bytes: %v", size, len(orig), err)
		}
	}
	if truncatedOK > 1 {
		t.Errorf("%d truncations opened; only the one inside the unused tail should", truncatedOK)
	}
}

func TestOpenRefusesFlippedRecordBytes(t *testing.T) {
	path, orig := populated(t)
	i := bytes.Index(orig, []byte("Zebra Unique k-user"))
	if i < 0 {
		t.Fatal("record not found in file")
	}
	for _, off := range []int{i, i + 6, i + 18} {
		b := bytes.Clone(orig)
		b[off] ^= 0x20
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(path, store.Options{})
		mustKind(t, err, kiosk.KindStoreCorrupt)
	}
}

// TestOpenSurvivesRandomDamage flips bytes at random places in a real file.
// Open (with the check in a child process, as the appliance runs it) must
// refuse it with KindStoreCorrupt or open it; once open, every read must
// give the original records (or those of the transaction before, when a
// meta page was hit) or fail with KindStoreCorrupt. Never a crash, another
// kind, or a silently different record. PASSKIOSK_DAMAGE_ROUNDS and
// PASSKIOSK_DAMAGE_SEED widen the search.
func TestOpenSurvivesRandomDamage(t *testing.T) {
	path, orig := populated(t)
	want, wantPrev := mustContents(t, path), mustContents(t, path+".prev")
	previous, onRead := 0, 0
	rounds, seed := 200, uint64(5)
	if testing.Short() || raceBuild {
		rounds = 30
	}
	if s := os.Getenv("PASSKIOSK_DAMAGE_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("PASSKIOSK_DAMAGE_ROUNDS=%q", s)
		}
		rounds = n
	}
	if s := os.Getenv("PASSKIOSK_DAMAGE_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	refused := 0
	for r := 0; r < rounds; r++ {
		b := bytes.Clone(orig)
		for n := 1 + rng.IntN(3); n > 0; n-- {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(path, store.Options{IsolateCheck: true})
		if err != nil {
			if kiosk.KindOf(err) != kiosk.KindStoreCorrupt {
				t.Fatalf("round %d: %v", r, err)
			}
			refused++
			continue
		}
		db.Close()
		got, err := contents(path)
		if err != nil {
			// Damage that Open's check did not see but a later read
			// did: refused then, never read as a different record.
			if kiosk.KindOf(err) != kiosk.KindStoreCorrupt {
				t.Fatalf("round %d: read after open: %v", r, err)
			}
			onRead++
			continue
		}
		switch got {
		case want:
		case wantPrev:
			// The damage hit the newest meta page and bbolt fell back
			// to the other one: the state of the transaction before,
			// exactly as after a crash during the last commit.
			previous++
		default:
			t.Fatalf("round %d: opened with changed records", r)
		}
	}
	t.Logf("%d of %d damaged files refused at open, %d on a later read, %d opened at the previous transaction; the rest were damaged only where no record lives", refused, rounds, onRead, previous)
}

// contents summarises every record through the public API. It returns the
// first error, which for a damaged file must be KindStoreCorrupt.
func contents(path string) (string, error) {
	db, err := store.Open(path, store.Options{IsolateCheck: true})
	if err != nil {
		return "", err
	}
	defer db.Close()
	var sb strings.Builder
	users, err := db.Users()
	if err != nil {
		return "", err
	}
	for _, u := range users {
		sb.WriteString(u.Name + "|" + u.DisplayName + "|" + u.State.String() + "\n")
		cs, err := db.CredentialsOf(u.ID)
		if err != nil {
			return "", err
		}
		for _, c := range cs {
			sb.WriteString(string(c.ID) + "|" + c.Kind.String() + "|" + strconv.Itoa(int(c.Counter)) + "\n")
		}
	}
	p, err := db.CurrentPolicy()
	if err != nil {
		return "", err
	}
	sb.WriteString(string(p.Data) + "\n")
	st, err := db.VerifyChain()
	if err != nil {
		return "", err
	}
	sb.WriteString(hex.EncodeToString(st.Hash))
	return sb.String(), nil
}

func mustContents(t *testing.T, path string) string {
	t.Helper()
	c, err := contents(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenRefusesEmptyFileAndNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passkiosk.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(path, store.Options{})
	mustKind(t, err, kiosk.KindStoreCorrupt)

	path, _ = populated(t)
	tamper(t, path, func(_, meta *bolt.Bucket) error {
		return meta.Put([]byte("schema"), key(store.SchemaVersion()+1))
	})
	_, err = store.Open(path, store.Options{})
	mustKind(t, err, kiosk.KindStoreCorrupt)
	if !strings.Contains(err.Error(), "schema") {
		t.Errorf("error %q does not name the schema", err)
	}
}

func TestIsolatedCheckReportsDamageAndDeath(t *testing.T) {
	path, orig := populated(t)
	db, err := store.Open(path, store.Options{IsolateCheck: true})
	if err != nil {
		t.Fatalf("healthy file: %v", err)
	}
	db.Close()

	i := bytes.Index(orig, []byte("Zebra Unique k-user"))
	b := bytes.Clone(orig)
	b[i] ^= 0x20
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(path, store.Options{IsolateCheck: true})
	mustKind(t, err, kiosk.KindStoreCorrupt)
	if !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("verdict %q does not carry the checker's reason", err)
	}

	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PASSKIOSK_TEST_CHECKER_DIES", "1")
	_, err = store.Open(path, store.Options{IsolateCheck: true})
	mustKind(t, err, kiosk.KindStoreCorrupt)
	if !strings.Contains(err.Error(), "died") {
		t.Errorf("error %q does not say the checker died", err)
	}
}
