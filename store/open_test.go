package store_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
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
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

func TestOpenRefusesTruncatedFile(t *testing.T) {
	path, orig := populated(t)
	want := contents(t, path)
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
			if got := contents(t, path); got != want {
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
// Open must either refuse it with KindStoreCorrupt or, when the damage hit
// space no record uses, open it with every record intact; it must never
// panic or report another kind.
func TestOpenSurvivesRandomDamage(t *testing.T) {
	path, orig := populated(t)
	want := contents(t, path)
	rng := rand.New(rand.NewPCG(uint64(len(orig)), 5))
	refused := 0
	const rounds = 300
	for r := 0; r < rounds; r++ {
		b := bytes.Clone(orig)
		for n := 1 + rng.IntN(3); n > 0; n-- {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(path, store.Options{})
		if err != nil {
			if kiosk.KindOf(err) != kiosk.KindStoreCorrupt {
				t.Fatalf("round %d: %v", r, err)
			}
			refused++
			continue
		}
		db.Close()
		if got := contents(t, path); got != want {
			t.Fatalf("round %d: opened with changed records:\n%s\nwant\n%s", r, got, want)
		}
	}
	t.Logf("%d of %d damaged files refused; the rest were damaged only where no record lives", refused, rounds)
}

// contents summarises every record through the public API.
func contents(t *testing.T, path string) string {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sb strings.Builder
	users, err := db.Users()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		sb.WriteString(u.Name + "|" + u.DisplayName + "|" + u.State.String() + "\n")
		cs, err := db.CredentialsOf(u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			sb.WriteString(string(c.ID) + "|" + c.Kind.String() + "|" + string(rune(c.Counter)) + "\n")
		}
	}
	p, err := db.CurrentPolicy()
	if err != nil {
		t.Fatal(err)
	}
	sb.WriteString(string(p.Data) + "\n")
	st, err := db.VerifyChain()
	if err != nil {
		t.Fatal(err)
	}
	sb.WriteString(string(st.Hash))
	return sb.String()
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
